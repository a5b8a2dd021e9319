"""The measurements the SDK builds add exactly the noise their theory says (sampled outside the ledger)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from personakit.analytics._plan import Shape, build_plan

SAMPLES = 10_000
ALPHA = 1e-6
#: Kolmogorov-Smirnov critical value at ALPHA (asymptotic; conservative for a discrete law).
CRITICAL = math.sqrt(-math.log(ALPHA / 2) / (2 * SAMPLES))


def discrete_laplace_cdf(x: np.ndarray, scale: float) -> np.ndarray:
    """P(X <= x) for P(X = k) proportional to exp(-|k| / scale), k an integer."""
    p = math.exp(-1 / scale)
    return np.where(x >= 0, 1 - p ** (x + 1) / (1 + p), p ** (-x) / (1 + p))


def ks_discrete(noise: np.ndarray, scale: float) -> float:
    """The KS statistic sup |F_n - F| over the support (both sides of every jump)."""
    support = np.arange(noise.min() - 1, noise.max() + 1)
    empirical = np.searchsorted(np.sort(noise), support, side="right") / noise.size
    return float(np.max(np.abs(empirical - discrete_laplace_cdf(support, scale))))


def _sample(shape: Shape, data: np.ndarray) -> tuple[np.ndarray, float]:
    plan = build_plan(shape)
    draws = np.array([plan.measurement(data) for _ in range(SAMPLES)], dtype=np.int64)
    return draws, plan.scale


@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_count_noise_is_discrete_laplace_with_the_planned_scale(epsilon: float) -> None:
    """Count of 50 rows, 3 per customer: noise ~ discrete Laplace(3 / epsilon), KS and mean."""
    data = np.arange(50, dtype=np.int64)
    draws, scale = _sample(Shape(kind="count", dtype="int", d_in=3, epsilon=epsilon), data)
    assert scale == pytest.approx(3 / epsilon)
    noise = draws - 50
    assert ks_discrete(noise, scale) < CRITICAL
    sd = math.sqrt(2 * math.exp(-1 / scale)) / (1 - math.exp(-1 / scale))
    assert abs(noise.mean()) < 5 * sd / math.sqrt(SAMPLES)


def test_clamped_sum_noise_is_discrete_laplace_around_the_clamped_sum() -> None:
    """Sum of cents clamped to [0, 500], 2 rows per customer: centred on the clamped sum."""
    data = np.array([-40, 0, 120, 499, 500, 900, 10_000, 77], dtype=np.int64)
    truth = int(np.clip(data, 0, 500).sum())
    shape = Shape(kind="sum", dtype="int", d_in=2, lower=0, upper=500, epsilon=1.0)
    draws, scale = _sample(shape, data)
    assert scale == pytest.approx(1000.0)
    noise = draws - truth
    assert ks_discrete(noise, scale) < CRITICAL
    sd = math.sqrt(2 * math.exp(-1 / scale)) / (1 - math.exp(-1 / scale))
    assert abs(noise.mean()) < 5 * sd / math.sqrt(SAMPLES)


def test_the_ks_check_rejects_a_wrong_scale() -> None:
    """The test has teeth: the same draws against twice the scale fail it."""
    data = np.arange(50, dtype=np.int64)
    draws, scale = _sample(Shape(kind="count", dtype="int", d_in=3, epsilon=1.0), data)
    assert ks_discrete(draws - 50, 2 * scale) > CRITICAL


def test_loss_is_what_opendp_maps_and_never_above_the_target() -> None:
    """The planned loss is measurement.map(d_in), at most the epsilon asked for."""
    for epsilon in (0.1, 0.3, 1.0 / 3, 0.7):
        plan = build_plan(
            Shape(kind="sum", dtype="float", d_in=7, lower=-1.5, upper=2.5, epsilon=epsilon)
        )
        assert plan.loss.epsilon == plan.measurement.map(7)
        assert plan.loss.epsilon <= epsilon
