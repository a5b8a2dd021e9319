"""Checking a query against its dataset and shaping the data OpenDP reads (numpy only).

Every check runs before a plan is built or any privacy is spent, and lists every problem.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from personakit.analytics._dataset import Column, Dataset
from personakit.analytics._plan import Plan
from personakit.analytics._result import DPResult
from personakit.exceptions import InvalidInput, Problem

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "bin_codes",
    "check_bins",
    "check_bounds",
    "check_candidates",
    "check_dataset_column",
    "check_keys",
    "group_sums",
    "key_codes",
    "mean_interval",
    "number",
    "numeric_values",
    "ratios",
    "rounded",
    "typed",
    "upper_bound",
]

#: Bounds are kept within what float64 represents exactly, so int bounds round-trip.
_MAX_BOUND: Final = 2**53
_MAX_CATEGORIES: Final = 10_000


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and abs(number) <= _MAX_BOUND else None


def check_bounds(bounds: object, column: Column, problems: list[Problem]) -> tuple[float, float]:
    """Explicit ``(lower, upper)`` bounds: finite, ordered, integers for an int column."""
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:  # noqa: PLR2004 (a pair)
        problems.append(Problem(where="bounds", what="required: (lower, upper)"))
        return 0.0, 0.0
    lower, upper = (_number(b) for b in bounds)
    if lower is None or upper is None or lower > upper:
        problems.append(
            Problem(where="bounds", what="finite numbers within ±2**53, lower <= upper")
        )
        return 0.0, 0.0
    if column.kind == "int" and (not lower.is_integer() or not upper.is_integer()):
        problems.append(
            Problem(where="bounds", what="integers for an integer column (money in cents)")
        )
    return lower, upper


def numeric_values(
    column: Column, impute: object, problems: list[Problem]
) -> npt.NDArray[Any] | None:
    """A numeric column's values, NaN and infinity imputed (``impute``) or refused."""
    import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

    fill = _number(impute)
    if impute is not None and fill is None:
        problems.append(Problem(where="impute", what="a finite number within ±2**53"))
        return None
    if column.kind == "category":
        problems.append(Problem(where="column", what="not numeric"))
        return None
    if column.finite:
        return column.values
    if fill is None:
        problems.append(
            Problem(
                where="impute",
                what="the column has NaN or infinite values: give a finite value to impute",
            )
        )
        return None
    return np.where(np.isfinite(column.values), column.values, fill)


def check_candidates(
    candidates: object, lower: float, upper: float, column: Column, problems: list[Problem]
) -> tuple[float, ...]:
    """Quantile candidates: given (strictly increasing, finite) or 101 points over the bounds."""
    import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

    if candidates is None:
        points = np.linspace(lower, upper, 101)
        if column.kind == "int":
            points = np.unique(np.round(points))
        return tuple(float(p) for p in points)
    if not isinstance(candidates, (list, tuple)) or not 1 <= len(candidates) <= _MAX_CATEGORIES:
        problems.append(
            Problem(where="candidates", what=f"a list of 1 to {_MAX_CATEGORIES} numbers")
        )
        return ()
    found = [_number(c) for c in candidates]
    if any(c is None for c in found) or any(
        b <= a for a, b in itertools.pairwise(found) if a is not None and b is not None
    ):
        problems.append(Problem(where="candidates", what="finite numbers, strictly increasing"))
        return ()
    if column.kind == "int" and not all(c is not None and c.is_integer() for c in found):
        problems.append(Problem(where="candidates", what="integers for an integer column"))
    return tuple(c for c in found if c is not None)


def check_bins(bins: object, problems: list[Problem]) -> tuple[float, ...]:
    """Histogram edges: 2 to 10,001 finite numbers, strictly increasing."""
    if not isinstance(bins, (list, tuple)) or not 2 <= len(bins) <= _MAX_CATEGORIES + 1:  # noqa: PLR2004
        problems.append(Problem(where="bins", what=f"a list of 2 to {_MAX_CATEGORIES + 1} edges"))
        return ()
    found = [_number(b) for b in bins]
    if any(b is None for b in found) or any(
        b <= a for a, b in itertools.pairwise(found) if a is not None and b is not None
    ):
        problems.append(Problem(where="bins", what="finite numbers, strictly increasing"))
        return ()
    return tuple(b for b in found if b is not None)


def bin_codes(values: npt.NDArray[Any], edges: Sequence[float]) -> npt.NDArray[Any]:
    """Each value's bin (``[e_i, e_i+1)``, the last bin closed), or ``len(edges) - 1`` outside.

    A row-by-row map: one customer's rows still change at most that many rows' codes.
    """
    import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

    edges_array = np.asarray(edges, dtype=np.float64)
    codes = np.searchsorted(edges_array, values, side="right") - 1
    codes[values == edges_array[-1]] = len(edges) - 2
    outside = (codes < 0) | (codes >= len(edges) - 1)
    codes[outside] = len(edges) - 1
    return codes.astype(np.int64)


