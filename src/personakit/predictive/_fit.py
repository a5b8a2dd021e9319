"""Maximum-likelihood fits of BG/NBD and Gamma-Gamma with numpy and scipy.

Imported only when a model is fitted (``personakit[predict]``): ``import personakit`` never
loads numpy or scipy. The likelihoods are those of Fader, Hardie and Lee, "Counting your
customers the easy way: an alternative to the Pareto/NBD model" (Marketing Science, 2005) and
Fader and Hardie, "The Gamma-Gamma model of monetary value" (2013 note), maximized by
L-BFGS-B over the logarithms of the parameters (Nelder-Mead only if it stalls); a maximum at
the edge of the range means the data do not identify the model. Both fits run on the distinct
rows of the summary, weighted by how many customers share them, so fitting 23,570
customers costs about as much as fitting the few thousand distinct (x, t_x, T) they make.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

from personakit.exceptions import Problem
from personakit.predictive._params import BgNbdParams, GammaGammaParams, InsufficientData

__all__ = [
    "MIN_CUSTOMERS",
    "MIN_REPEAT_BUYERS",
    "bgnbd_log_likelihood",
    "expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "unconditional_expected",
]

Floats = NDArray[np.float64]

#: Fewer customers than this cannot identify four parameters with any precision.
MIN_CUSTOMERS: Final = 30
#: Fewer repeat buyers than this: the drop-out process (a, b) and spend (p, q, gamma) are unseen.
MIN_REPEAT_BUYERS: Final = 10
#: The parameters are fitted on a log scale, started from 1 (the paper's usual start).
_START: Final = (0.0, 0.0, 0.0, 0.0)
_BOUND: Final = (-12.0, 12.0)


def _check(
    columns: dict[str, Sequence[float] | Floats], *, repeat: Floats, min_customers: int
) -> list[Problem]:
    problems: list[Problem] = []
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        return [Problem(where="summary", what="columns of different lengths")]
    for name, values in columns.items():
        array = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            problems.append(Problem(where=name, what="must be finite and not negative"))
    count = lengths.pop()
    if count < min_customers:
        problems.append(
            Problem(
                where="customers",
                what=f"{count} with a purchase history; at least {min_customers} needed",
            )
        )
    buyers = int(np.count_nonzero(repeat > 0)) if not problems else 0
    if not problems and buyers < MIN_REPEAT_BUYERS:
        problems.append(
            Problem(
                where="repeat_buyers",
                what=f"{buyers} customers bought again; at least {MIN_REPEAT_BUYERS} needed",
            )
        )
    return problems


def _distinct(*columns: Floats) -> tuple[list[Floats], Floats]:
    stacked = np.column_stack(columns)
    rows, counts = np.unique(stacked, axis=0, return_counts=True)
    return [rows[:, i] for i in range(rows.shape[1])], counts.astype(np.float64)


def bgnbd_log_likelihood(
    params: Sequence[float] | Floats,
    x: Floats,
    t_x: Floats,
    big_t: Floats,
    weights: Floats | None = None,
) -> float:
    """The BG/NBD log-likelihood of (r, alpha, a, b) for the summary rows (FHL 2005, eq. 6)."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + big_t)
    repeat = x > 0
    a4 = np.full_like(x, -np.inf)
    a4[repeat] = (
        np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    each = a1 + a2 + np.logaddexp(a3, a4)
    return float(np.sum(each if weights is None else each * weights))


def _maximize(
    negative: Callable[[Floats], float], start: Sequence[float]
) -> tuple[Floats, float, bool]:
    result: Any = minimize(
        negative,
        np.asarray(start, dtype=np.float64),
        method="L-BFGS-B",
        bounds=[_BOUND] * len(start),
    )
    if result.success:
        return np.exp(result.x), -float(result.fun), _inside(result.x)
    # L-BFGS-B's numerical gradient can stall on a flat ridge: a derivative-free pass from
    # where it stopped, and the better of the two.
    polish: Any = minimize(
        negative, result.x, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-9}
    )
    best = polish if polish.fun <= result.fun else result
    return np.exp(best.x), -float(best.fun), bool(polish.success) and _inside(best.x)


def _inside(log_params: Floats) -> bool:
    # A parameter pushed to the edge of its range is one the data do not identify.
    return bool(np.all(np.abs(log_params) < _BOUND[1] - 0.5))


