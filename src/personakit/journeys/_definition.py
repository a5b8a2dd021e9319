"""Journey definitions: JSON validated by ``journey.schema.json``, then checked for meaning.

A definition that names an unknown template, channel, trait, event kind or segment is refused
with every problem listed; :meth:`~personakit.journeys.Journeys.load` activates a set of
definitions only when all of them pass, so a bad one leaves nothing of the set active.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any, Final

from attrs import frozen

from personakit._codec import canonical_json, check_value, loads_input
from personakit.exceptions import InvalidInput, Problem
from personakit.schema import validate

__all__ = ["CHANNELS", "Condition", "Journey", "Step", "Trigger", "parse_journey"]

#: The contact channels a journey may use; each has its own marketing purpose.
CHANNELS: Final = ("email", "sms", "push")
_COMPARE: Final = ("gt", "gte", "lt", "lte")


@frozen(kw_only=True)
class Condition:
    """One test on an event property (trigger) or a subject trait (step)."""

    field: str
    op: str
    value: Any = None

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the condition holds over ``values`` (a property or trait mapping)."""
        present = self.field in values and values[self.field] is not None
        if self.op == "exists":
            return present
        if not present:
            return False
        actual = values[self.field]
        if self.op == "eq":
            return bool(actual == self.value)
        if self.op == "ne":
            return bool(actual != self.value)
        numbers = (int, float)
        if not (
            isinstance(actual, numbers)
            and isinstance(self.value, numbers)
            and not isinstance(actual, bool)
        ):
            return False  # an order needs two numbers: anything else does not hold
        return {
            "gt": actual > self.value,
            "gte": actual >= self.value,
            "lt": actual < self.value,
            "lte": actual <= self.value,
        }[self.op]


@frozen(kw_only=True)
class Trigger:
    """What enters a subject into the journey."""

    type: str
    event: str | None = None
    conditions: tuple[Condition, ...] = ()
    segment: str | None = None
    on: str = "entered"
    trait: str | None = None
    days_before: int = 0
    hour: int = 9
    days: int = 0


@frozen(kw_only=True)
class Step:
    """One message of the journey: after ``delay`` from the previous step, if conditions hold."""

    id: str
    template: str
    delay: timedelta
    conditions: tuple[Condition, ...] = ()
    payload: Mapping[str, Any]


@frozen(kw_only=True)
class Journey:
    """A validated journey definition (see ``docs/journeys.md``)."""

    id: str
    trigger: Trigger
    steps: tuple[Step, ...]
    channels: tuple[str, ...]
    exit: tuple[str, ...]
    reentry: str
    reentry_days: int
    holdout: float
    doc: Mapping[str, Any]


@frozen(kw_only=True)
class Known:
    """What a definition may name: the kit's templates, traits, event kinds and segments."""

    templates: Collection[str]
    traits: Collection[str]
    events: Collection[str]
    segments: Collection[str]


def parse_journey(raw: object, known: Known, *, where: str = "$") -> Journey:
    """Validate ``raw`` (a mapping or JSON text); :class:`InvalidInput` lists every problem."""
    doc: Any = raw
    if isinstance(raw, (str, bytes)):
        doc = loads_input(raw)
    check_value(doc, where=where)
    problems = validate(doc, "journey", where=where)
    if problems:
        raise InvalidInput("invalid journey", problems)
    problems = _meaning(doc, known, where)
    if problems:
        raise InvalidInput("invalid journey", problems)
    return _build(doc)


