"""Multi-touch attribution over conversion paths, and smoothed channel responsiveness.

Pure Python. A :class:`Path` is one customer's touchpoints (channel, time) within a lookback
window, and whether (and when) it converted. Credit per channel under last-touch, first-touch,
linear, time-decay, position-based, and one data-driven model: Shapley values of the
incremental conversion rate of each set of channels (Shapley 1953; applied to attribution by
Dalessandro et al. 2012 and Zhao et al. 2018). Reports leave only through
:func:`suppress_small_cells` (or the DP layer, once analytics offers it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final, Literal

from attrs import frozen

from personakit.exceptions import InvalidInput, Problem

__all__ = [
    "MODELS",
    "AttributionModel",
    "ChannelCredit",
    "Path",
    "Touch",
    "attribute",
    "smoothed_rates",
    "suppress_small_cells",
]

AttributionModel = Literal["last", "first", "linear", "time_decay", "position", "shapley"]
MODELS: Final[tuple[AttributionModel, ...]] = (
    "last",
    "first",
    "linear",
    "time_decay",
    "position",
    "shapley",
)
#: Shapley values enumerate the subsets of a path's channels: 2 ** 12 is the most we allow.
_MAX_SHAPLEY_CHANNELS: Final = 12
_ENDS: Final = 0.4  # position-based: 40% to the first touch, 40% to the last, 20% between


@frozen
class Touch:
    """One touchpoint: a channel at a time."""

    channel: str
    at: datetime


@frozen(kw_only=True)
class Path:
    """One customer's touchpoints in time order, and the conversion they led to (if any)."""

    touches: tuple[Touch, ...]
    converted: bool
    converted_at: datetime | None = None

    @property
    def channels(self) -> frozenset[str]:
        """The set of channels the path touched."""
        return frozenset(touch.channel for touch in self.touches)


@frozen(kw_only=True)
class ChannelCredit:
    """A channel's credit (conversions attributed) and how many paths it appeared in."""

    channel: str
    credit: float
    paths: int


def _weights(path: Path, model: AttributionModel, half_life_days: float) -> list[float]:
    count = len(path.touches)
    if model == "last":
        return [0.0] * (count - 1) + [1.0]
    if model == "first":
        return [1.0] + [0.0] * (count - 1)
    if model == "linear":
        return [1 / count] * count
    if model == "position":
        if count <= 2:  # noqa: PLR2004 (one or two touches share the credit equally)
            return [1 / count] * count
        middle = (1 - 2 * _ENDS) / (count - 2)
        return [_ENDS] + [middle] * (count - 2) + [_ENDS]
    end = path.converted_at or path.touches[-1].at
    raw = [
        0.5 ** (max((end - touch.at).total_seconds(), 0.0) / 86_400 / half_life_days)
        for touch in path.touches
    ]
    total = sum(raw)
    return [value / total for value in raw]


def _rule_based(
    paths: Sequence[Path], model: AttributionModel, half_life_days: float
) -> dict[str, float]:
    credit: dict[str, float] = {}
    for path in paths:
        if not path.converted or not path.touches:
            continue
        for touch, weight in zip(path.touches, _weights(path, model, half_life_days), strict=True):
            credit[touch.channel] = credit.get(touch.channel, 0.0) + weight
    return credit


def _shapley(paths: Sequence[Path]) -> dict[str, float]:
    seen: dict[frozenset[str], list[int]] = {}
    for path in paths:
        tally = seen.setdefault(path.channels, [0, 0])
        tally[0] += 1
        tally[1] += int(path.converted)
    rate = {channels: conv / n for channels, (n, conv) in seen.items()}
    base = rate.get(frozenset(), 0.0)

    def value(channels: frozenset[str]) -> float:
        # A set never observed is worth its best observed subset (lift is taken as monotone).
        if channels in rate:
            return rate[channels] - base
        return max(
            (rate[sub] - base for sub in rate if sub < channels),
            default=0.0,
        )

    credit: dict[str, float] = {}
    for channels, (count, _) in seen.items():
        members = sorted(channels)
        size = len(members)
        for channel in members:
            others = [c for c in members if c != channel]
            phi = 0.0
            for k in range(size):
                weight = math.factorial(k) * math.factorial(size - k - 1) / math.factorial(size)
                for subset in itertools.combinations(others, k):
                    before = frozenset(subset)
                    phi += weight * (value(before | {channel}) - value(before))
            credit[channel] = credit.get(channel, 0.0) + count * phi
    return credit


def attribute(
    paths: Iterable[Path], model: AttributionModel, *, half_life_days: float = 7.0
) -> list[ChannelCredit]:
    """Credit per channel under ``model``, sorted by channel.

    Rule-based models share each converted path's one conversion among its touches. Shapley
    credits each channel with its Shapley share of every path's incremental conversion rate
    over paths with no touch (so paths with no touchpoint and paths that did not convert are
    needed); its credits add up to the incremental conversions, not to all of them.
    """
    listed = list(paths)
    problems: list[Problem] = []
    if model not in MODELS:
        problems.append(Problem(where="model", what="must be one of: " + ", ".join(MODELS)))
    if not isinstance(half_life_days, (int, float)) or not 0 < half_life_days < math.inf:
        problems.append(Problem(where="half_life_days", what="must be a positive number"))
    if not all(isinstance(path, Path) for path in listed):
        problems.append(Problem(where="paths", what="must hold only Path values"))
    elif model == "shapley" and any(len(p.channels) > _MAX_SHAPLEY_CHANNELS for p in listed):
        problems.append(
            Problem(where="paths", what=f"at most {_MAX_SHAPLEY_CHANNELS} channels per path")
        )
    if problems:
        raise InvalidInput("cannot attribute", problems)
    credit = (
        _shapley(listed)
        if model == "shapley"
        else _rule_based(listed, model, float(half_life_days))
    )
    appearances: dict[str, int] = {}
    for path in listed:
        for channel in path.channels:
            appearances[channel] = appearances.get(channel, 0) + 1
    return [
        ChannelCredit(channel=channel, credit=credit.get(channel, 0.0), paths=count)
        for channel, count in sorted(appearances.items())
    ]


def suppress_small_cells(
    credit: Sequence[ChannelCredit], *, min_paths: int = 10
) -> list[dict[str, object]]:
    """The report that may leave the SDK: cells of fewer than ``min_paths`` paths withheld.

    A withheld cell says so (``"suppressed": true``) and carries no figure.
    """
    return [
        {"channel": c.channel, "suppressed": True}
        if c.paths < min_paths
        else {"channel": c.channel, "suppressed": False, "credit": c.credit, "paths": c.paths}
        for c in credit
    ]


def smoothed_rates(
    counts: Mapping[str, tuple[int, int]], *, strength: float = 20.0
) -> dict[str, float]:
    """Per channel (engaged, sent) -> engagement rate smoothed towards the shop's average.

    Beta-binomial shrinkage: ``(engaged + strength * mean) / (sent + strength)`` where
    ``mean`` is the shop's engagement rate over all channels: a channel with few messages gets
    about the shop's rate, one with many its own.
    """
    sent_total = sum(sent for _, sent in counts.values())
    mean = sum(engaged for engaged, _ in counts.values()) / sent_total if sent_total else 0.0
    return {
        channel: (engaged + strength * mean) / (sent + strength)
        for channel, (engaged, sent) in counts.items()
    }