def fit_bgnbd(
    x: Sequence[float] | Floats, t_x: Sequence[float] | Floats, big_t: Sequence[float] | Floats
) -> BgNbdParams:
    """Fit BG/NBD by maximum likelihood to repeat counts, recencies and ages (one unit of time).

    Raises :class:`InsufficientData` naming what is missing (too few customers or repeat
    buyers, or a likelihood that does not converge) rather than returning parameters that
    look precise.
    """
    xs = np.asarray(x, dtype=np.float64)
    problems = _check({"x": x, "t_x": t_x, "T": big_t}, repeat=xs, min_customers=MIN_CUSTOMERS)
    if not problems and np.any(np.asarray(t_x, dtype=np.float64) > np.asarray(big_t) + 1e-9):
        problems.append(Problem(where="t_x", what="a recency after the customer's age"))
    if problems:
        raise InsufficientData("cannot fit BG/NBD", problems)
    (ux, ut, u_big_t), weights = _distinct(
        xs, np.asarray(t_x, dtype=np.float64), np.asarray(big_t, dtype=np.float64)
    )
    scale = float(np.mean(u_big_t)) or 1.0  # alpha lives on the scale of time: start near it

    def negative(log_params: Floats) -> float:
        value = bgnbd_log_likelihood(np.exp(log_params), ux, ut, u_big_t, weights)
        return -value if np.isfinite(value) else 1e300

    start = (_START[0], float(np.log(scale)), _START[2], _START[3])
    (r, alpha, a, b), log_likelihood, converged = _maximize(negative, start)
    if not converged or not np.isfinite(log_likelihood):
        raise InsufficientData(
            "cannot fit BG/NBD",
            [
                Problem(
                    where="likelihood",
                    what="no interior maximum: the data do not identify the parameters",
                )
            ],
        )
    return BgNbdParams(
        r=float(r),
        alpha=float(alpha),
        a=float(a),
        b=float(b),
        log_likelihood=log_likelihood,
        customers=len(xs),
    )


def fit_gamma_gamma(
    x: Sequence[float] | Floats, mean_value: Sequence[float] | Floats
) -> GammaGammaParams:
    """Fit Gamma-Gamma to repeat buyers' counts and mean order values (others are ignored)."""
    xs = np.asarray(x, dtype=np.float64)
    ms = np.asarray(mean_value, dtype=np.float64)
    problems = _check({"x": x, "m": mean_value}, repeat=xs, min_customers=MIN_CUSTOMERS)
    if problems:
        raise InsufficientData("cannot fit Gamma-Gamma", problems)
    keep = (xs > 0) & (ms > 0)
    (ux, um), weights = _distinct(xs[keep], ms[keep])

    def negative(log_params: Floats) -> float:
        p, q, gamma = np.exp(log_params)
        each = (
            gammaln(p * ux + q)
            - gammaln(p * ux)
            - gammaln(q)
            + q * np.log(gamma)
            + (p * ux - 1) * np.log(um)
            + p * ux * np.log(ux)
            - (p * ux + q) * np.log(gamma + um * ux)
        )
        value = float(np.sum(each * weights))
        return -value if np.isfinite(value) else 1e300

    (p, q, gamma), log_likelihood, converged = _maximize(negative, (0.0, 0.0, 0.0))
    if not converged or q <= 1:
        raise InsufficientData(
            "cannot fit Gamma-Gamma",
            [
                Problem(
                    where="likelihood",
                    what="no interior maximum with a finite mean spend (q > 1): too little data",
                )
            ],
        )
    return GammaGammaParams(
        p=float(p),
        q=float(q),
        gamma=float(gamma),
        log_likelihood=log_likelihood,
        customers=int(np.count_nonzero(keep)),
    )


def expected_purchases(
    params: BgNbdParams, t: float, x: Floats, t_x: Floats, big_t: Floats
) -> Floats:
    """E[Y(t) | x, t_x, T] for many customers at once (FHL 2005, eq. 10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + big_t + t)
    head = (a + b + x - 1) / (a - 1)
    tail = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(
        r + x, b + x, a + b + x - 1, z
    )
    odds = np.where(
        x > 0, a / np.maximum(b + x - 1, 1e-12) * ((alpha + big_t) / (alpha + t_x)) ** (r + x), 0.0
    )
    return np.asarray(head * tail / (1 + odds), dtype=np.float64)


def unconditional_expected(params: BgNbdParams, t: Floats) -> Floats:
    """E[X(t)]: repeat purchases a new customer makes in ``t`` (FHL 2005, eq. 9)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
    value = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    return np.asarray(value, dtype=np.float64)