def _meaning(doc: Mapping[str, Any], known: Known, where: str) -> list[Problem]:
    problems: list[Problem] = []
    trigger = doc["trigger"]
    kind = trigger["type"]
    needed = {"event": (), "segment": ("segment",), "date": ("trait",), "inactivity": ()}
    problems.extend(
        Problem(where=f"{where}.trigger.{name}", what=f"required for a {kind} trigger")
        for name in needed[kind]
        if name not in trigger
    )
    if kind == "inactivity" and "days" not in trigger:
        problems.append(Problem(where=f"{where}.trigger.days", what="required for inactivity"))
    if "event" in trigger and trigger["event"] not in known.events:
        problems.append(Problem(where=f"{where}.trigger.event", what="unknown event kind"))
    if "segment" in trigger and trigger["segment"] not in known.segments:
        problems.append(Problem(where=f"{where}.trigger.segment", what="unknown segment"))
    if "trait" in trigger and trigger["trait"] not in known.traits:
        problems.append(Problem(where=f"{where}.trigger.trait", what="unknown trait"))
    problems.extend(_condition_problems(trigger.get("conditions", []), "property", known, where))
    seen: set[str] = set()
    for index, step in enumerate(doc["steps"]):
        at = f"{where}.steps[{index}]"
        if step["id"] in seen:
            problems.append(Problem(where=f"{at}.id", what="repeats another step's id"))
        seen.add(step["id"])
        if step["template"] not in known.templates:
            problems.append(Problem(where=f"{at}.template", what="unknown template"))
        problems.extend(_condition_problems(step.get("conditions", []), "trait", known, at))
    problems.extend(
        Problem(where=f"{where}.channels[{index}]", what="unknown channel (email, sms, push)")
        for index, channel in enumerate(doc.get("channels", []))
        if channel not in CHANNELS
    )
    problems.extend(
        Problem(where=f"{where}.exit[{index}]", what="unknown event kind")
        for index, event in enumerate(doc.get("exit", []))
        if event not in known.events
    )
    reentry = doc.get("reentry", {})
    if reentry.get("mode") == "after_days" and "days" not in reentry:
        problems.append(Problem(where=f"{where}.reentry.days", what="required for after_days"))
    return problems


def _condition_problems(
    conditions: list[Mapping[str, Any]], field: str, known: Known, where: str
) -> list[Problem]:
    problems: list[Problem] = []
    other = "trait" if field == "property" else "property"
    for index, condition in enumerate(conditions):
        at = f"{where}.conditions[{index}]"
        if field not in condition or other in condition:
            problems.append(Problem(where=at, what=f"must name a {field} (and no {other})"))
        elif field == "trait" and condition["trait"] not in known.traits:
            problems.append(Problem(where=f"{at}.trait", what="unknown trait"))
        if condition["op"] != "exists" and "value" not in condition:
            problems.append(Problem(where=f"{at}.value", what="required for this op"))
        if condition["op"] in _COMPARE and isinstance(condition.get("value"), (str, bool)):
            problems.append(Problem(where=f"{at}.value", what="must be a number for this op"))
    return problems


def _conditions(items: list[Mapping[str, Any]]) -> tuple[Condition, ...]:
    return tuple(
        Condition(
            field=item.get("property") or item["trait"], op=item["op"], value=item.get("value")
        )
        for item in items
    )


def _build(doc: Mapping[str, Any]) -> Journey:
    trig = doc["trigger"]
    trigger = Trigger(
        type=trig["type"],
        event=trig.get("event"),
        conditions=_conditions(trig.get("conditions", [])),
        segment=trig.get("segment"),
        on=trig.get("on", "entered"),
        trait=trig.get("trait"),
        days_before=trig.get("days_before", 0),
        hour=trig.get("hour", 9),
        days=trig.get("days", 0),
    )
    steps = tuple(
        Step(
            id=step["id"],
            template=step["template"],
            delay=timedelta(
                days=step.get("delay", {}).get("days", 0),
                hours=step.get("delay", {}).get("hours", 0),
                minutes=step.get("delay", {}).get("minutes", 0),
            ),
            conditions=_conditions(step.get("conditions", [])),
            payload=dict(step.get("payload", {})),
        )
        for step in doc["steps"]
    )
    reentry = doc.get("reentry", {"mode": "after_exit"})
    return Journey(
        id=doc["id"],
        trigger=trigger,
        steps=steps,
        channels=tuple(doc.get("channels", ["email"])),
        exit=tuple(doc.get("exit", [])),
        reentry=reentry["mode"],
        reentry_days=reentry.get("days", 0),
        holdout=float(doc.get("holdout", 0.0)),
        doc=loads_input(canonical_json(doc)),  # a private copy: the caller's may change
    )
