"""The item model: sums of per-subject contributions, and the scoring every answer uses.

A subject's contribution is a function of their sealed interaction record alone: each item
they interacted with counts 1 towards its popularity (``n``) and towards the day of their last
interaction with it (``d``, for "popular this week"), and each *pair* of their items counts 1
towards the pair's co-occurrence (``co``). Contributions are binary per subject, so a pair's
count is exactly the number of distinct subjects supporting it, which is what the minimum
support rule needs. Because the model is a sum, taking a subject out subtracts exactly what
they added: the result equals a rebuild from everyone else (a hypothesis property checks it).

:func:`score_items` is the one ranking function: :class:`~personakit.recommendations.
Recommender` calls it on the model read from the store, the MovieLens evaluation on a model
summed in memory from the same contributions.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal

from attrs import field, frozen

from personakit.recommendations._ease import ease_neighbours

__all__ = [
    "Interaction",
    "ItemModel",
    "ItemRow",
    "Params",
    "contribution",
    "history_weights",
    "rank",
    "row_deltas",
    "score_items",
]

#: Up to this many candidates, ranking sorts them all (faster than a heap, see ``rank``).
_SORT_ALL: Final = 20_000
#: Seconds in a day: the unit of the "recent" buckets.
DAY_S: Final = 86_400


@frozen
class Interaction:
    """What one subject did with one item: how often, when last (epoch seconds), bought."""

    count: int
    last: int
    bought: int = 0


@frozen(kw_only=True)
class ItemRow:
    """One item's shared sums: subjects (``n``), co-occurrences, subjects by last-seen day."""

    n: int = 0
    co: dict[str, int] = field(factory=dict)
    days: dict[int, int] = field(factory=dict)

    def to_json(self, item: str) -> dict[str, Any]:
        """As stored (JSON object keys are strings)."""
        return {
            "item": item,
            "n": self.n,
            "co": dict(sorted(self.co.items())),
            "d": {str(k): v for k, v in sorted(self.days.items())},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ItemRow:
        """Read back what :meth:`to_json` wrote (trusted: our own store)."""
        return cls(
            n=int(doc["n"]),
            co={str(k): int(v) for k, v in doc["co"].items()},
            days={int(k): int(v) for k, v in doc["d"].items()},
        )

    def is_empty(self) -> bool:
        """Whether nothing is left (the row is then deleted, as a rebuild would not have it)."""
        return self.n == 0 and not self.co and not self.days


def contribution(record: Mapping[str, Interaction]) -> dict[str, ItemRow]:
    """The rows one subject adds to the model (the pair loop is over their own items only)."""
    rows: dict[str, ItemRow] = {}
    items = list(record)
    for item in items:
        day = record[item].last // DAY_S
        rows[item] = ItemRow(n=1, co={other: 1 for other in items if other != item}, days={day: 1})
    return rows


def _add(into: dict[Any, int], other: Mapping[Any, int], sign: int) -> None:
    for key, value in other.items():
        total = into.get(key, 0) + sign * value
        if total:
            into[key] = total
        else:
            into.pop(key, None)


def row_deltas(
    old: Mapping[str, Interaction], new: Mapping[str, Interaction]
) -> dict[str, ItemRow]:
    """What changes in the model when a subject's record goes from ``old`` to ``new``.

    Signed rows (negative counts subtract); items whose row does not change are left out, so
    an event about an item the subject already had touches one row, not all of theirs.
    """
    before, after = contribution(old), contribution(new)
    deltas: dict[str, ItemRow] = {}
    for item in before.keys() | after.keys():
        n: dict[str, int] = {"n": after[item].n if item in after else 0}
        co = dict(after[item].co) if item in after else {}
        days = dict(after[item].days) if item in after else {}
        if item in before:
            n["n"] -= before[item].n
            _add(co, before[item].co, -1)
            _add(days, before[item].days, -1)
        if n["n"] or co or days:
            deltas[item] = ItemRow(n=n["n"], co=co, days=days)
    return deltas


def apply_delta(row: ItemRow | None, delta: ItemRow, sign: int = 1) -> ItemRow:
    """``row`` plus ``sign`` times ``delta`` (zero entries dropped)."""
    co = dict(row.co) if row is not None else {}
    days = dict(row.days) if row is not None else {}
    _add(co, delta.co, sign)
    _add(days, delta.days, sign)
    return ItemRow(n=(row.n if row is not None else 0) + sign * delta.n, co=co, days=days)


@frozen(kw_only=True)
class Params:
    """The ranking's hyper-parameters (chosen on a validation split, see docs).

    ``alpha`` weighs the normalisation between the two items' popularities (0.5 is cosine),
    ``shrink`` damps pairs with little support, ``half_life_s`` decays the subject's history
    from their latest interaction, ``neighbours`` caps each item's neighbour list,
    ``min_support`` is the privacy rule: fewer distinct subjects and the pair is not used.
    ``kind`` ``ease`` ranks by EASE weights (ridge ``l2``, see :mod:`._ease`) instead of the
    normalised co-occurrence while the model has at most ``ease_items`` items (``alpha`` and
    ``shrink`` then do not apply); above that, and for ``knn``, by item-kNN.
    """

    alpha: float = 0.5
    shrink: float = 10.0
    half_life_s: float = 30 * DAY_S
    neighbours: int = 50
    min_support: int = 5
    kind: Literal["knn", "ease"] = "knn"
    l2: float = 2000.0
    ease_items: int = 3000


@frozen
class ItemModel:
    """The model in memory: rows by item, with neighbour lists computed on first use."""

    rows: dict[str, ItemRow]
    params: Params = field(factory=Params)
    _neighbours: dict[str, list[tuple[float, str]]] = field(factory=dict, init=False)
    _lookup: dict[str, dict[str, float]] = field(factory=dict, init=False)
    _ranked: dict[int | None, list[tuple[int, str]]] = field(factory=dict, init=False)
    _derived: list[bool] = field(factory=list, init=False)

    @classmethod
    def from_contributions(
        cls, records: Iterable[Mapping[str, Interaction]], params: Params | None = None
    ) -> ItemModel:
        """Sum subjects' contributions (what the evaluation and ``rebuild`` do)."""
        rows: dict[str, ItemRow] = {}
        for record in records:
            for item, delta in contribution(record).items():
                rows[item] = apply_delta(rows.get(item), delta)
        return cls(rows, params or Params())

    def neighbours(self, item: str) -> list[tuple[float, str]]:
        """``item``'s most similar items with their similarity, best first (support >= min)."""
        cached = self._neighbours.get(item)
        if cached is not None:
            return cached
        if self.params.kind == "ease":
            if not self._derived:
                # Every list at once: one inverse of the Gram matrix of this model's sums.
                found_all = ease_neighbours(self.rows, self.params)
                self._derived.append(found_all is not None)
                self._neighbours.update(found_all or {})
            if self._derived[0]:
                return self._neighbours.setdefault(item, [])
        row = self.rows.get(item)
        found: list[tuple[float, str]] = []
        if row is not None and row.n:
            p = self.params
            ni = row.n**p.alpha
            for other, together in row.co.items():
                if together < p.min_support:
                    continue
                nj = self.rows[other].n if other in self.rows else 0
                if nj <= 0:
                    continue
                sim = together / (ni * nj ** (1 - p.alpha)) * (together / (together + p.shrink))
                found.append((sim, other))
            # Ties broken by the item id only to make answers deterministic; a tie has equal
            # score, so no ranking quality depends on the id order.
            found = heapq.nlargest(p.neighbours, found, key=lambda t: (t[0], t[1]))
        self._neighbours[item] = found
        return found

    def similarity(self, item: str, other: str) -> float:
        """``other``'s similarity in ``item``'s neighbour list (0 when not in it)."""
        return self.neighbour_map(item).get(other, 0.0)

    def neighbour_map(self, item: str) -> dict[str, float]:
        """``item``'s neighbour list as a mapping, neighbour to similarity (cached)."""
        found = self._lookup.get(item)
        if found is None:
            found = self._lookup[item] = {o: sim for sim, o in self.neighbours(item)}
        return found

    def popularity(self) -> list[tuple[int, str]]:
        """Items by subjects who interacted, most first (computed once per model)."""
        found = self._ranked.get(None)
        if found is None:
            ranked = ((r.n, i) for i, r in self.rows.items() if r.n > 0)
            found = self._ranked[None] = sorted(ranked, key=_desc)
        return found

    def recent(self, since_day: int) -> list[tuple[int, str]]:
        """Items by subjects whose last interaction was on or after ``since_day`` (cached)."""
        found = self._ranked.get(since_day)
        if found is None:
            counts = (
                (sum(v for d, v in r.days.items() if d >= since_day), i)
                for i, r in self.rows.items()
            )
            found = self._ranked[since_day] = sorted((c for c in counts if c[0] > 0), key=_desc)
        return found


def _desc(entry: tuple[int, str]) -> tuple[int, str]:
    return (-entry[0], entry[1])


def history_weights(record: Mapping[str, Interaction], half_life_s: float) -> dict[str, float]:
    """Each history item's weight: halves every ``half_life_s`` before the latest interaction.

    Time-based (not rank-based), so items seen in the same second weigh the same and their
    order cannot matter.
    """
    if not record:
        return {}
    latest = max(i.last for i in record.values())
    return {
        item: math.pow(0.5, (latest - i.last) / half_life_s) if half_life_s > 0 else 1.0
        for item, i in record.items()
    }


def score_items(model: ItemModel, weights: Mapping[str, float]) -> dict[str, float]:
    """Candidate items with their score: the weighted sum of their similarity to the history."""
    scores: dict[str, float] = {}
    get = scores.get
    for item, weight in weights.items():
        if weight <= 0:
            continue
        for other, sim in model.neighbour_map(item).items():
            scores[other] = get(other, 0.0) + weight * sim
    return scores


def rank(
    model: ItemModel,
    weights: Mapping[str, float],
    k: int,
    *,
    keep: Callable[[str], bool],
) -> list[tuple[str, float, dict[str, float]]]:
    """The ``k`` best-scored candidates that ``keep`` accepts: (item, score, contributions).

    Best first; equal scores in item id order, only so that answers are deterministic (a tie
    has equal score, so no ranking quality depends on the id order). The contributions (what
    each history item added to the score) are worked out for the ``k`` chosen items only,
    from the same neighbour maps.
    """
    scored = score_items(model, weights)
    # The (score, item) pairs compare in C: sorting them all is several times faster than
    # heapq.nlargest's Python loop up to tens of thousands of candidates. Most candidates pass
    # the filter, so the best 4k are tested first and the rest only if too few of them pass.
    pairs = [(s, item) for item, s in scored.items()]
    ranked = (
        sorted(pairs, reverse=True) if len(pairs) <= _SORT_ALL else heapq.nlargest(4 * k, pairs)
    )
    best = []
    for entry in ranked[: 4 * k]:
        if keep(entry[1]):
            best.append(entry)
            if len(best) == k:
                break
    if len(best) < k and len(ranked) > 4 * k:
        best = [entry for entry in ranked if keep(entry[1])][:k]
    elif len(best) < k and len(ranked) < len(pairs):
        best = heapq.nlargest(k, [entry for entry in pairs if keep(entry[1])])
    maps = [(hist, w, model.neighbour_map(hist)) for hist, w in weights.items() if w > 0]
    out: list[tuple[str, float, dict[str, float]]] = []
    for s, item in best:
        out.append((item, s, {hist: w * m[item] for hist, w, m in maps if item in m}))
    return out
