"""Complementary suppression: for any table with row, column and grand totals, after
:func:`protect` every small count is hidden and no hidden cell can be recomputed from the
published totals and the other cells."""

from __future__ import annotations

from collections.abc import Hashable

from hypothesis import given, settings
from hypothesis import strategies as st

from personakit.reporting._suppress import Group, derivable, pinned, protect

TABLES = st.integers(min_value=1, max_value=5).flatmap(
    lambda width: st.lists(
        st.lists(
            st.one_of(st.integers(0, 12), st.integers(0, 300)), min_size=width, max_size=width
        ),
        min_size=1,
        max_size=5,
    )
)


def _table(grid: list[list[int]]) -> tuple[dict[Hashable, int], list[Group]]:
    """The cells of ``grid`` with its row totals, column totals and grand total, and the sums."""
    rows, columns = len(grid), len(grid[0])
    cells: dict[Hashable, int] = {(r, c): grid[r][c] for r in range(rows) for c in range(columns)}
    groups = []
    for r in range(rows):
        cells[(r, "total")] = sum(grid[r])
        groups.append(Group(tuple((r, c) for c in range(columns)), (r, "total")))
    for c in [*range(columns), "total"]:
        cells[("total", c)] = sum(cells[(r, c)] for r in range(rows))
        groups.append(Group(tuple((r, c) for r in range(rows)), ("total", c)))
    return cells, groups


@settings(max_examples=200, deadline=None)
@given(grid=TABLES, k=st.integers(min_value=1, max_value=10))
def test_no_hidden_cell_can_be_recomputed_from_the_totals(grid: list[list[int]], k: int) -> None:
    """Small counts are hidden; each sum has no hidden cell or at least two (its total counted);
    peeling the sums one at a time recomputes no hidden cell."""
    cells, groups = _table(grid)
    hidden = protect(cells, groups, k)
    assert {cell for cell, n in cells.items() if 0 < n < k} <= hidden
    for group in groups:
        assert len({*group.members, group.total} & hidden) != 1
    assert derivable(groups, hidden) == set()


@settings(max_examples=200, deadline=None)
@given(grid=TABLES, k=st.integers(min_value=1, max_value=10))
def test_no_hidden_cell_is_pinned_by_the_whole_system(grid: list[list[int]], k: int) -> None:
    """Solving every published sum at once (exact linear algebra) pins no hidden cell either."""
    cells, groups = _table(grid)
    hidden = protect(cells, groups, k)
    assert pinned(groups, hidden) == set()


def test_a_lone_small_cell_takes_the_smallest_other_cell_with_it() -> None:
    """One row 3, 40, 7 with its total: 3 is hidden, and so is 7 (the least information lost)."""
    cells = {"a": 3, "b": 40, "c": 7, "total": 50}
    assert protect(cells, [Group(("a", "b", "c"), "total")], 5) == {"a", "c"}
    assert protect(cells, [Group(("a",), "total")], 5) == {"a", "total"}
    assert protect(cells, [], 5) == {"a"}
