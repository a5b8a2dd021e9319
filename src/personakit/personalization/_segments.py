"""Segments: a name, a predicate over :class:`Facts`, and the fields it reads.

The built-in segments are predicates like any other (the JSON segments of the condition
language compile to the same :class:`Segment`), so one machinery evaluates, indexes and offers
them all:

* ``lifecycle.new`` / ``active`` / ``at_risk`` / ``lapsed`` / ``churned``: exactly one of
  them for a subject with activity (see :class:`LifecycleThresholds` for the order).
* ``rfm.r1`` ... ``rfm.r5``, ``rfm.f1`` ... ``rfm.f5``, ``rfm.m1`` ... ``rfm.m5`` and
  ``rfm.champions`` (every score at least 4): customers with at least one purchase, scored
  by fixed cut points or by quintiles over the consenting population.
* ``cart_abandoners``: an open cart untouched for ``cart_abandoned_after``.
* ``birthday_this_month``: the declared ``birthday`` trait falls in the current month (UTC).
* ``enthusiast.<category>``: the category is the subject's first by decayed affinity, with at
  least ``enthusiast_min_score``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Final

from attrs import frozen

from personakit._clock import to_micros
from personakit.exceptions import InvalidInput, Problem
from personakit.personalization._config import LifecycleThresholds, PersonalizationConfig
from personakit.personalization._facts import Facts
from personakit.personalization._state import SubjectState

__all__ = [
    "LIFECYCLE_STAGES",
    "Segment",
    "builtin_segments",
    "lifecycle_stage",
    "quintile_cuts",
    "rfm_scores",
    "rfm_values",
]

LIFECYCLE_STAGES: Final = ("new", "active", "at_risk", "lapsed", "churned")
_MICROS_PER_DAY: Final = 86_400_000_000
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_EVENT_FREE: Final = ("traits.", "context.")
_CHAMPION: Final = 4
_MAX_READ: Final = 200
_MAX_DESCRIPTION: Final = 500

#: What a predicate gets and answers.
Predicate = Callable[[Facts], bool]


@frozen(kw_only=True)
class Segment:
    """A named predicate over a subject's :class:`Facts`, with the fields it reads.

    ``reads`` lists field paths (``aggregates.order_count``, ``traits.birthday``) and the
    other things it consults (``affinity:category``, ``segment:<name>``, ``consent:<purpose>``):
    the data-minimization report lists them, and a segment that reads only ``traits.*`` and
    ``context.*`` is not re-evaluated on every event (its index follows :meth:`refresh`).
    """

    name: str
    predicate: Predicate
    reads: tuple[str, ...] = ()
    description: str = ""

    def problems(self) -> list[Problem]:
        """Every problem of this definition (fields may hold anything a caller passed)."""
        problems: list[Problem] = []
        name: object = self.name
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            problems.append(Problem(where="name", what="must match [a-z][a-z0-9_.-]{0,63}"))
        predicate: object = self.predicate
        if not callable(predicate):
            problems.append(Problem(where="predicate", what="must be callable"))
        reads: object = self.reads
        if not isinstance(reads, tuple) or not all(
            isinstance(r, str) and 0 < len(r) <= _MAX_READ and r.isprintable() for r in reads
        ):
            problems.append(Problem(where="reads", what="must be a tuple of field paths"))
        description: object = self.description
        if not isinstance(description, str) or len(description) > _MAX_DESCRIPTION:
            problems.append(Problem(where="description", what="must be text up to 500 chars"))
        return problems

    def checked(self) -> Segment:
        """``self``, or :class:`InvalidInput` listing every problem."""
        problems = self.problems()
        if problems:
            raise InvalidInput("invalid segment", problems)
        return self

    @property
    def event_driven(self) -> bool:
        """Whether an event can change membership (it reads more than traits and context)."""
        return _event_driven(self.reads)


@functools.lru_cache(maxsize=4096)
def _event_driven(reads: tuple[str, ...]) -> bool:
    return not reads or any(not r.startswith(_EVENT_FREE) for r in reads)


def lifecycle_stage(state: SubjectState, now: datetime, limits: LifecycleThresholds) -> str | None:
    """The lifecycle stage of ``state`` at ``now`` (None: no activity yet)."""
    if state.last_seen is None or state.first_seen is None:
        return None
    at = to_micros(now)
    idle = (at - state.last_seen) / _MICROS_PER_DAY
    if idle >= limits.churned_days:
        return "churned"
    if idle >= limits.lapsed_days:
        return "lapsed"
    if (
        state.last_purchase is not None
        and (at - state.last_purchase) / _MICROS_PER_DAY >= limits.at_risk_days
    ):
        return "at_risk"
    if (at - state.first_seen) / _MICROS_PER_DAY < limits.new_days:
        return "new"
    return "active"


def rfm_values(state: SubjectState, now: datetime) -> tuple[int, int, int] | None:
    """(whole days since the last purchase, orders, money in cents), or None without a purchase."""
    if state.last_purchase is None or state.order_count < 1:
        return None
    days = max(0, (to_micros(now) - state.last_purchase) // _MICROS_PER_DAY)
    return days, state.order_count, state.monetary_cents


def rfm_scores(
    state: SubjectState, now: datetime, cuts: Mapping[str, Sequence[int]] | None
) -> tuple[int, int, int] | None:
    """(R, F, M) scores from 1 to 5 under ``cuts`` (``{"r", "f", "m"}``), or None."""
    values = rfm_values(state, now)
    if values is None or cuts is None:
        return None
    days, orders, cents = values
    recency = 5 - sum(1 for cut in cuts["r"] if days > cut)
    frequency = 1 + sum(1 for cut in cuts["f"] if orders > cut)
    monetary = 1 + sum(1 for cut in cuts["m"] if cents > cut)
    return recency, frequency, monetary


def quintile_cuts(values: Sequence[int]) -> list[int]:
    """Four cut points: the value at position ``k * n // 5`` of the sorted values, k = 1..4."""
    ordered = sorted(values)
    if not ordered:
        return [0, 0, 0, 0]
    return [ordered[min(len(ordered) - 1, k * len(ordered) // 5)] for k in range(1, 5)]


def _stage_is(stage: str) -> Predicate:
    def member(facts: Facts) -> bool:
        return facts.field("aggregates.lifecycle") == stage

    return member


def _score_is(letter: str, score: int) -> Predicate:
    def member(facts: Facts) -> bool:
        return facts.field(f"aggregates.rfm_{letter}") == score

    return member


def _champion(facts: Facts) -> bool:
    scores = [facts.field(f"aggregates.rfm_{letter}") for letter in "rfm"]
    return all(isinstance(s, int) and s >= _CHAMPION for s in scores)


def _birthday(facts: Facts) -> bool:
    value = facts.field("traits.birthday")
    # A declared birthday is an ISO date (YYYY-MM-DD), checked by the trait's schema.
    return isinstance(value, str) and value[5:7] == f"{facts.now.month:02d}"


def builtin_segments(config: PersonalizationConfig) -> list[Segment]:
    """The built-in segments under ``config``."""
    segments = [
        Segment(
            name=f"lifecycle.{stage}",
            predicate=_stage_is(stage),
            reads=("aggregates.lifecycle",),
            description=f"lifecycle stage {stage.replace('_', ' ')}",
        )
        for stage in LIFECYCLE_STAGES
    ]
    for letter, what in (("r", "recency"), ("f", "frequency"), ("m", "monetary")):
        segments.extend(
            Segment(
                name=f"rfm.{letter}{score}",
                predicate=_score_is(letter, score),
                reads=(f"aggregates.rfm_{letter}",),
                description=f"RFM {what} score {score}",
            )
            for score in range(1, 6)
        )
    segments.append(
        Segment(
            name="rfm.champions",
            predicate=_champion,
            reads=("aggregates.rfm_r", "aggregates.rfm_f", "aggregates.rfm_m"),
            description="RFM scores of 4 or 5 in recency, frequency and monetary value",
        )
    )
    after = config.cart_abandoned_after

    def abandoned(facts: Facts) -> bool:
        items = facts.field("aggregates.cart_items")
        updated = facts.field("aggregates.cart_updated_at")
        if not isinstance(items, int) or items < 1 or not isinstance(updated, datetime):
            return False
        return facts.now - updated >= after

    segments.append(
        Segment(
            name="cart_abandoners",
            predicate=abandoned,
            reads=("aggregates.cart_items", "aggregates.cart_updated_at"),
            description="an open cart left untouched",
        )
    )
    segments.append(
        Segment(
            name="birthday_this_month",
            predicate=_birthday,
            reads=("traits.birthday",),
            description="the declared birthday falls in the current month",
        )
    )
    minimum = config.enthusiast_min_score
    for category in config.enthusiast_categories:

        def enthusiast(facts: Facts, category: str = category) -> bool:
            if facts.affinity_top("category", 1) != (category,):
                return False
            score = facts.field(f"aggregates.affinity.category.{category}")
            return isinstance(score, float) and score >= minimum

        segments.append(
            Segment(
                name=f"enthusiast.{category}",
                predicate=enthusiast,
                reads=("affinity:category",),
                description=f"first by affinity in category {category}",
            )
        )
    return segments
