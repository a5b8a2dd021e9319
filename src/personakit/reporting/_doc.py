"""The one shape every report has, and the small-cell rule.

A report is a JSON object: ``report`` (its kind), ``title``, ``generated_at``, ``k`` (the
small-cell threshold), ``notes``, ``summary`` (named scalars), ``tables`` (each with an id, a
title, its columns and rows keyed by column) and ``charts`` (series over labelled points).
Markdown and HTML are drawn from this shape alone, so a new report needs no renderer.

A count from 1 to k - 1 could single a person out: in the consent, journeys and minimization
reports it is replaced by :data:`SUPPRESSED` (``{"suppressed": true}``), and so is any rate
computed from it. Zero singles nobody out and is shown. Reports that publish totals hide more
cells so that no total gives a hidden one back (:mod:`._suppress`); those are marked
:data:`COMPLEMENTARY` (``{"suppressed": true, "complementary": true}``), so a reader can tell
a small count from a cell hidden only to protect one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

__all__ = [
    "COMPLEMENTARY",
    "SUPPRESSED",
    "Cell",
    "chart",
    "document",
    "hidden_mark",
    "is_suppressed",
    "rate",
    "small",
    "table",
]

#: What a suppressed cell holds in JSON.
SUPPRESSED: Final[Mapping[str, bool]] = {"suppressed": True}
#: What a cell hidden only to protect another (complementary suppression) holds in JSON.
COMPLEMENTARY: Final[Mapping[str, bool]] = {"suppressed": True, "complementary": True}

#: A table cell: text, a number, a list of names, None, or a suppressed mark.
Cell = str | int | float | bool | None | list[str] | Mapping[str, bool]


def is_suppressed(value: object) -> bool:
    """Whether a cell is a suppressed mark."""
    return isinstance(value, Mapping) and value.get("suppressed") is True


def hidden_mark(count: int, k: int) -> Mapping[str, bool]:
    """The mark of a hidden ``count``: small (1 to k - 1), else hidden as a complement."""
    return dict(SUPPRESSED) if 0 < count < k else dict(COMPLEMENTARY)


def small(count: int, k: int) -> int | Mapping[str, bool]:
    """``count``, or the suppressed mark when it is from 1 to k - 1."""
    return dict(SUPPRESSED) if 0 < count < k else count


def rate(part: int, whole: int, k: int) -> float | Mapping[str, bool] | None:
    """``part / whole`` rounded to 4 places; suppressed if either count is; None if whole is 0."""
    if 0 < part < k or 0 < whole < k:
        return dict(SUPPRESSED)
    if whole == 0:
        return None
    return round(part / whole, 4)


def table(
    table_id: str, title: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """A table: rows keep only the named columns, in order."""
    return {
        "id": table_id,
        "title": title,
        "columns": list(columns),
        "rows": [{column: row.get(column) for column in columns} for row in rows],
    }


def chart(
    chart_id: str,
    title: str,
    kind: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    unit: str = "",
) -> dict[str, Any]:
    """A chart (``line`` or ``bar``): one value (or None: unknown, suppressed) per label."""
    return {
        "id": chart_id,
        "title": title,
        "kind": kind,
        "unit": unit,
        "labels": list(labels),
        "series": [{"name": name, "values": list(values)} for name, values in series.items()],
    }


def document(
    kind: str,
    title: str,
    *,
    generated_at: datetime,
    k: int,
    summary: Mapping[str, Any],
    tables: Sequence[Mapping[str, Any]],
    charts: Sequence[Mapping[str, Any]] = (),
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """A whole report."""
    return {
        "report": kind,
        "title": title,
        "generated_at": generated_at.isoformat(),
        "k": k,
        "notes": list(notes),
        "summary": dict(summary),
        "tables": [dict(t) for t in tables],
        "charts": [dict(c) for c in charts],
    }
