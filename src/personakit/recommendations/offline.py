"""Offline evaluation: the temporal split, NDCG@k and HR@k, and a popularity baseline.

The split (issue 14): per user, interactions sorted by timestamp; the last 20% by count are
held out, the boundary moved earlier so that every event sharing the boundary timestamp goes to
the held-out side (if that would leave no training event, all go to training). The order of
events in one second therefore cannot matter. Ranking uses :func:`~personakit.recommendations.
_model.rank`, the function :meth:`Recommender.recommend` uses, over a model summed from the
same per-subject contributions.

MovieLens-100K is read from the ``recbole`` package's bundled copy when it is installed
(``pip install --no-deps recbole==1.2.1``); personakit ships no data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path

from attrs import frozen

from personakit.recommendations._model import (
    Interaction,
    ItemModel,
    Params,
    history_weights,
    rank,
)

__all__ = [
    "HOLDOUT",
    "Quality",
    "Rating",
    "Split",
    "choose",
    "evaluate",
    "model_popularity",
    "movielens_100k",
    "popularity_baseline",
    "temporal_split",
    "validation_split",
]

#: The held-out share of each user's interactions.
HOLDOUT = 0.2

#: One interaction: (user, item, epoch seconds).
Rating = tuple[str, str, int]


@frozen
class Split:
    """Training records by user and held-out item sets by user (users with a test part)."""

    train: dict[str, dict[str, Interaction]]
    test: dict[str, set[str]]


@frozen
class Quality:
    """Mean NDCG@k and HR@k over the evaluated users."""

    ndcg: float
    hr: float
    users: int


def movielens_100k() -> list[Rating] | None:
    """MovieLens-100K's (user, item, timestamp) from ``recbole``'s copy; None if absent."""
    try:
        dist = metadata.distribution("recbole")
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file("recbole/dataset_example/ml-100k/ml-100k.inter")))
    if not path.is_file():
        return None
    ratings: list[Rating] = []
    with path.open(encoding="utf-8") as lines:
        next(lines)  # header: user_id:token item_id:token rating:float timestamp:float
        for line in lines:
            user, item, _, ts = line.rstrip("\n").split("\t")
            ratings.append((user, item, int(float(ts))))
    return ratings


def temporal_split(ratings: Iterable[Rating], holdout: float = HOLDOUT) -> Split:
    """Split each user's interactions by time (see the module documentation)."""
    by_user: dict[str, list[tuple[int, str]]] = {}
    for user, item, ts in ratings:
        by_user.setdefault(user, []).append((ts, item))
    train: dict[str, dict[str, Interaction]] = {}
    test: dict[str, set[str]] = {}
    for user, events in by_user.items():
        times = sorted(ts for ts, _ in events)
        cut = len(times) - math.ceil(holdout * len(times))
        if cut < len(times):
            boundary = times[cut]
            while cut > 0 and times[cut - 1] == boundary:
                cut -= 1
            if cut == 0:
                cut = len(times)
        limit = times[cut] if cut < len(times) else None
        record: dict[str, Interaction] = {}
        held: set[str] = set()
        for ts, item in events:
            if limit is not None and ts >= limit:
                held.add(item)
            else:
                seen = record.get(item)
                record[item] = Interaction(
                    count=(seen.count if seen else 0) + 1, last=max(ts, seen.last if seen else ts)
                )
        train[user] = record
        held -= record.keys()
        if held:
            test[user] = held
    return Split(train=train, test=test)


def _metrics(ranked: Sequence[str], relevant: set[str], k: int) -> tuple[float, float]:
    dcg = sum(1 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal, float(dcg > 0)


def _popular(train: Mapping[str, Mapping[str, Interaction]]) -> list[str]:
    counts: dict[str, int] = {}
    for record in train.values():
        for item in record:
            counts[item] = counts.get(item, 0) + 1
    return [i for _, i in sorted(((-c, i) for i, c in counts.items()))]


def _fill(ranked: list[str], popular: Sequence[str], seen: Mapping[str, object], k: int) -> None:
    taken = set(ranked)
    for item in popular:
        if len(ranked) >= k:
            return
        if item not in seen and item not in taken:
            ranked.append(item)
            taken.add(item)


def popularity_baseline(split: Split, k: int = 10) -> Quality:
    """The most-interacted training items, each user's training items excluded."""
    popular = _popular(split.train)
    ndcg = hr = 0.0
    for user, relevant in split.test.items():
        ranked: list[str] = []
        _fill(ranked, popular, split.train[user], k)
        n, h = _metrics(ranked, relevant, k)
        ndcg, hr = ndcg + n, hr + h
    users = len(split.test)
    return Quality(ndcg=ndcg / users, hr=hr / users, users=users)


def evaluate(split: Split, params: Params, k: int = 10) -> Quality:
    """The recommender's quality: the model summed from the training part, ranked by ``rank``.

    Users' training items are never recommended; when fewer than ``k`` items score, the list
    is filled by popularity, as :meth:`Recommender.recommend` does.
    """
    model = ItemModel.from_contributions(split.train.values(), params)
    popular = model_popularity(model)
    ndcg = hr = 0.0
    for user, relevant in split.test.items():
        record = split.train[user]
        weights = history_weights(record, params.half_life_s)
        ranked = [item for item, _, _ in rank(model, weights, k, keep=_unseen(record))]
        _fill(ranked, popular, record, k)
        n, h = _metrics(ranked, relevant, k)
        ndcg, hr = ndcg + n, hr + h
    users = len(split.test)
    return Quality(ndcg=ndcg / users, hr=hr / users, users=users)


def _unseen(record: Mapping[str, Interaction]) -> Callable[[str], bool]:
    def keep(item: str) -> bool:
        return item not in record

    return keep


def model_popularity(model: ItemModel) -> list[str]:
    """The model's items by popularity (what the fallback uses)."""
    return [item for _, item in model.popularity()]


def validation_split(split: Split, holdout: float = HOLDOUT) -> Split:
    """The same rule applied to the training part only (for choosing hyper-parameters)."""
    ratings = [
        (user, item, interaction.last)
        for user, record in split.train.items()
        for item, interaction in record.items()
        for _ in range(interaction.count)
    ]
    return temporal_split(ratings, holdout)


def choose(split: Split, grid: Iterable[Params], k: int = 10) -> tuple[Params, Quality]:
    """The parameters of ``grid`` with the best NDCG@k on ``split`` (pass a validation split)."""
    best: tuple[Params, Quality] | None = None
    for params in grid:
        quality = evaluate(split, params, k)
        if best is None or quality.ndcg > best[1].ndcg:
            best = (params, quality)
    if best is None:
        msg = "empty grid"
        raise ValueError(msg)
    return best
