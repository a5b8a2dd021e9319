"""Small-cell suppression with complementary (secondary) suppression.

A count from 1 to k - 1 could single a person out, so it is hidden (primary suppression). A
hidden count is not safe on its own when a published total covers it: the total minus the
other cells is the hidden cell. Every report that publishes totals therefore declares its
*groups*, each a list of member cells and the cell that holds their sum, and :func:`protect`
hides more cells (complementary suppression) until

1. no group has exactly one hidden cell (its total counted): the classic rule, which also
   stops an attacker who solves one group at a time and carries what they learn to the next;
2. no hidden cell is pinned by all the groups solved together (exact rational elimination
   over the hidden cells, per connected set of groups): a row and a column can pin a cell
   that neither pins alone.

The complement chosen in a group is its smallest non-zero shown member (least information
lost), else its total, else a zero member.

Known limit (said in ``docs/reporting.md``): a hidden cell keeps its bounds: it is at least 0
and at most its group's total, and a hidden group summing to 0 shows its cells are 0. This is
the statistical offices' linear rule, not an integer-programming audit of interval widths.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from attrs import frozen

from personakit.reporting._doc import SUPPRESSED, hidden_mark, is_suppressed

__all__ = ["Group", "derivable", "pinned", "protect", "protect_rows", "shown_rate"]


@frozen
class Group:
    """An additive relation the report publishes: ``sum(members) == total``."""

    members: tuple[Hashable, ...]
    total: Hashable


def protect(values: Mapping[Hashable, int], groups: Iterable[Group], k: int) -> set[Hashable]:
    """The cells to hide: every count from 1 to k - 1, and the complements that protect them.

    ``values`` holds every published count (totals included); ``groups`` the sums between
    them. Each group's cells must all be in ``values``.
    """
    relations = [g for g in groups if g.members]
    hidden = {cell for cell, n in values.items() if 0 < n < k}
    while True:
        leak = next((g for g in relations if len(_cells(g) & hidden) == 1), None)
        if leak is not None:
            hidden.add(_complement(values, leak, hidden))
            continue
        # A hidden zero that the sums pin singles nobody out (zero is shown anyway); once a
        # component is all hidden, only zeros can be pinned, so this ends.
        exposed = [c for c in pinned(relations, hidden) if values[c] != 0]
        if not exposed:
            return hidden
        hidden.add(_widen(values, relations, hidden, min(exposed, key=repr)))


def _widen(
    values: Mapping[Hashable, int], groups: Sequence[Group], hidden: set[Hashable], cell: Hashable
) -> Hashable:
    """The shown cell to hide for a pinned ``cell``: from its own groups, else its component."""
    near = [g for g in groups if cell in _cells(g)]
    component = next(
        c for c in _components([g for g in groups if _cells(g) & hidden], hidden) if near[0] in c
    )
    for pool in (near, component):
        shown = {c for g in pool for c in _cells(g) - hidden}
        nonzero = [c for c in shown if values[c] > 0]
        if nonzero:
            return min(nonzero, key=lambda c: (values[c], repr(c)))
    return min({c for g in component for c in _cells(g) - hidden}, key=repr)


def derivable(groups: Iterable[Group], hidden: set[Hashable]) -> set[Hashable]:
    """The hidden cells an attacker recomputes by solving one group at a time (peeling)."""
    relations = list(groups)
    unknown = set(hidden)
    changed = True
    while changed:
        changed = False
        for group in relations:
            left = _cells(group) & unknown
            if len(left) == 1:
                unknown -= left
                changed = True
    return hidden - unknown


def pinned(groups: Iterable[Group], hidden: set[Hashable]) -> set[Hashable]:
    """The hidden cells whose value all the groups together determine (exact elimination).

    A hidden cell is determined when its unit vector lies in the row space of the groups'
    equations over the hidden cells; the shown cells only move the right-hand side.
    """
    found: set[Hashable] = set()
    for component in _components([g for g in groups if _cells(g) & hidden], hidden):
        unknowns = sorted({c for g in component for c in _cells(g) & hidden}, key=repr)
        column = {cell: i for i, cell in enumerate(unknowns)}
        rows = []
        for group in component:
            row = [Fraction(0)] * len(unknowns)
            for cell in group.members:
                if cell in column:
                    row[column[cell]] += 1
            if group.total in column:
                row[column[group.total]] -= 1
            rows.append(row)
        for r, p in _reduce(rows, len(unknowns)):
            if not any(rows[r][j] for j in range(len(unknowns)) if j != p):
                found.add(unknowns[p])
    return found


def _cells(group: Group) -> set[Hashable]:
    return {*group.members, group.total}


def _components(groups: Sequence[Group], hidden: set[Hashable]) -> list[list[Group]]:
    """Groups joined by the hidden cells they share (each is solved on its own)."""
    parent = list(range(len(groups)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[Hashable, int] = {}
    for i, group in enumerate(groups):
        for cell in _cells(group) & hidden:
            if cell in first:
                parent[root(i)] = root(first[cell])
            else:
                first[cell] = i
    joined: dict[int, list[Group]] = {}
    for i, group in enumerate(groups):
        joined.setdefault(root(i), []).append(group)
    return list(joined.values())


def _reduce(rows: list[list[Fraction]], width: int) -> list[tuple[int, int]]:
    """Reduce ``rows`` in place to reduced row echelon form; return (row, pivot column)."""
    pivots: list[tuple[int, int]] = []
    r = 0
    for c in range(width):
        found = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if found is None:
            continue
        rows[r], rows[found] = rows[found], rows[r]
        lead = rows[r][c]
        rows[r] = [x / lead for x in rows[r]]
        for i, row in enumerate(rows):
            if i != r and row[c] != 0:
                factor = row[c]
                rows[i] = [a - factor * b for a, b in zip(row, rows[r], strict=True)]
        pivots.append((r, c))
        r += 1
    return pivots


def _complement(values: Mapping[Hashable, int], group: Group, hidden: set[Hashable]) -> Hashable:
    """The cell to hide next in ``group``: smallest non-zero member, else total, else a zero."""
    shown = [m for m in group.members if m not in hidden]
    nonzero = [m for m in shown if values[m] > 0]
    if nonzero:
        return min(nonzero, key=lambda m: (values[m], repr(m)))
    if group.total not in hidden:
        return group.total
    return shown[0]  # every shown member is zero and the total is hidden: any will do


def protect_rows(
    rows: Sequence[Mapping[str, Any]],
    counts: Sequence[str],
    sums: Sequence[tuple[Sequence[str], str]],
    k: int,
) -> list[dict[str, Any]]:
    """Rows with their ``counts`` columns protected; ``sums`` (members, total) hold in each row.

    Each row is protected on its own (its sums are the only ones that cover its cells); a
    hidden count is replaced by its mark (:func:`~._doc.hidden_mark`).
    """
    out = []
    for row in rows:
        values: dict[Hashable, int] = {column: int(row[column]) for column in counts}
        hidden = protect(values, [Group(tuple(m), t) for m, t in sums], k)
        out.append({c: hidden_mark(int(v), k) if c in hidden else v for c, v in row.items()})
    return out


def shown_rate(row: Mapping[str, Any], part: str, whole: str) -> float | Mapping[str, bool] | None:
    """``row[part] / row[whole]`` to 4 places; suppressed if either is; None if whole is 0."""
    if is_suppressed(row[part]) or is_suppressed(row[whole]):
        return dict(SUPPRESSED)
    if row[whole] == 0:
        return None
    return round(int(row[part]) / int(row[whole]), 4)
