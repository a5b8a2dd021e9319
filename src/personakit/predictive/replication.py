"""The CDNOW replication (Fader, Hardie and Lee 2005) and the ranking against shop rules.

Needs numpy and scipy (``personakit[predict]``) and the CDNOW files that ship with
``lifetimes==0.11.3`` (``pip install --no-deps lifetimes==0.11.3``; only its data are read).
The tests and ``benchmarks/bench_predictive.py`` run it; nothing here is used by the kit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Final

import numpy as np
from attrs import frozen
from numpy.typing import NDArray

from personakit.predictive._alternatives import (
    bgnbd_covariate_expected,
    fit_bgnbd_covariate,
    fit_mbgnbd,
    fit_pareto_nbd,
    mbgnbd_expected,
    pareto_nbd_expected,
)
from personakit.predictive._fit import (
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    unconditional_expected,
)
from personakit.predictive._params import BgNbdParams, GammaGammaParams
from personakit.predictive._summary import Purchase, cdnow_path, read_cdnow, summarize

__all__ = [
    "ACTUAL_WEEK78",
    "BLEND_WEIGHTS",
    "CALIBRATION_END",
    "HOLDOUT_END",
    "PUBLISHED_BGNBD",
    "PUBLISHED_GAMMA_GAMMA",
    "START",
    "VALIDATION_ENDS",
    "Columns",
    "Replication",
    "Validation",
    "blend",
    "columns",
    "replicate",
    "rule_scores",
    "top_capture",
    "validate",
]

#: The paper's 39-week calibration period ends on this day; the holdout runs 39 weeks more.
CALIBRATION_END: Final = date(1997, 9, 30)
HOLDOUT_END: Final = date(1998, 6, 30)
#: The first day of the CDNOW cohort: weeks count from here.
START: Final = date(1997, 1, 1)
#: Fader, Hardie and Lee (2005), table 1; Fader and Hardie (2013), the Gamma-Gamma note.
PUBLISHED_BGNBD: Final = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA: Final = {"p": 6.25, "q": 3.74, "gamma": 15.44}
#: Validation windows carved from the calibration period: statistics to each of these days,
#: purchases counted from the day after to CALIBRATION_END (19, 13 and 9 weeks). Three windows,
#: because one 236-customer top decile moves by 0.01-0.02 with the window alone.
VALIDATION_ENDS: Final = (date(1997, 5, 20), date(1997, 6, 30), date(1997, 7, 31))
#: Weights of the model's rank in the ranking score tried on the validation windows (the rest
#: is the repeat-count rule's rank). 0 is left out: it would be the rule itself.
BLEND_WEIGHTS: Final = tuple(step / 10 for step in range(1, 11))
#: The paper's tracking plot: cumulative repeat purchases by week 78 (the data's actual count).
ACTUAL_WEEK78: Final = 4339

_Floats = NDArray[np.float64]


@frozen(kw_only=True)
class Columns:
    """The sample's statistics at a calibration end, and what each customer did after."""

    x: _Floats
    t_x: _Floats
    big_t: _Floats
    mean_value: _Floats
    spend: _Floats
    birth_week: _Floats
    holdout: _Floats


def columns(purchases: Sequence[Purchase], end: date, holdout_end: date) -> Columns:
    """Statistics to ``end`` and repeat purchase days in (``end``, ``holdout_end``]."""
    calibration = summarize(purchases, end)
    later = summarize(purchases, holdout_end)
    spend: dict[str, float] = {}
    for purchase in purchases:
        if purchase.day <= end:
            spend[purchase.customer] = spend.get(purchase.customer, 0.0) + purchase.value
    names = sorted(calibration)

    def column(values: list[float]) -> _Floats:
        return np.asarray(values, dtype=np.float64)

    return Columns(
        x=column([calibration[n].x for n in names]),
        t_x=column([calibration[n].t_x for n in names]),
        big_t=column([calibration[n].big_t for n in names]),
        mean_value=column([calibration[n].mean_value for n in names]),
        spend=column([spend[n] for n in names]),
        birth_week=column([(calibration[n].first - START).days / 7 for n in names]),
        holdout=column([later[n].x - calibration[n].x for n in names]),
    )


