"""Scoring options (horizon, discount, segment thresholds) and the argument checks."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from attrs import fields, frozen

from personakit._args import check_callable, check_moment, raise_problems
from personakit._clock import Clock
from personakit.exceptions import InvalidInput, Problem

__all__ = ["ScoreOptions", "check_now", "check_progress"]

_MAX_DAYS: Final = 3650
_MAX_NUMBER: Final = 1e12
_MAX_DISCOUNT: Final = 10


@frozen(kw_only=True)
class ScoreOptions:
    """How predictions are made and which thresholds the predictive segments use.

    Attributes:
        horizon_days: Expected purchases are counted over this many days.
        clv_months: Lifetime value sums this many months.
        annual_discount: The yearly discount rate of lifetime value (0.1 = 10%).
        at_risk_p_alive: Below this probability of being active, a customer may be at risk.
        at_risk_min_spent: ... if they spent at least this much (currency units) so far.
        soon_expected_purchases: "Likely to buy soon" from this many expected purchases.
        high_value_clv: "High value" from this expected lifetime value (currency units).
    """

    horizon_days: int = 90
    clv_months: int = 12
    annual_discount: float = 0.1
    at_risk_p_alive: float = 0.3
    at_risk_min_spent: float = 50.0
    soon_expected_purchases: float = 0.5
    high_value_clv: float = 100.0

    @classmethod
    def check(cls, value: object) -> ScoreOptions:
        """``value`` if it is valid options; :class:`InvalidInput` listing every problem."""
        if not isinstance(value, ScoreOptions):
            raise InvalidInput(
                "invalid options", [Problem(where="options", what="must be ScoreOptions")]
            )
        problems = []
        for name in ("horizon_days", "clv_months"):
            number: Any = getattr(value, name)
            if (
                not isinstance(number, int)
                or isinstance(number, bool)
                or not 1 <= number <= _MAX_DAYS
            ):
                problems.append(Problem(where=name, what="must be an integer from 1 to 3650"))
        for attribute in fields(cls):
            if attribute.name in {"horizon_days", "clv_months"}:
                continue
            number = getattr(value, attribute.name)
            if (
                not isinstance(number, (int, float))
                or isinstance(number, bool)
                or not math.isfinite(number)
                or not 0 <= number <= _MAX_NUMBER
            ):
                problems.append(
                    Problem(where=attribute.name, what="must be a finite number, not negative")
                )
        if not problems and value.annual_discount > _MAX_DISCOUNT:
            problems.append(Problem(where="annual_discount", what="at most 10 (1000%)"))
        raise_problems("invalid options", problems)
        return value


def check_now(value: object, clock: Clock) -> datetime:
    """``value`` (an aware datetime) or the clock's now; :class:`InvalidInput` otherwise."""
    if value is None:
        return clock.now()
    problems: list[Problem] = []
    moment = check_moment(value, "now", problems)
    raise_problems("invalid time", problems)
    assert moment is not None
    return moment


def check_progress(value: object) -> Callable[[int, int], None] | None:
    """``value`` if None or callable; :class:`InvalidInput` otherwise."""
    problems: list[Problem] = []
    check_callable(value, "progress", problems)
    raise_problems("invalid progress", problems)
    return value  # type: ignore[return-value]  # checked callable above
