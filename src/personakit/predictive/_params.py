"""Fitted parameters and the per-customer formulas: O(1) from a customer's statistics.

numpy and scipy are imported on first use only: scoring one customer is a handful of
``math`` calls plus Gauss's hypergeometric function (two scipy calls, one for the horizon and
one for every month of the lifetime value).
"""

from __future__ import annotations

import math
from typing import Any, Final

from attrs import frozen

from personakit.exceptions import InvalidInput

__all__ = [
    "BgNbdParams",
    "GammaGammaParams",
    "InsufficientData",
    "Prediction",
    "clv",
    "expected_aov",
    "expected_purchases_one",
    "next_purchase_window",
    "p_alive",
    "predict",
]

#: Months in the CLV sum; purchases are discounted at the end of the month they fall in.
_MONTH_WEEKS: Final = 52.0 / 12.0
#: Below this probability of being active, the explanation calls the silence long.
_LAPSED: Final = 0.5


class InsufficientData(InvalidInput):
    """A fit was asked of too little data; ``problems`` say what is missing.

    Raised instead of parameters that would look precise and mean nothing.
    """


@frozen(kw_only=True)
class BgNbdParams:
    """BG/NBD parameters: purchase rates ~ Gamma(r, alpha), drop-out ~ Beta(a, b) per purchase.

    Time is in weeks. ``log_likelihood`` is the maximum reached over ``customers``.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int

    def as_dict(self) -> dict[str, float | int]:
        """The parameters as a JSON object."""
        return {
            "r": self.r,
            "alpha": self.alpha,
            "a": self.a,
            "b": self.b,
            "log_likelihood": self.log_likelihood,
            "customers": self.customers,
        }


@frozen(kw_only=True)
class GammaGammaParams:
    """Gamma-Gamma parameters: order value ~ Gamma(p, nu), nu ~ Gamma(q, gamma), per customer."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int

    @property
    def population_mean(self) -> float:
        """The mean order value of a customer the model knows nothing about."""
        return self.p * self.gamma / (self.q - 1)

    def as_dict(self) -> dict[str, float | int]:
        """The parameters as a JSON object."""
        return {
            "p": self.p,
            "q": self.q,
            "gamma": self.gamma,
            "log_likelihood": self.log_likelihood,
            "customers": self.customers,
        }


def p_alive(params: BgNbdParams, x: float, t_x: float, big_t: float) -> float:
    """P(still active | x, t_x, T) (FHL 2005, eq. 11); 1 for a customer with no repeat purchase.

    The 1 is by construction of BG/NBD (drop-out happens only right after a purchase), which
    is why "at risk" also looks at expected purchases.
    """
    if x <= 0:
        return 1.0
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_odds = (
        math.log(a) - math.log(b + x - 1) + (r + x) * math.log((alpha + big_t) / (alpha + t_x))
    )
    return 1.0 / (1.0 + math.exp(min(log_odds, 700.0)))


def expected_purchases_one(
    params: BgNbdParams, weeks: float, x: float, t_x: float, big_t: float
) -> float:
    """E[purchases in the next ``weeks`` | x, t_x, T] (FHL 2005, eq. 10)."""
    from scipy.special import hyp2f1  # noqa: PLC0415 (scipy loads only when scoring)

    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if weeks <= 0:
        return 0.0
    z = weeks / (alpha + big_t + weeks)
    head = (a + b + x - 1) / (a - 1)
    tail = 1 - ((alpha + big_t) / (alpha + big_t + weeks)) ** (r + x) * float(
        hyp2f1(r + x, b + x, a + b + x - 1, z)
    )
    return max(0.0, float(head * tail * p_alive(params, x, t_x, big_t)))


def expected_aov(gg: GammaGammaParams, x: float, mean_value: float) -> float:
    """E[order value | x repeat orders of mean ``mean_value``]: shrunk towards the population."""
    if x <= 0 or mean_value <= 0:
        return gg.population_mean
    return gg.p * (gg.gamma + x * mean_value) / (gg.p * x + gg.q - 1)


