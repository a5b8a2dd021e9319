"""Pareto/NBD, MBG/NBD and BG/NBD with a covariate: alternatives the ranking was validated against.

Neither is used by the kit (it scores with BG/NBD); the CDNOW replication fits both on the
validation windows carved from the calibration period to choose the ranking score, and the
benchmark reports how they did. Formulas:

* Pareto/NBD (Schmittlein, Morrison and Colombo 1987), in the form of Fader and Hardie, "A note
  on deriving the Pareto/NBD model and related expressions" (2005): purchase rate ~ Gamma(r,
  alpha), lifetime ~ Exponential with rate ~ Gamma(s, beta); the likelihood (their eq. 19, with
  the 2F1 of their A_0 chosen by whether alpha >= beta), P(alive) and E[Y(t)] (their eq. 22).
* MBG/NBD (Batislam, Denizel and Filiztekin 2007): BG/NBD with a drop-out chance at time zero
  as well, so a customer with no repeat purchase is not certainly active.
* BG/NBD with one time-invariant covariate scaling each customer's alpha (the replication uses
  the log of the first day's spend, standardized).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
from attrs import frozen
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from personakit.exceptions import Problem
from personakit.predictive._fit import MIN_CUSTOMERS, _check, _distinct, _inside
from personakit.predictive._params import InsufficientData

__all__ = [
    "CovariateFit",
    "Fitted",
    "bgnbd_covariate_expected",
    "bgnbd_covariate_log_likelihood",
    "fit_bgnbd_covariate",
    "fit_mbgnbd",
    "fit_pareto_nbd",
    "mbgnbd_expected",
    "mbgnbd_log_likelihood",
    "pareto_nbd_expected",
    "pareto_nbd_log_likelihood",
]

Floats = NDArray[np.float64]
Params = Sequence[float] | Floats
_Likelihood = Callable[[Params, Floats, Floats, Floats], Floats]

#: Names of the four parameters, in the order the fits return them.
PARETO_NAMES: Final = ("r", "alpha", "s", "beta")
MBG_NAMES: Final = ("r", "alpha", "a", "b")
#: A covariate coefficient beyond this (e^10 between customers one standard deviation apart)
#: is a likelihood running away, not an effect.
_MAX_COEFFICIENT: Final = 10.0


@frozen(kw_only=True)
class Fitted:
    """Four fitted parameters (named by ``names``) and the log-likelihood reached."""

    names: tuple[str, str, str, str]
    values: tuple[float, float, float, float]
    log_likelihood: float

    def as_dict(self) -> dict[str, float]:
        """The parameters and the log-likelihood as a JSON object."""
        return {**dict(zip(self.names, self.values, strict=True)), "ll": self.log_likelihood}


def _log_a0(params: Params, x: Floats, t_x: Floats, big_t: Floats) -> Floats:
    """Log A_0 of the Pareto/NBD likelihood (Fader and Hardie 2005, eq. 19)."""
    r, alpha, s, beta = params
    top, gap = max(alpha, beta), abs(alpha - beta)
    second = s + 1 if alpha >= beta else r + x
    rsx = r + s + x
    at_last = np.log(hyp2f1(rsx, second, rsx + 1, gap / (top + t_x))) - rsx * np.log(top + t_x)
    at_end = np.log(hyp2f1(rsx, second, rsx + 1, gap / (top + big_t))) - rsx * np.log(top + big_t)
    # log(e^at_last - e^at_end); -inf when the last purchase is today (t_x = T)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(at_last + np.log1p(-np.exp(at_end - at_last)), dtype=np.float64)


def pareto_nbd_log_likelihood(params: Params, x: Floats, t_x: Floats, big_t: Floats) -> Floats:
    """Each customer's Pareto/NBD log-likelihood of (r, alpha, s, beta)."""
    r, alpha, s, beta = params
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
    died = np.log(s) - np.log(r + s + x) + _log_a0(params, x, t_x, big_t)
    return np.asarray(head + np.logaddexp(alive, died), dtype=np.float64)


