"""How personalization keeps aggregates and draws its built-in segments: one small value object.

Every number has a default a small shop can start with; :meth:`PersonalizationConfig.check`
lists every problem of a configuration at once (the service refuses a bad one with
:class:`~personakit.exceptions.InvalidInput` before anything is registered).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from attrs import field, frozen

from personakit.exceptions import InvalidInput, Problem

__all__ = [
    "BUILTIN_DIMENSIONS",
    "DEFAULT_WEIGHTS",
    "LifecycleThresholds",
    "PersonalizationConfig",
    "RfmThresholds",
]

#: How much one event of each kind adds to an affinity (view < add to cart < purchase).
DEFAULT_WEIGHTS: Final = {"product_view": 1.0, "add_to_cart": 3.0, "purchase": 5.0}
#: Dimensions read from the built-in shop properties: ``category``, ``brand``, ``tags``.
BUILTIN_DIMENSIONS: Final = ("category", "brand", "tag")
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_-]{0,47}")
_MAX_WEIGHT: Final = 1e6


def _positive_int(value: object, where: str, problems: list[Problem], *, top: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
        problems.append(Problem(where=where, what=f"must be an int from 1 to {top}"))


def _ascending(value: object, where: str, problems: list[Problem]) -> None:
    ok = (
        isinstance(value, tuple)
        and len(value) == 4  # noqa: PLR2004 (four cut points make five scores)
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
        and list(value) == sorted(value)
    )
    if not ok:
        problems.append(Problem(where=where, what="must be 4 ascending ints >= 0"))


@frozen(kw_only=True)
class LifecycleThresholds:
    """Days that move a customer through the lifecycle (checked in this order).

    ``churned``: not seen for ``churned_days``; ``lapsed``: not seen for ``lapsed_days``;
    ``at_risk``: has bought, but not for ``at_risk_days``; ``new``: first seen within
    ``new_days``; ``active``: everyone else with activity.
    """

    new_days: int = 30
    at_risk_days: int = 90
    lapsed_days: int = 180
    churned_days: int = 365

    def problems(self, where: str) -> list[Problem]:
        """Every problem, under ``where``."""
        problems: list[Problem] = []
        for name in ("new_days", "at_risk_days", "lapsed_days", "churned_days"):
            _positive_int(getattr(self, name), f"{where}.{name}", problems, top=36_500)
        if not problems and not self.at_risk_days <= self.lapsed_days <= self.churned_days:
            problems.append(
                Problem(where=where, what="needs at_risk_days <= lapsed_days <= churned_days")
            )
        return problems


@frozen(kw_only=True)
class RfmThresholds:
    """Fixed RFM cut points (four each, ascending), instead of population quintiles.

    Frequency and monetary scores are 1 + the number of cut points the value exceeds;
    the recency score is 5 - the number of cut points the days since the last purchase exceed.
    """

    recency_days: tuple[int, ...]
    frequency: tuple[int, ...]
    monetary_cents: tuple[int, ...]

    def problems(self, where: str) -> list[Problem]:
        """Every problem, under ``where``."""
        problems: list[Problem] = []
        _ascending(self.recency_days, f"{where}.recency_days", problems)
        _ascending(self.frequency, f"{where}.frequency", problems)
        _ascending(self.monetary_cents, f"{where}.monetary_cents", problems)
        return problems

    def to_json(self) -> dict[str, list[int]]:
        """``{"r": [...], "f": [...], "m": [...]}``: the stored form of cut points."""
        return {
            "r": list(self.recency_days),
            "f": list(self.frequency),
            "m": list(self.monetary_cents),
        }


@frozen(kw_only=True)
class PersonalizationConfig:
    """What aggregates keep and how the built-in segments are drawn.

    Attributes:
        enabled: False leaves the service inert: no hooks on ingest, nothing kept, every
            subject unknown (a kit that does not personalize, or a baseline to measure).
        half_life_days: Affinities halve every this many days without new events.
        weights: Affinity added per event kind (kinds not listed add nothing).
        dimensions: Event properties (beyond category, brand and tags) that get affinities;
            the manifest has no place for them, so they are named here.
        recent_items: How many distinct items ``recent_items`` keeps (newest first).
        max_affinity_values: Values kept per dimension; beyond it the weakest goes.
        max_cart_changes: Cart changes kept since the last purchase; beyond it the oldest go.
        lifecycle: Lifecycle thresholds.
        rfm: Fixed RFM cut points, or None for quintiles over the consenting population
            (computed by :meth:`~personakit.personalization.Personalization.refresh`).
        cart_abandoned_after: An open cart untouched for this long is abandoned.
        enthusiast_categories: Categories with an ``enthusiast.<category>`` segment.
        enthusiast_min_score: The decayed category affinity an enthusiast needs (and the
            category must be their first).
    """

    enabled: bool = True
    half_life_days: float = 30.0
    weights: Mapping[str, float] = field(factory=lambda: dict(DEFAULT_WEIGHTS))
    dimensions: tuple[str, ...] = ()
    recent_items: int = 20
    max_affinity_values: int = 256
    max_cart_changes: int = 200
    lifecycle: LifecycleThresholds = field(factory=LifecycleThresholds)
    rfm: RfmThresholds | None = None
    cart_abandoned_after: timedelta = timedelta(hours=1)
    enthusiast_categories: tuple[str, ...] = ()
    enthusiast_min_score: float = 5.0

    def problems(self) -> list[Problem]:
        """Every problem of this configuration (fields may hold anything a caller passed)."""
        problems: list[Problem] = []
        enabled: object = self.enabled
        if not isinstance(enabled, bool):
            problems.append(Problem(where="enabled", what="must be True or False"))
        if not _finite_in(self.half_life_days, 1e-3, 36_500.0):
            problems.append(Problem(where="half_life_days", what="must be from 0.001 to 36500"))
        _check_weights(self.weights, problems)
        _check_names(self.dimensions, "dimensions", problems)
        if not problems and len(set(self.dimensions) | set(BUILTIN_DIMENSIONS)) != len(
            self.dimensions
        ) + len(BUILTIN_DIMENSIONS):
            problems.append(Problem(where="dimensions", what="must be distinct and not built-in"))
        _positive_int(self.recent_items, "recent_items", problems, top=1000)
        _positive_int(self.max_affinity_values, "max_affinity_values", problems, top=10_000)
        _positive_int(self.max_cart_changes, "max_cart_changes", problems, top=10_000)
        _check_thresholds(self.lifecycle, self.rfm, problems)
        after: object = self.cart_abandoned_after
        if not isinstance(after, timedelta) or not timedelta(0) < after <= timedelta(days=365):
            problems.append(
                Problem(where="cart_abandoned_after", what="must be a timedelta up to 365 days")
            )
        _check_names(self.enthusiast_categories, "enthusiast_categories", problems)
        if not _finite_in(self.enthusiast_min_score, 0.0, _MAX_WEIGHT):
            problems.append(Problem(where="enthusiast_min_score", what="must be from 0 to 1e6"))
        return problems

    def checked(self) -> PersonalizationConfig:
        """``self``, or :class:`InvalidInput` listing every problem."""
        problems = self.problems()
        if problems:
            raise InvalidInput("invalid personalization configuration", problems)
        return self

    @property
    def all_dimensions(self) -> tuple[str, ...]:
        """The built-in dimensions, then the configured ones."""
        return (*BUILTIN_DIMENSIONS, *self.dimensions)


def _check_weights(weights: object, problems: list[Problem]) -> None:
    if not isinstance(weights, Mapping):
        problems.append(Problem(where="weights", what="must be a mapping"))
        return
    if not all(
        isinstance(kind, str) and _finite_in(weight, 0.0, _MAX_WEIGHT)
        for kind, weight in weights.items()
    ):
        problems.append(Problem(where="weights", what="must map kinds to numbers from 0 to 1e6"))


def _check_names(names: object, where: str, problems: list[Problem]) -> None:
    if not isinstance(names, tuple):
        problems.append(Problem(where=where, what="must be a tuple of names"))
        return
    problems.extend(
        Problem(where=f"{where}[{index}]", what="must match [a-z][a-z0-9_-]{0,47}")
        for index, name in enumerate(names)
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name)
    )


def _check_thresholds(lifecycle: object, rfm: object, problems: list[Problem]) -> None:
    if isinstance(lifecycle, LifecycleThresholds):
        problems.extend(lifecycle.problems("lifecycle"))
    else:
        problems.append(Problem(where="lifecycle", what="must be LifecycleThresholds"))
    if isinstance(rfm, RfmThresholds):
        problems.extend(rfm.problems("rfm"))
    elif rfm is not None:
        problems.append(Problem(where="rfm", what="must be RfmThresholds or None"))


def _finite_in(value: Any, low: float, high: float) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    # Compared before math.isfinite, which raises OverflowError for an int beyond floats.
    return low <= value <= high and math.isfinite(value)