def top_capture(scores: _Floats, outcome: _Floats, share: float = 0.1) -> float:
    """Share of ``outcome`` held by the top ``share`` of customers by score; ties pro rata."""
    wanted = share * len(scores)
    order = np.argsort(-scores, kind="stable")
    ranked, got = scores[order], outcome[order]
    # Group equal scores: a group straddling the cut counts for the fraction that fits.
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    ends = np.r_[starts[1:], len(ranked)]
    taken = captured = 0.0
    for start, end in zip(starts, ends, strict=True):
        size = end - start
        take = min(size, wanted - taken)
        if take <= 0:
            break
        captured += float(got[start:end].sum()) * take / size
        taken += take
    total = float(outcome.sum())
    return float(captured / total) if total else 0.0


def _quintile(values: _Floats) -> _Floats:
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    # Equal values share their mean rank, so a tie never straddles two quintiles by accident.
    _, inverse = np.unique(values, return_inverse=True)
    mean_rank = np.bincount(inverse, ranks) / np.bincount(inverse)
    return np.asarray(np.ceil(5 * mean_rank[inverse] / len(values)), dtype=np.float64)


def rule_scores(data: Columns) -> dict[str, _Floats]:
    """The rules a shop would rank by: repeat count (recency breaks ties), spend, RFM sum."""
    weeks_since = data.big_t - data.t_x
    # recency is below one unit of x (at most 39 weeks / 100), so it only breaks ties
    repeat = data.x - weeks_since / 100
    rfm = _quintile(-weeks_since) + _quintile(data.x) + _quintile(data.spend)
    return {"repeat_recency": repeat, "past_spend": data.spend, "rfm_quintile_sum": rfm}


def _average_ranks(values: _Floats) -> _Floats:
    """Ranks in (0, 1]; equal values share their mean rank, so ties stay ties."""
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse = np.unique(values, return_inverse=True)
    return np.asarray((np.bincount(inverse, ranks) / np.bincount(inverse))[inverse] / len(values))


def blend(expected: _Floats, rule: _Floats, weight: float) -> _Floats:
    """The ranking score: ``weight`` x the model's rank + (1 - ``weight``) x the rule's rank.

    Ranks, not values, so the weight means the same on any scale and any horizon.
    """
    return weight * _average_ranks(expected) + (1 - weight) * _average_ranks(rule)


@frozen(kw_only=True)
class Validation:
    """What the validation windows carved from the calibration period chose, and why.

    ``margins`` maps each blend weight to its capture minus the repeat-count rule's, averaged
    over the windows; ``models`` does the same for the expected purchases of plain BG/NBD,
    Pareto/NBD, MBG/NBD and BG/NBD with the first day's spend as a covariate; ``weight`` is
    the best blend weight (the smallest on a tie).
    """

    weight: float
    margins: dict[float, float]
    models: dict[str, float]
    #: The covariate model's coefficient, averaged over the windows (0 without alternatives).
    covariate_coefficient: float = 0.0


def _first_spend(data: Columns) -> _Floats:
    """The log of each customer's first-day spend, standardized: the covariate tried."""
    first = np.log1p(np.maximum(data.spend - data.mean_value * data.x, 0.0))
    spread = float(first.std()) or 1.0
    return np.asarray((first - first.mean()) / spread, dtype=np.float64)