def pareto_nbd_expected(params: Params, t: float, x: Floats, t_x: Floats, big_t: Floats) -> Floats:
    """E[Y(t) | x, t_x, T] under Pareto/NBD (Fader and Hardie 2005, eq. 22)."""
    r, alpha, s, beta = params
    log_odds = (
        np.log(s)
        - np.log(r + s + x)
        + (r + x) * np.log(alpha + big_t)
        + s * np.log(beta + big_t)
        + _log_a0(params, x, t_x, big_t)
    )
    alive = 1 / (1 + np.exp(np.minimum(log_odds, 700.0)))
    # s = 1 is the limit (beta + T) log(1 + t / (beta + T)); fits never land on it exactly
    rate = (r + x) * (beta + big_t) / ((alpha + big_t) * (s - 1))
    return np.asarray(rate * (1 - ((beta + big_t) / (beta + big_t + t)) ** (s - 1)) * alive)


def mbgnbd_log_likelihood(params: Params, x: Floats, t_x: Floats, big_t: Floats) -> Floats:
    """Each customer's MBG/NBD log-likelihood of (r, alpha, a, b)."""
    r, alpha, a, b = params
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x + 1) - betaln(a, b)
    alive = -(r + x) * np.log(alpha + big_t)
    died = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
    return np.asarray(head + np.logaddexp(alive, died), dtype=np.float64)


def mbgnbd_expected(params: Params, t: float, x: Floats, t_x: Floats, big_t: Floats) -> Floats:
    """E[Y(t) | x, t_x, T] under MBG/NBD."""
    r, alpha, a, b = params
    alive = 1 / (1 + a / (b + x) * ((alpha + big_t) / (alpha + t_x)) ** (r + x))
    tail = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(
        r + x, b + x + 1, a + b + x, t / (alpha + big_t + t)
    )
    return np.asarray((a + b + x) / (a - 1) * tail * alive, dtype=np.float64)


def _fit(
    name: str,
    names: tuple[str, str, str, str],
    each: _Likelihood,
    columns: tuple[Sequence[float] | Floats, Sequence[float] | Floats, Sequence[float] | Floats],
    start: Callable[[float], Sequence[float]],
) -> Fitted:
    x, t_x, big_t = (np.asarray(c, dtype=np.float64) for c in columns)
    problems = _check({"x": x, "t_x": t_x, "T": big_t}, repeat=x, min_customers=MIN_CUSTOMERS)
    if problems:
        raise InsufficientData(f"cannot fit {name}", problems)
    (ux, ut, u_big_t), weights = _distinct(x, t_x, big_t)
    scale = float(np.log(np.mean(u_big_t) or 1.0))

    def negative(log_params: Floats) -> float:
        with np.errstate(all="ignore"):
            value = float(np.sum(each(np.exp(log_params), ux, ut, u_big_t) * weights))
        return -value if np.isfinite(value) else 1e300

    # Nelder-Mead first: 2F1 overflows in parts of the range, and L-BFGS-B's first line search
    # stepped into them and stopped at its start (seen on two CDNOW validation windows)
    first: Any = minimize(
        negative,
        np.asarray(start(scale), dtype=np.float64),
        method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000},
    )
    polish: Any = minimize(negative, first.x, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 4)
    best = polish if polish.fun <= first.fun else first
    values, log_likelihood = np.exp(best.x), -float(best.fun)
    if not (first.success and _inside(best.x) and np.isfinite(log_likelihood)):
        raise InsufficientData(
            f"cannot fit {name}",
            [Problem(where="likelihood", what="no interior maximum: the data do not identify it")],
        )
    v = tuple(float(value) for value in values)
    return Fitted(names=names, values=(v[0], v[1], v[2], v[3]), log_likelihood=log_likelihood)


def fit_pareto_nbd(
    x: Sequence[float] | Floats, t_x: Sequence[float] | Floats, big_t: Sequence[float] | Floats
) -> Fitted:
    """Fit Pareto/NBD by maximum likelihood (time in weeks, as BG/NBD)."""
    return _fit(
        "Pareto/NBD",
        PARETO_NAMES,
        pareto_nbd_log_likelihood,
        (x, t_x, big_t),
        # log parameters; alpha and beta near the mean age, apart: alpha = beta switches the
        # 2F1 of A_0 and s = 1 is a limit of E[Y(t)], and L-BFGS-B stalled at either start
        lambda log_age: (0.0, log_age, -0.5, log_age + 0.5),
    )


def fit_mbgnbd(
    x: Sequence[float] | Floats, t_x: Sequence[float] | Floats, big_t: Sequence[float] | Floats
) -> Fitted:
    """Fit MBG/NBD by maximum likelihood (time in weeks, as BG/NBD)."""
    return _fit(
        "MBG/NBD",
        MBG_NAMES,
        mbgnbd_log_likelihood,
        (x, t_x, big_t),
        lambda log_age: (0.0, log_age, 0.0, 0.0),
    )