def check_keys(keys: object, column: Column, problems: list[Problem]) -> tuple[Any, ...]:
    """Public group-by keys: 1 to 10,000 distinct strings (category) or integers (int column)."""
    if not isinstance(keys, (list, tuple)) or not 1 <= len(keys) <= _MAX_CATEGORIES:
        problems.append(Problem(where="keys", what=f"a list of 1 to {_MAX_CATEGORIES} keys"))
        return ()
    if column.kind == "category":
        ok = all(isinstance(k, str) and k.isprintable() and len(k) <= 256 for k in keys)  # noqa: PLR2004
        what = "strings (printable, up to 256 characters)"
    else:
        ok = all(isinstance(k, int) and not isinstance(k, bool) and abs(k) < 2**63 for k in keys)
        what = "64-bit integers for an integer column"
    if not ok:
        problems.append(Problem(where="keys", what=what))
        return ()
    if len(set(keys)) != len(keys):
        problems.append(Problem(where="keys", what="must be distinct"))
        return ()
    if column.kind == "float":
        problems.append(Problem(where="by", what="group by a category or integer column"))
    return tuple(keys)


def key_codes(column: Column, keys: Sequence[Any]) -> npt.NDArray[Any]:
    """Each row's position in ``keys``, or ``len(keys)`` for a row of no listed key."""
    import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

    if column.kind == "category":
        position = {key: i for i, key in enumerate(keys)}
        table = np.array(
            [position.get(label, len(keys)) for label in column.labels] + [len(keys)],
            dtype=np.int64,
        )
        picked: npt.NDArray[Any] = table[column.values]
        return picked
    order = np.argsort(np.asarray(keys, dtype=np.int64))
    ordered = np.asarray(keys, dtype=np.int64)[order]
    found = np.searchsorted(ordered, column.values).clip(0, len(keys) - 1)
    hit = ordered[found] == column.values
    return np.where(hit, order[found], len(keys)).astype(np.int64)


def check_dataset_column(
    dataset: Dataset, name: object, where: str, problems: list[Problem]
) -> Column | None:
    """The column, or a problem listed."""
    try:
        return dataset.column(name, where)
    except InvalidInput as exc:
        problems.extend(exc.problems)
        return None


def typed(values: npt.NDArray[Any], kind: str) -> npt.NDArray[Any]:
    import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

    return values.astype(np.int64 if kind == "int" else np.float64, copy=False)


def group_sums(values: npt.NDArray[Any], codes: npt.NDArray[Any], size: int, kind: str) -> Any:
    import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

    if kind == "int":
        sums = np.zeros(size + 1, dtype=np.int64)
        np.add.at(sums, codes, values.astype(np.int64))
        return sums[:size]
    return np.bincount(codes, weights=values, minlength=size + 1)[:size].astype(np.float64)


def number(value: Any) -> int | float:
    return (
        int(value)
        if isinstance(value, int) or (float(value).is_integer() and abs(float(value)) < 2**53)
        else float(value)
    )


def rounded(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def mean_interval(  # noqa: PLR0917 (two plans, two values, two bounds)
    total: float, count: int, total_plan: Plan, count_plan: Plan, lower: float, upper: float
) -> list[float]:
    # each part at 97.5% (two 2.5% tails summed by a union bound), both extremes taken
    a = (total_plan.half_width or 0.0) * math.log(40) / math.log(20)
    b = (count_plan.half_width or 0.0) * math.log(40) / math.log(20)
    low_count, high_count = max(1.0, count - b), max(1.0, count + b)
    candidates = [
        (total - a) / low_count,
        (total - a) / high_count,
        (total + a) / low_count,
        (total + a) / high_count,
    ]
    return [max(lower, min(candidates)), min(upper, max(candidates))]


def upper_bound(upper: object) -> int:
    if isinstance(upper, bool) or not isinstance(upper, int) or not 0 < upper < 2**53:
        raise InvalidInput(
            "invalid metric",
            [Problem(where="upper", what="required: the largest value counted, in cents")],
        )
    return upper


def ratios(total: DPResult, count: DPResult) -> dict[str, float | None] | None:
    """Per key, a noisy sum over a noisy count (None where the count is 0; None for dry runs)."""
    if total.value is None or count.value is None:
        return None
    return {
        key: (None if not count.value.get(key) else float(total.value[key]) / count.value[key])
        for key in total.value
    }
