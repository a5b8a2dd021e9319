"""Deciding one placement for one subject: the matched rule, the arm, reasons, a sentence.

The end-user sentence only ever says what the person did or declared ("Because you often buy
bread", "Because of what is in your basket"), never a segment, a score or a special category:
a rule that matched on an inference says "Picked for you". Facts whose ``known`` is False (no
consent, restricted, unknown subject) get the placement's default and exactly the Decision an
unknown subject gets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from attrs import frozen

from personakit.personalization._experiments import Arm, bucket
from personakit.personalization._facts import MISSING, Facts
from personakit.personalization._rules import Outcome, Rule, RuleSet

__all__ = [
    "DEFAULT_SENTENCE",
    "OFF_SENTENCE",
    "PICKED_SENTENCE",
    "ContextFacts",
    "Decision",
    "Expose",
    "decide_with",
]

_PERSONALIZATION: Final = "personalization"
#: The sentence when personalization is off (no consent, restricted, unknown subject).
OFF_SENTENCE: Final = "Our favourites: personalization is off"
#: The sentence when nothing personal decided (no rule matched, or the holdout).
DEFAULT_SENTENCE: Final = "Our favourites"
#: The sentence when a rule decided on something the person is not told about.
PICKED_SENTENCE: Final = "Picked for you"

# Callback that records an exposure: (experiment id, arm name or "holdout").
Expose = Callable[[str, str], None]


@frozen(kw_only=True)
class Decision:
    """What a placement shows and why.

    Attributes:
        placement: The placement decided.
        content: The content id to show; ``offer`` and ``payload`` come with it.
        rule: The id of the rule that matched, or None (the placement's default).
        experiment: The experiment the rule belongs to, or None.
        arm: The arm shown (``"holdout"`` for the holdout, which sees the default).
        reasons: Machine-readable codes: ``personalization_off``, ``no_rule_matched``,
            ``rule_matched``, ``experiment_arm``, ``holdout``, ``experiment_needs_unit``.
        sentence: A short sentence for the person.
        rules_sha256: The SHA-256 of the rule set that decided.
        trace: With ``explain=True``, every rule tried and why it did or did not match.
    """

    placement: str
    content: str
    offer: str | None = None
    payload: Mapping[str, Any] | None = None
    rule: str | None = None
    experiment: str | None = None
    arm: str | None = None
    reasons: tuple[str, ...] = ()
    sentence: str = DEFAULT_SENTENCE
    rules_sha256: str = ""
    trace: tuple[Mapping[str, Any], ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON object (for logs of the host, the CLI, an API answer)."""
        out: dict[str, Any] = {
            "placement": self.placement,
            "content": self.content,
            "offer": self.offer,
            "payload": dict(self.payload) if self.payload is not None else None,
            "rule": self.rule,
            "experiment": self.experiment,
            "arm": self.arm,
            "reasons": list(self.reasons),
            "sentence": self.sentence,
            "rules_sha256": self.rules_sha256,
        }
        if self.trace is not None:
            out["trace"] = [dict(step) for step in self.trace]
        return out


_OFF: Final = ("personalization_off",)
_NO_RULE: Final = ("no_rule_matched",)


def _plain_default(rules: RuleSet, placement: str, reasons: tuple[str, ...]) -> Decision:
    # The two answers most requests get are the same value every time: build each once.
    key = (placement, reasons)
    found: Decision | None = rules.memo.get(key)
    if found is None:
        sentence = OFF_SENTENCE if reasons is _OFF else DEFAULT_SENTENCE
        found = rules.memo[key] = _default(rules, placement, reasons, sentence)
    return found


def _default(
    rules: RuleSet, placement: str, reasons: tuple[str, ...], sentence: str, **extra: Any
) -> Decision:
    outcome = rules.placements[placement]
    return Decision(
        placement=placement,
        content=outcome.content,
        offer=outcome.offer,
        payload=outcome.payload,
        reasons=reasons,
        sentence=sentence,
        rules_sha256=rules.sha256,
        **extra,
    )


def decide_with(
    rules: RuleSet,
    facts: Facts,
    placement: str,
    *,
    mac: Callable[[bytes], bytes],
    unit: str | None,
    expose: Expose | None,
    explain: bool,
) -> Decision:
    """Decide ``placement`` (known to ``rules``) for ``facts``; see :class:`Decision`."""
    if facts.known is not True:
        if not explain:
            return _plain_default(rules, placement, _OFF)
        off: tuple[Mapping[str, Any], ...] = (
            {"rule": None, "matched": False, "why": "personalization is off"},
        )
        return _default(rules, placement, _OFF, OFF_SENTENCE, trace=off)
    steps: list[Mapping[str, Any]] = []
    for rule in rules.by_placement[placement]:
        # A rule kept for another purpose than personalization also needs that consent.
        gate = rule.gate
        matched = (gate is None or facts.has_consent(gate) is True) and rule.test(facts)
        if explain:
            steps.append(_step(rule, facts, matched=matched))
        if matched:
            trace = tuple(steps) if explain else None
            return _matched(rules, rule, facts, mac=mac, unit=unit, expose=expose, trace=trace)
    if not explain:
        return _plain_default(rules, placement, _NO_RULE)
    return _default(rules, placement, _NO_RULE, DEFAULT_SENTENCE, trace=tuple(steps))


def _step(rule: Rule, facts: Facts, *, matched: bool) -> dict[str, Any]:
    step: dict[str, Any] = {"rule": rule.id, "priority": rule.priority, "matched": matched}
    if rule.purpose != _PERSONALIZATION and facts.has_consent(rule.purpose) is not True:
        step["why"] = f"no consent for {rule.purpose}"
    else:
        step["condition"] = rule.condition.explain(facts)
    return step


def _matched(
    rules: RuleSet,
    rule: Rule,
    facts: Facts,
    *,
    mac: Callable[[bytes], bytes],
    unit: str | None,
    expose: Expose | None,
    trace: tuple[Mapping[str, Any], ...] | None,
) -> Decision:
    outcome: Outcome = rule.then
    reasons: tuple[str, ...] = ("rule_matched",)
    arm_name: str | None = None
    if rule.experiment is not None:
        experiment = rules.experiments[rule.experiment]
        if unit is None:
            return _default(
                rules,
                rule.placement,
                ("rule_matched", "experiment_needs_unit"),
                DEFAULT_SENTENCE,
                rule=rule.id,
                experiment=experiment.id,
                trace=trace,
            )
        arm: Arm | None = bucket(mac, experiment, unit)
        arm_name = "holdout" if arm is None else arm.name
        if expose is not None:
            expose(experiment.id, arm_name)
        if arm is None:
            return _default(
                rules,
                rule.placement,
                ("rule_matched", "holdout"),
                DEFAULT_SENTENCE,
                rule=rule.id,
                experiment=experiment.id,
                arm=arm_name,
                trace=trace,
            )
        reasons = ("rule_matched", "experiment_arm")
        outcome = Outcome(
            content=arm.content or outcome.content,
            offer=outcome.offer,
            payload=arm.payload if arm.payload is not None else outcome.payload,
        )
    phrase = rule.condition.first_phrase(facts) if rule.speaks else None
    if trace is None:
        # Without a trace, a match is one of few values per rule (arm x phrase): reuse them.
        key = (rule.id, arm_name, phrase)
        found: Decision | None = rules.memo.get(key)
        if found is None:
            found = rules.memo[key] = _decision(rules, rule, outcome, arm_name, reasons, phrase)
        return found
    return _decision(rules, rule, outcome, arm_name, reasons, phrase, trace=trace)


def _decision(  # noqa: PLR0917 (the parts of a matched decision)
    rules: RuleSet,
    rule: Rule,
    outcome: Outcome,
    arm_name: str | None,
    reasons: tuple[str, ...],
    phrase: str | None,
    trace: tuple[Mapping[str, Any], ...] | None = None,
) -> Decision:
    sentence = f"Because {phrase}" if phrase is not None else PICKED_SENTENCE
    return Decision(
        placement=rule.placement,
        content=outcome.content,
        offer=outcome.offer,
        payload=outcome.payload,
        rule=rule.id,
        experiment=rule.experiment,
        arm=arm_name,
        reasons=reasons,
        sentence=sentence,
        rules_sha256=rules.sha256,
        trace=trace,
    )


class ContextFacts:
    """Facts whose ``context.<name>`` fields come from a mapping the caller passed."""

    __slots__ = ("_context", "_facts")

    def __init__(self, facts: Facts, context: Mapping[str, Any]) -> None:
        """Answer ``context.*`` from ``context``, everything else from ``facts``."""
        self._facts = facts
        self._context = context

    @property
    def now(self) -> datetime:
        """The wrapped facts' moment."""
        return self._facts.now

    @property
    def known(self) -> bool:
        """The wrapped facts' known flag."""
        return self._facts.known

    def field(self, path: str) -> object:
        """``context.<name>`` from the mapping, anything else from the wrapped facts."""
        if path.startswith("context."):
            return self._context.get(path[8:], MISSING)
        return self._facts.field(path)

    def in_segment(self, name: str) -> bool:
        """Delegated."""
        return self._facts.in_segment(name)

    def affinity_top(self, dimension: str, k: int) -> tuple[str, ...]:
        """Delegated."""
        return self._facts.affinity_top(dimension, k)

    def has_consent(self, purpose: str) -> bool:
        """Delegated."""
        return self._facts.has_consent(purpose)