@frozen(kw_only=True)
class CovariateFit:
    """BG/NBD whose purchase-rate scale depends on one covariate per customer.

    Customer i's alpha is ``alpha * exp(-coefficient * z_i)`` (Fader and Hardie's way of adding
    time-invariant covariates to the Gamma mixing distribution): a positive coefficient means
    customers with a larger z buy more often.
    """

    r: float
    alpha: float
    a: float
    b: float
    coefficient: float
    log_likelihood: float


def bgnbd_covariate_log_likelihood(
    params: Floats, x: Floats, t_x: Floats, big_t: Floats, z: Floats
) -> Floats:
    """Each customer's log-likelihood of (log r, log alpha, log a, log b, coefficient)."""
    r, alpha0, a, b = (float(v) for v in np.exp(params[:4]))
    alpha = alpha0 * np.exp(-params[4] * z)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    head += gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    alive = -(r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        died = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return np.asarray(head + np.logaddexp(alive, died), dtype=np.float64)


def fit_bgnbd_covariate(
    x: Sequence[float] | Floats,
    t_x: Sequence[float] | Floats,
    big_t: Sequence[float] | Floats,
    z: Sequence[float] | Floats,
) -> CovariateFit:
    """Fit BG/NBD with one covariate on the purchase-rate scale (see :class:`CovariateFit`)."""
    xs, ts, bigs, zs = (np.asarray(c, dtype=np.float64) for c in (x, t_x, big_t, z))
    problems = _check({"x": xs, "t_x": ts, "T": bigs}, repeat=xs, min_customers=MIN_CUSTOMERS)
    if not problems and (len(zs) != len(xs) or not np.all(np.isfinite(zs))):
        problems.append(Problem(where="z", what="one finite covariate per customer"))
    if problems:
        raise InsufficientData("cannot fit BG/NBD with a covariate", problems)

    def negative(params: Floats) -> float:
        with np.errstate(all="ignore"):
            value = float(np.sum(bgnbd_covariate_log_likelihood(params, xs, ts, bigs, zs)))
        return -value if np.isfinite(value) else 1e300

    start = np.array([0.0, float(np.log(np.mean(bigs) or 1.0)), 0.0, 0.0, 0.0])
    # the likelihood is smooth here (no 2F1): L-BFGS-B, and Nelder-Mead only if it stalls
    bounds = [(-12.0, 12.0)] * 4 + [(-_MAX_COEFFICIENT, _MAX_COEFFICIENT)]
    found: Any = minimize(negative, start, method="L-BFGS-B", bounds=bounds)
    if not found.success:
        found = minimize(
            negative,
            found.x,
            method="Nelder-Mead",
            options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 5000},
        )
    inside = _inside(found.x[:4]) and abs(found.x[4]) < _MAX_COEFFICIENT - 0.5
    if not (found.success and inside):
        raise InsufficientData(
            "cannot fit BG/NBD with a covariate",
            [Problem(where="likelihood", what="no interior maximum: the data do not identify it")],
        )
    r, alpha, a, b = (float(v) for v in np.exp(found.x[:4]))
    return CovariateFit(
        r=r, alpha=alpha, a=a, b=b, coefficient=float(found.x[4]), log_likelihood=-float(found.fun)
    )


def bgnbd_covariate_expected(
    fit: CovariateFit, t: float, columns: tuple[Floats, Floats, Floats], z: Floats
) -> Floats:
    """E[Y(t) | x, t_x, T, z]: BG/NBD's eq. 10 with each customer's own alpha.

    ``columns`` is (x, t_x, T) of every customer.
    """
    x, t_x, big_t = columns
    r, a, b = fit.r, fit.a, fit.b
    alpha = fit.alpha * np.exp(-fit.coefficient * z)
    tail = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(
        r + x, b + x, a + b + x - 1, t / (alpha + big_t + t)
    )
    odds = np.where(
        x > 0, a / np.maximum(b + x - 1, 1e-12) * ((alpha + big_t) / (alpha + t_x)) ** (r + x), 0.0
    )
    return np.asarray((a + b + x - 1) / (a - 1) * tail / (1 + odds), dtype=np.float64)