def validate(
    purchases: Sequence[Purchase], end: date = CALIBRATION_END, *, alternatives: bool = True
) -> Validation:
    """Choose the ranking score on windows that end by ``end``: nothing after it is read.

    ``alternatives=False`` skips fitting Pareto/NBD and MBG/NBD (``models`` then has BG/NBD only).
    """
    margins = dict.fromkeys(BLEND_WEIGHTS, 0.0)
    names = ("bgnbd", "pareto_nbd", "mbgnbd", "bgnbd_first_spend") if alternatives else ("bgnbd",)
    models = dict.fromkeys(names, 0.0)
    coefficient = 0.0
    share = 1 / len(VALIDATION_ENDS)
    for cut in VALIDATION_ENDS:
        data = columns(purchases, cut, end)
        weeks = (end - cut).days / 7
        rule = rule_scores(data)["repeat_recency"]
        base = top_capture(rule, data.holdout)
        bgnbd = fit_bgnbd(data.x, data.t_x, data.big_t)
        expected = expected_purchases(bgnbd, weeks, data.x, data.t_x, data.big_t)
        for weight in BLEND_WEIGHTS:
            captured = top_capture(blend(expected, rule, weight), data.holdout)
            margins[weight] += (captured - base) * share
        models["bgnbd"] += (top_capture(expected, data.holdout) - base) * share
        if not alternatives:
            continue
        pareto = fit_pareto_nbd(data.x, data.t_x, data.big_t).values
        mbg = fit_mbgnbd(data.x, data.t_x, data.big_t).values
        z = _first_spend(data)
        covariate = fit_bgnbd_covariate(data.x, data.t_x, data.big_t, z)
        coefficient += covariate.coefficient * share
        stats = (data.x, data.t_x, data.big_t)
        for name, score in (
            ("pareto_nbd", pareto_nbd_expected(pareto, weeks, *stats)),
            ("mbgnbd", mbgnbd_expected(mbg, weeks, *stats)),
            ("bgnbd_first_spend", bgnbd_covariate_expected(covariate, weeks, stats, z)),
        ):
            models[name] += (top_capture(score, data.holdout) - base) * share
    # round so that a difference in the 12th decimal does not pick a weight
    best = max(BLEND_WEIGHTS, key=lambda weight: (round(margins[weight], 9), -weight))
    return Validation(
        weight=best, margins=margins, models=models, covariate_coefficient=coefficient
    )


@frozen(kw_only=True)
class Replication:
    """What the CDNOW replication measured."""

    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    week78_expected: float
    week78_actual: int
    holdout_expected: float
    holdout_actual: float
    clv_top10_capture: float
    bgnbd_top10_capture: float
    rule_top10_capture: dict[str, float]
    validation: Validation

    @property
    def bgnbd_param_max_rel_err(self) -> float:
        """Largest relative error of r, alpha, a, b against the published values."""
        fitted = self.bgnbd.as_dict()
        return max(abs(fitted[k] / v - 1) for k, v in PUBLISHED_BGNBD.items())

    @property
    def gamma_gamma_max_rel_err(self) -> float:
        """Largest relative error of p, q, gamma against the published values."""
        fitted = self.gamma_gamma.as_dict()
        return max(abs(fitted[k] / v - 1) for k, v in PUBLISHED_GAMMA_GAMMA.items())

    @property
    def week78_rel_err(self) -> float:
        """Relative error of the expected cumulative repeat purchases at week 78."""
        return abs(self.week78_expected / self.week78_actual - 1)


def replicate(purchases: Sequence[Purchase] | None = None) -> Replication:
    """Fit the 39-week calibration of the CDNOW sample; track and rank over the holdout.

    The replication's figures come from BG/NBD and Gamma-Gamma fitted on the calibration period.
    The ranking score (``clv_top10_capture``) is the blend of BG/NBD's expected holdout purchases
    and the repeat-count rule whose weight :func:`validate` chose on windows inside the
    calibration period; ``bgnbd_top10_capture`` is BG/NBD's expectation alone.
    """
    if purchases is None:
        purchases = read_cdnow(cdnow_path("CDNOW_sample.txt"))
    data = columns(purchases, CALIBRATION_END, HOLDOUT_END)
    bgnbd = fit_bgnbd(data.x, data.t_x, data.big_t)
    gamma_gamma = fit_gamma_gamma(data.x, data.mean_value)
    weeks = (HOLDOUT_END - CALIBRATION_END).days / 7
    expected = expected_purchases(bgnbd, weeks, data.x, data.t_x, data.big_t)
    rules = rule_scores(data)
    chosen = validate(purchases)
    ranking = blend(expected, rules["repeat_recency"], chosen.weight)
    return Replication(
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        week78_expected=float(unconditional_expected(bgnbd, 78 - data.birth_week).sum()),
        week78_actual=ACTUAL_WEEK78,
        holdout_expected=float(expected.sum()),
        holdout_actual=float(data.holdout.sum()),
        clv_top10_capture=top_capture(ranking, data.holdout),
        bgnbd_top10_capture=top_capture(expected, data.holdout),
        rule_top10_capture={name: top_capture(v, data.holdout) for name, v in rules.items()},
        validation=chosen,
    )
