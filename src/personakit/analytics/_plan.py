"""Query plans: the OpenDP measurement of one query shape, its exact loss and its accuracy.

OpenDP is imported here, and only when a plan is built. ``contrib`` is enabled because every
mechanism used (count, clamp, sum, discrete Laplace, Gaussian, quantile scores, count-by and
its thresholded release) is contributed code; ``floating-point`` is *not* enabled: float
Laplace noise in OpenDP is already protected against the floating-point attacks that feature
is about, and integer columns (money in cents) get the discrete Laplace.

A plan's measurement depends only on the query's *shape* (kind, column type, bounds, bins or
number of keys, ``d_in``, privacy target), never on the data, so plans are cached per shape:
resolving a noise scale (a few constructions and ``map`` calls) happens once per shape.

Loss is always ``measurement.map(d_in)``: what OpenDP proves, never the epsilon asked for.
For the group-by sum over public keys the group-sums vector is built with numpy (clamp, then
a sum per key); one customer's ``k`` rows change that vector by at most ``k * max|bound|``
in L1 (and in L2), so the vector measurement's ``d_in`` is that, and OpenDP's vector Laplace
or Gaussian ``map`` gives the loss (parallel composition over disjoint groups).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from attrs import frozen

from personakit.analytics._result import Loss, Privacy
from personakit.exceptions import InvalidInput, Problem

__all__ = ["Plan", "Plans", "Shape", "build_plan", "ln20"]

_CACHE_SIZE: Final = 256
_ALPHA: Final = 0.05
ln20: Final = math.log(1 / _ALPHA)


@frozen(kw_only=True)
class Shape:
    """What a measurement depends on: never the data itself."""

    kind: (
        str  # count | sum | mean | quantile | histogram | groupby_count | groupby_sum | keys_count
    )
    dtype: str  # int | float
    d_in: int
    lower: float = 0.0
    upper: float = 0.0
    size: int = 0  # categories (histogram bins, public keys)
    alpha: float = 0.5
    candidates: tuple[float, ...] = ()
    epsilon: float | None = None
    delta: float | None = None
    rho: float | None = None
    accuracy: float | None = None


@frozen(kw_only=True, eq=False)
class Plan:
    """A built measurement with its exact loss, noise scale and 95% noise half-width."""

    shape: Shape
    measurement: Any
    d_in: Any
    loss: Loss
    scale: float
    half_width: float | None
    mechanism: str
    threshold: int | None = None
    parts: tuple[Plan, ...] = ()


class Plans:
    """A per-service cache of plans by shape (least recently used go first).

    A plan depends only on its shape, so reusing one is exact; what it saves is resolving the
    noise scale (a few constructions and ``map`` calls).
    """

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        """Keep at most ``size`` plans."""
        self._size = size
        self._lock = threading.Lock()
        self._plans: OrderedDict[Shape, Plan] = OrderedDict()

    def __repr__(self) -> str:
        """Render with the number of plans kept."""
        return f"Plans({len(self._plans)})"

    def get(self, shape: Shape) -> Plan:
        """The plan for ``shape``, built on first use."""
        with self._lock:
            found = self._plans.get(shape)
            if found is not None:
                self._plans.move_to_end(shape)
                return found
        plan = build_plan(shape)
        with self._lock:
            self._plans[shape] = plan
            while len(self._plans) > self._size:
                self._plans.popitem(last=False)
        return plan

    def clear(self) -> None:
        """Forget every plan (benchmarks time a shape not yet resolved)."""
        with self._lock:
            self._plans.clear()


def build_plan(shape: Shape) -> Plan:
    """Build the plan for ``shape``; raises :class:`InvalidInput` if it cannot be met."""
    return _build(shape)


def _dp() -> Any:
    import opendp.prelude as dp  # noqa: PLC0415 - lazily: only when a query runs

    dp.enable_features("contrib")
    return dp


def _sensitivity(shape: Shape) -> float:
    if shape.kind in {"count", "histogram", "groupby_count", "keys_count"}:
        return float(shape.d_in)
    return float(shape.d_in) * max(abs(shape.lower), abs(shape.upper))


def _loss(measurement: Any, d_in: Any, model: str) -> Loss:
    found = measurement.map(d_in)
    if model == "zcdp":
        return Loss(model="zcdp", rho=float(found))
    if isinstance(found, tuple):
        return Loss(model="approx", epsilon=float(found[0]), delta=float(found[1]))
    return Loss(model="approx" if model == "approx" else "pure", epsilon=float(found))


def _within(loss: Loss, shape: Shape) -> bool:
    if shape.rho is not None:
        return loss.rho <= shape.rho
    if shape.epsilon is not None:
        return loss.epsilon <= shape.epsilon and loss.delta <= (shape.delta or 0.0)
    return True


def _resolve(
    make: Callable[[float], Any], d_in: Any, scale: float, shape: Shape, model: str
) -> tuple[Any, float, Loss]:
    """Smallest tried scale >= ``scale`` whose OpenDP loss fits the target (rounding nudges up)."""
    for step in range(60):
        measurement = make(scale)
        loss = _loss(measurement, d_in, model)
        if _within(loss, shape):
            return measurement, scale, loss
        scale *= 1 + 2.0 ** (step - 50)
    raise InvalidInput(
        "no noise scale meets the privacy target", [Problem(where="privacy", what="unreachable")]
    )


def _model(shape: Shape) -> str:
    return (
        Privacy(epsilon=shape.epsilon, delta=shape.delta, rho=shape.rho).model
        if shape.accuracy is None
        else "pure"
    )


def _scale(shape: Shape, sensitivity: float) -> float:
    if shape.accuracy is not None:
        return shape.accuracy / ln20
    if shape.rho is not None:
        return sensitivity / math.sqrt(2 * shape.rho)
    assert shape.epsilon is not None
    return sensitivity / shape.epsilon


def _half_width(scale: float, model: str) -> float:
    # 95%: Laplace P(|X| > b ln 20) = 0.05 (the discrete one is tighter); Gaussian 1.96 sigma
    return 1.959963984540054 * scale if model == "zcdp" else scale * ln20


def _build(shape: Shape) -> Plan:  # noqa: PLR0911 (one return per query kind)
    dp = _dp()
    model = _model(shape)
    T = dp.i64 if shape.dtype == "int" else float  # noqa: N806 (OpenDP's type-argument name)
    atom = dp.atom_domain(T=T) if shape.dtype == "int" else dp.atom_domain(T=float, nan=False)
    space = dp.vector_domain(atom), dp.symmetric_distance()
    sensitivity = _sensitivity(shape)
    noise = (
        "gaussian"
        if model == "zcdp"
        else ("discrete laplace" if shape.dtype == "int" else "laplace")
    )

    def then_noise(scale: float) -> Any:
        return dp.m.then_gaussian(scale) if model == "zcdp" else dp.m.then_laplace(scale)

    def planned(make: Callable[[float], Any], mechanism: str, d_in: Any = shape.d_in) -> Plan:
        # every noisy-vector query: resolve the scale against the loss, then one Plan
        measurement, scale, loss = _resolve(make, d_in, _scale(shape, sensitivity), shape, model)
        return Plan(
            shape=shape,
            measurement=measurement,
            d_in=d_in,
            loss=loss,
            scale=scale,
            half_width=_half_width(scale, model),
            mechanism=mechanism,
        )

    counted_noise = "gaussian" if model == "zcdp" else "discrete laplace"
    if shape.kind == "count":
        return planned(lambda s: space >> dp.t.then_count() >> then_noise(s), counted_noise)
    if shape.kind == "sum":
        bounds = (
            (int(shape.lower), int(shape.upper))
            if shape.dtype == "int"
            else (shape.lower, shape.upper)
        )
        return planned(
            lambda s: space >> dp.t.then_clamp(bounds) >> dp.t.then_sum() >> then_noise(s), noise
        )
    if shape.kind in {"histogram", "groupby_count"}:
        int_space = dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.symmetric_distance()
        categories = list(range(shape.size))
        mo = "L2Distance<int>" if model == "zcdp" else "L1Distance<int>"
        return planned(
            lambda s: (
                int_space
                >> dp.t.then_count_by_categories(categories=categories, null_category=True, MO=mo)
                >> then_noise(s)
            ),
            counted_noise,
        )
    if shape.kind == "groupby_sum":
        vector_atom = (
            dp.atom_domain(T=T) if shape.dtype == "int" else dp.atom_domain(T=float, nan=False)
        )
        vector_space = dp.vector_domain(vector_atom, size=shape.size)
        metric = (dp.l2_distance if model == "zcdp" else dp.l1_distance)(T=T)
        d_in: Any = int(sensitivity) if shape.dtype == "int" else sensitivity
        return planned(lambda s: (vector_space, metric) >> then_noise(s), noise, d_in)
    if shape.kind == "keys_count":
        return _keys_count(dp, shape, sensitivity)
    if shape.kind == "quantile":
        return _quantile(dp, shape, space, model)
    if shape.kind == "mean":
        return _mean(shape)
    raise InvalidInput("unknown query", [Problem(where="query", what="unknown kind")])


def _keys_count(dp: Any, shape: Shape, sensitivity: float) -> Plan:
    if shape.epsilon is None or shape.delta is None:
        raise InvalidInput(
            "a group-by over unknown keys needs epsilon and delta",
            [
                Problem(
                    where="delta", what="required: unknown keys are released only above a threshold"
                )
            ],
        )
    int_space = dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.symmetric_distance()
    counted = int_space >> dp.t.then_count_by()
    scale = sensitivity / shape.epsilon
    for _ in range(60):
        # the smallest threshold whose delta fits, for this scale (doubling, then bisection)
        def make(threshold: int, scale: float = scale) -> Any:
            return counted >> dp.m.then_laplace_threshold(scale=scale, threshold=threshold)

        low, high = shape.d_in, shape.d_in
        while _loss(make(high), shape.d_in, "approx").delta > shape.delta:
            low, high = high, high * 2
        while low < high:
            middle = (low + high) // 2
            if _loss(make(middle), shape.d_in, "approx").delta > shape.delta:
                low = middle + 1
            else:
                high = middle
        measurement = make(high)
        loss = _loss(measurement, shape.d_in, "approx")
        if _within(loss, shape):
            return Plan(
                shape=shape,
                measurement=measurement,
                d_in=shape.d_in,
                loss=loss,
                scale=scale,
                half_width=_half_width(scale, "approx"),
                mechanism="laplace threshold",
                threshold=high,
            )
        scale *= 1 + 1e-9
    raise InvalidInput(
        "no noise scale meets the privacy target", [Problem(where="privacy", what="unreachable")]
    )


def _quantile(dp: Any, shape: Shape, space: tuple[Any, Any], model: str) -> Plan:
    if shape.accuracy is not None:
        raise InvalidInput(
            "a quantile has no closed-form accuracy",
            [Problem(where="accuracy", what="give epsilon or rho")],
        )
    measure = dp.zero_concentrated_divergence() if model == "zcdp" else dp.max_divergence()
    candidates: list[Any] = (
        [int(c) for c in shape.candidates] if shape.dtype == "int" else list(shape.candidates)
    )

    def make(scale: float) -> Any:
        return dp.m.make_private_quantile(
            space[0], space[1], measure, candidates=candidates, alpha=shape.alpha, scale=scale
        )

    target = shape.rho if model == "zcdp" else shape.epsilon
    assert target is not None
    # the score's sensitivity is OpenDP's business: search the scale against its map
    scale = dp.binary_search_param(make, d_in=shape.d_in, d_out=target, T=float)
    measurement, scale, loss = _resolve(make, shape.d_in, scale, shape, model)
    return Plan(
        shape=shape,
        measurement=measurement,
        d_in=shape.d_in,
        loss=loss,
        scale=scale,
        half_width=None,
        mechanism="exponential (quantile score, "
        + ("gaussian" if model == "zcdp" else "gumbel")
        + ")",
    )


def _mean(shape: Shape) -> Plan:
    """A mean is a noisy sum over a noisy count, each given half the target (composed)."""
    dp = _dp()
    if shape.accuracy is not None:
        raise InvalidInput(
            "a mean has no closed-form accuracy",
            [Problem(where="accuracy", what="give epsilon or rho")],
        )
    half = {
        "epsilon": None if shape.epsilon is None else shape.epsilon / 2,
        "delta": None if shape.delta is None else shape.delta / 2,
        "rho": None if shape.rho is None else shape.rho / 2,
    }
    total = build_plan(
        Shape(
            kind="sum",
            dtype=shape.dtype,
            d_in=shape.d_in,
            lower=shape.lower,
            upper=shape.upper,
            epsilon=half["epsilon"],
            delta=half["delta"],
            rho=half["rho"],
        )
    )
    count = build_plan(
        Shape(
            kind="count",
            dtype=shape.dtype,
            d_in=shape.d_in,
            epsilon=half["epsilon"],
            delta=half["delta"],
            rho=half["rho"],
        )
    )
    measurement = dp.c.make_composition([total.measurement, count.measurement])
    loss = _loss(measurement, shape.d_in, _model(shape))
    return Plan(
        shape=shape,
        measurement=measurement,
        d_in=shape.d_in,
        loss=loss,
        scale=total.scale,
        half_width=None,
        mechanism=f"{total.mechanism} sum / {count.mechanism} count",
        parts=(total, count),
    )
