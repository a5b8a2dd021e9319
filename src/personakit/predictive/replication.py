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
    "CALIBRATION_END",
    "HOLDOUT_END",
    "PUBLISHED_BGNBD",
    "PUBLISHED_GAMMA_GAMMA",
    "START",
    "Columns",
    "Replication",
    "columns",
    "replicate",
    "rule_scores",
    "top_capture",
]

#: The paper's 39-week calibration period ends on this day; the holdout runs 39 weeks more.
CALIBRATION_END: Final = date(1997, 9, 30)
HOLDOUT_END: Final = date(1998, 6, 30)
#: The first day of the CDNOW cohort: weeks count from here.
START: Final = date(1997, 1, 1)
#: Fader, Hardie and Lee (2005), table 1; Fader and Hardie (2013), the Gamma-Gamma note.
PUBLISHED_BGNBD: Final = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA: Final = {"p": 6.25, "q": 3.74, "gamma": 15.44}
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
    rule_top10_capture: dict[str, float]

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

    The ranking score is each customer's expected purchases over the holdout. (Tuning it on a
    validation window carved from the calibration period, 26 + 13 weeks, found no blend with
    spend that ranked better there; see docs/predictive.md.)
    """
    if purchases is None:
        purchases = read_cdnow(cdnow_path("CDNOW_sample.txt"))
    data = columns(purchases, CALIBRATION_END, HOLDOUT_END)
    bgnbd = fit_bgnbd(data.x, data.t_x, data.big_t)
    gamma_gamma = fit_gamma_gamma(data.x, data.mean_value)
    weeks = (HOLDOUT_END - CALIBRATION_END).days / 7
    expected = expected_purchases(bgnbd, weeks, data.x, data.t_x, data.big_t)
    rules = {name: top_capture(score, data.holdout) for name, score in rule_scores(data).items()}
    return Replication(
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        week78_expected=float(unconditional_expected(bgnbd, 78 - data.birth_week).sum()),
        week78_actual=ACTUAL_WEEK78,
        holdout_expected=float(expected.sum()),
        holdout_actual=float(data.holdout.sum()),
        clv_top10_capture=top_capture(expected, data.holdout),
        rule_top10_capture=rules,
    )