def clv(
    params: BgNbdParams,
    gg: GammaGammaParams,
    stats: tuple[float, float, float, float],
    *,
    months: int,
    annual_discount: float,
) -> float:
    """Expected value of the next ``months``, discounted monthly at ``annual_discount``.

    ``stats`` is (x, t_x, T, mean repeat order value). Each month's expected purchases (the
    increase of E[Y(t)]) times the expected order value, discounted to today.
    """
    import numpy as np  # noqa: PLC0415 (numpy and scipy load only when scoring)
    from scipy.special import hyp2f1  # noqa: PLC0415

    x, t_x, big_t, mean_value = stats
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    aov = expected_aov(gg, x, mean_value)
    # E[Y(t)] at the end of every month in one call (eq. 10, as in expected_purchases_one)
    month = np.arange(1, months + 1, dtype=np.float64)
    weeks = month * _MONTH_WEEKS
    scale = alpha + big_t
    tail = 1 - (scale / (scale + weeks)) ** (r + x) * hyp2f1(
        r + x, b + x, a + b + x - 1, weeks / (scale + weeks)
    )
    cumulative = np.maximum((a + b + x - 1) / (a - 1) * tail * p_alive(params, x, t_x, big_t), 0)
    increments = np.diff(cumulative, prepend=0.0)
    discount = (1 + annual_discount) ** (-month / 12)
    return float(np.sum(increments * discount) * aov)


def next_purchase_window(params: BgNbdParams, x: float, big_t: float) -> tuple[float, float, float]:
    """(25th, 50th, 75th percentile) weeks until the next purchase, if still active.

    While active, a customer's rate is Gamma(r + x, alpha + T) a posteriori and purchases are
    Poisson, so the wait is Lomax: P(wait > w) = ((alpha + T) / (alpha + T + w)) ** (r + x).
    """
    shape = params.r + x
    scale = params.alpha + big_t
    low, mid, high = (scale * ((1 - q) ** (-1 / shape) - 1) for q in (0.25, 0.5, 0.75))
    return (low, mid, high)


@frozen(kw_only=True)
class Prediction:
    """One customer's predictions and what drove them (GDPR Art 15(1)(h): the logic involved).

    ``personalized`` is False for the non-personalized default (``reason`` then says why).
    """

    personalized: bool
    reason: str
    p_alive: float
    expected_purchases: float
    horizon_days: int
    expected_order_value: float
    clv: float
    next_purchase_days: tuple[float, float, float]
    inputs: dict[str, float]
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        """The prediction as a JSON object."""
        return {
            "personalized": self.personalized,
            "reason": self.reason,
            "p_alive": self.p_alive,
            "expected_purchases": self.expected_purchases,
            "horizon_days": self.horizon_days,
            "expected_order_value": self.expected_order_value,
            "clv": self.clv,
            "next_purchase_days": list(self.next_purchase_days),
            "inputs": dict(self.inputs),
            "explanation": self.explanation,
        }


def _explain(x: float, t_x: float, big_t: float, alive: float) -> str:
    if x <= 0:
        history = (
            f"one purchase {big_t * 7:.0f} days ago and none since; the model treats a customer "
            "with no repeat purchase as still active, and expects purchases at the rate of "
            "customers like them"
        )
    else:
        silent = (big_t - t_x) * 7
        history = (
            f"{x:.0f} repeat purchase(s) over {big_t * 7:.0f} days as a customer, the last "
            f"{silent:.0f} days ago; {'a long' if alive < _LAPSED else 'a usual'} silence for "
            "that buying rate"
        )
    return f"{history}: probability still active {alive:.0%}"


def predict(
    params: BgNbdParams,
    gg: GammaGammaParams,
    stats: tuple[float, float, float, float],
    *,
    horizon_days: int,
    clv_months: int,
    annual_discount: float,
) -> Prediction:
    """Every prediction for one customer from (x, t_x, T in weeks, mean repeat order value)."""
    x, t_x, big_t, mean_value = stats
    alive = p_alive(params, x, t_x, big_t)
    window = next_purchase_window(params, x, big_t)
    return Prediction(
        personalized=True,
        reason="fitted model",
        p_alive=alive,
        expected_purchases=expected_purchases_one(params, horizon_days / 7, x, t_x, big_t),
        horizon_days=horizon_days,
        expected_order_value=expected_aov(gg, x, mean_value),
        clv=clv(params, gg, stats, months=clv_months, annual_discount=annual_discount),
        next_purchase_days=(window[0] * 7, window[1] * 7, window[2] * 7),
        inputs={
            "repeat_purchases": x,
            "recency_days": t_x * 7,
            "age_days": big_t * 7,
            "mean_order_value": mean_value,
        },
        explanation=_explain(x, t_x, big_t, alive),
    )
