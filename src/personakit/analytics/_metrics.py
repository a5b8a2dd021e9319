"""Named shop metrics and experiment conversion, built on the service's public queries.

A metric that needs two releases splits the privacy asked in halves (epsilon, delta, rho), so
its total loss is what was asked; each half is its own ledger release.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from personakit.analytics._queries import ratios, upper_bound
from personakit.analytics._result import DPResult
from personakit.exceptions import InvalidInput, Problem

if TYPE_CHECKING:
    from personakit.analytics._service import Analytics

__all__ = ["METRICS", "conversion", "keyed_sums", "metric"]

METRICS: Final = ("aov", "clv_by_cohort", "repeat_rate", "segment_sizes")
#: The dataset personalization offers its segment memberships through.
SEGMENTS_DATASET: Final = "personalization.segments"
_Z95: Final = 1.959963984540054


def halves(spend: Mapping[str, Any]) -> dict[str, Any]:
    """``spend`` with epsilon, delta and rho halved (anything odd passes through to be refused)."""
    out = dict(spend)
    for key in ("epsilon", "delta", "rho"):
        value = spend.get(key)
        if isinstance(value, float) or (
            isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**1000
        ):
            out[key] = value / 2
    return out


def _combined(first: DPResult, second: DPResult, value: Any, interval: Any, what: str) -> DPResult:
    return DPResult(
        value=value,
        interval=interval,
        loss=first.loss.plus(second.loss),
        spent_now=first.spent_now or second.spent_now,
        dry_run=first.dry_run,
        bounds=first.bounds,
        mechanism=what,
        dataset=first.dataset,
        version=first.version,
        release=second.release,
    )


def _both(
    analytics: Analytics,
    dataset: str,
    first: Callable[..., DPResult],
    second: Callable[..., DPResult],
    spend: Mapping[str, Any],
) -> tuple[DPResult, DPResult]:
    """Both releases, or neither: the pair's cost is checked against the cap first.

    Dry runs say what each would cost now (nothing for an answer already stored), so a retry
    after the first half was released is not refused for the half it will not spend again.
    """
    if spend.get("dry_run") is True:
        return first(**spend), second(**spend)
    probe = {**spend, "dry_run": True}
    cost = first(**probe).loss.plus(second(**probe).loss)
    analytics.ledger.check(dataset, cost)
    return first(**spend), second(**spend)


def metric(
    analytics: Analytics,
    name: object,
    *,
    upper: object,
    cohorts: object,
    spend: Mapping[str, Any],
    segments: object = None,
) -> DPResult:
    """``aov``, ``repeat_rate``, ``clv_by_cohort`` or ``segment_sizes`` (see Analytics.metric)."""
    if name == "aov":
        return analytics.mean("orders", "value_cents", bounds=(0, upper_bound(upper)), **spend)
    if name == "repeat_rate":
        return analytics.mean("customers", "repeat", bounds=(0, 1), **spend)
    if name == "segment_sizes":
        if not isinstance(segments, (list, tuple)):
            raise InvalidInput(
                "segment_sizes needs segments",
                [Problem(where="segments", what="required: segment names (public keys)")],
            )
        # counts per public key: a customer is in several segments, so the dataset's row
        # bound (rows per subject) is the sensitivity the group-by already uses
        return analytics.groupby(SEGMENTS_DATASET, "segment", keys=list(segments), **spend)
    if name == "clv_by_cohort":
        if not isinstance(cohorts, (list, tuple)):
            raise InvalidInput(
                "clv_by_cohort needs cohorts",
                [Problem(where="cohorts", what="required: months as yyyymm")],
            )
        bound = upper_bound(upper)
        keys = list(cohorts)

        def total(**options: Any) -> DPResult:
            return analytics.groupby(
                "customers", "cohort", keys=keys, column="value_cents", bounds=(0, bound), **options
            )

        def count(**options: Any) -> DPResult:
            return analytics.groupby("customers", "cohort", keys=keys, **options)

        summed, counted = _both(analytics, "customers", total, count, halves(spend))
        what = f"{summed.mechanism} sums / counts per cohort"
        return _combined(summed, counted, ratios(summed, counted), None, what)
    raise InvalidInput(
        "unknown metric", [Problem(where="metric", what="one of " + ", ".join(METRICS))]
    )


def conversion(
    analytics: Analytics,
    dataset: str,
    arm: str,
    outcome: str,
    *,
    arms: Sequence[object],
    spend: Mapping[str, Any],
) -> DPResult:
    """Rates per arm, and uplift (treatment minus holdout) with a 95% interval.

    Two releases, each with half the privacy: the count per arm and the sum of the 0/1
    ``outcome`` per arm. The interval combines each arm's sampling variance
    (``r(1 - r) / n``) with the variance of the noise (``2 b^2`` for Laplace of scale ``b``,
    ``sigma^2`` for Gaussian), to first order; it is an approximation, said so in the
    mechanism.
    """
    if not isinstance(outcome, str):
        # groupby reads column=None as "count": the outcome must name a column, checked before
        # anything is spent.
        raise InvalidInput(
            "invalid conversion", [Problem(where="outcome", what="must name a 0/1 column")]
        )
    half = halves(spend)
    keys = list(arms)
    count = analytics.groupby(dataset, arm, keys=keys, **half)
    converted = analytics.groupby(dataset, arm, keys=keys, column=outcome, bounds=(0, 1), **half)
    what = f"{count.mechanism} counts and outcome sums per arm (interval: normal approximation)"
    if count.value is None or converted.value is None:
        return _combined(count, converted, None, None, what)
    rates: dict[str, float | None] = {}
    variance = 0.0
    noise_count = _noise_variance(count)
    noise_sum = _noise_variance(converted)
    for key in (str(k) for k in keys):
        n = max(0, int(count.value[key]))
        if n == 0:
            rates[key] = None
            continue
        rate = min(1.0, max(0.0, float(converted.value[key]) / n))
        rates[key] = rate
        variance += rate * (1 - rate) / n + noise_sum / n**2 + rate**2 * noise_count / n**2
    treated, held = (rates[str(k)] for k in keys)
    uplift = None if treated is None or held is None else treated - held
    interval = (
        None
        if uplift is None or not math.isfinite(variance)
        else [uplift - _Z95 * math.sqrt(variance), uplift + _Z95 * math.sqrt(variance)]
    )
    value = {"rates": rates, "uplift": uplift}
    return _combined(count, converted, value, interval, what)


def _noise_variance(result: DPResult) -> float:
    # the stored interval is the 95% half-width: b ln 20 (Laplace) or 1.96 sigma (Gaussian)
    width = float(result.interval or 0.0)
    try:
        if "gaussian" in result.mechanism:
            return (width / _Z95) ** 2
        return 2 * (width / math.log(20)) ** 2
    except OverflowError:  # a tiny epsilon's noise: no finite interval (the answer stands)
        return math.inf


def keyed_sums(
    analytics: Analytics,
    dataset: str,
    by: str,
    column: str,
    *,
    bounds: Sequence[float] | None,
    impute: float | None,
    spend: Mapping[str, Any],
) -> DPResult:
    """Sums per key where the keys come from the data (see :meth:`Analytics.groupby`).

    The thresholded count (half the privacy, delta included) releases the keys; the sums over
    those released keys are then an ordinary public-key release (the other half). The pair's
    cost is checked first, with a placeholder key (a public-key sum costs the same whatever
    the keys: the groups are disjoint).
    """
    group = analytics.dataset(dataset).column(by, "by")
    placeholder: Any = "" if group.kind == "category" else 0

    def counts(**options: Any) -> DPResult:
        return analytics.groupby(dataset, by, **options)

    def sums(keys: list[Any]) -> Callable[..., DPResult]:
        def run(**options: Any) -> DPResult:
            return analytics.groupby(
                dataset, by, keys=keys, column=column, bounds=bounds, impute=impute, **options
            )

        return run

    half = halves(spend)
    pure = {k: v for k, v in half.items() if k != "delta"}  # the sums need no delta
    if half.get("dry_run") is True:
        return _combined(counts(**half), sums([placeholder])(**pure), None, None, "keyed sums")
    probe = {**half, "dry_run": True}
    cost = counts(**probe).loss.plus(sums([placeholder])(**{**pure, "dry_run": True}).loss)
    analytics.ledger.check(dataset, cost)
    found = counts(**half)
    # a released label that could not be a public key (unprintable, over 256 characters) is
    # left out of the sums: the public-key path refuses such keys
    keys = [
        k if group.kind == "category" else int(k)
        for k in found.value
        if group.kind != "category" or (k.isprintable() and len(k) <= 256)  # noqa: PLR2004
    ]
    if not keys:  # nothing above the threshold: no sums to release
        return _combined(found, found, {}, None, f"{found.mechanism}; no key released")
    summed = sums(keys)(**pure)
    what = f"{found.mechanism} keys, then {summed.mechanism} sums"
    return _combined(found, summed, summed.value, summed.interval, what)
