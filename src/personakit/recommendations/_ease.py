"""EASE neighbour lists: a ridge regression of each item on the others, from the same sums.

EASE (Steck, 2019) learns an item-item weight matrix ``B`` with a zero diagonal minimising
``||X - XB||^2 + l2 * ||B||^2``; its closed form needs only the Gram matrix ``G = X'X``, and
for binary per-subject contributions that is exactly what the shared rows hold: ``G[i][i]`` is
the item's ``n`` and ``G[i][j]`` the pair's ``co``. ``B = -P / diag(P)`` with ``P = (G + l2
I)^-1``.

The privacy rule holds as for item-kNN: a pair below ``min_support`` distinct subjects is
zeroed in ``G`` before the inverse and never appears in a neighbour list. ``B`` is derived,
never stored: :class:`~personakit.recommendations._model.ItemModel` computes it the first time
a neighbour list is asked for, and a model is parsed again whenever the stored sums change (the
store's change token), so after a withdrawal or erasure commits the next answer comes from a
``B`` computed without that subject. The inverse is cubic in the number of items, so above
``Params.ease_items`` items the model falls back to item-kNN (the documented limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from personakit.recommendations._model import ItemRow, Params

__all__ = ["ease_neighbours"]


def ease_neighbours(
    rows: Mapping[str, ItemRow], params: Params
) -> dict[str, list[tuple[float, str]]] | None:
    """Every item's EASE neighbours (positive weights, support >= min, best first).

    None when the model has more items than ``params.ease_items`` (the caller then uses
    item-kNN). Ties are broken by item id only to make answers deterministic.
    """
    import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

    items = sorted(item for item, row in rows.items() if row.n > 0)
    if len(items) > params.ease_items:
        return None
    if not items:
        return {}
    index = {item: n for n, item in enumerate(items)}
    gram = np.zeros((len(items), len(items)), dtype=np.float64)
    for item in items:
        i = index[item]
        row = rows[item]
        gram[i, i] = row.n + params.l2
        for other, together in row.co.items():
            j = index.get(other)
            if j is not None and together >= params.min_support:
                gram[i, j] = together
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    found: dict[str, list[tuple[float, str]]] = {}
    for item in items:
        i = index[item]
        row = rows[item]
        listed = [
            (float(weights[i, index[other]]), other)
            for other, together in row.co.items()
            if together >= params.min_support and other in index
        ]
        positive = [entry for entry in listed if entry[0] > 0]
        positive.sort(reverse=True)
        found[item] = positive[: params.neighbours]
    return found
