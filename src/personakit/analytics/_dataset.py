"""Datasets for differentially private queries: numpy columns, each subject's rows bounded.

A :class:`Dataset` is immutable once built. Every row belongs to one subject; no subject has
more than ``rows_per_subject`` rows (extra rows are dropped at build time, keeping each
subject's earliest), so adding or removing one *customer* changes at most that many rows: the
queries use it as OpenDP's ``d_in`` and the privacy unit is a customer, never a row.

Columns are ``int`` (int64: counts, money in integer cents, months as ``yyyymm``), ``float``
(float64, finite: NaN and infinity are refused or imputed when a query reads them, never
handed to OpenDP) or ``category`` (int64 codes into labels seen in the data, which are private:
only a thresholded release may reveal them).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from attrs import field, frozen

from personakit.events import Event
from personakit.exceptions import InvalidInput, Problem

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["Column", "Dataset", "build_dataset", "events_datasets"]

ColumnKind = Literal["int", "float", "category"]
_INT64: Final = 2**63 - 1
#: Default bound on rows per customer for row-level datasets (orders, events).
DEFAULT_ROWS_PER_SUBJECT: Final = 20


@frozen(kw_only=True, eq=False)
class Column:
    """One column: its kind, its values (a numpy array) and, for categories, the labels."""

    kind: ColumnKind
    values: npt.NDArray[Any]
    labels: tuple[str, ...] = ()
    finite: bool = True


@frozen(kw_only=True, eq=False)
class Dataset:
    """An immutable numpy dataset with each subject's contribution bounded.

    ``subjects`` holds one small integer per row (which customer it belongs to; never a
    pseudonym), ``rows_per_subject`` the bound every query's ``d_in`` comes from.
    """

    name: str
    rows_per_subject: int
    subjects: npt.NDArray[Any]
    columns: Mapping[str, Column]
    _digest: list[str] = field(factory=list, repr=False)

    @property
    def rows(self) -> int:
        """How many rows (after bounding)."""
        return int(self.subjects.shape[0])

    def column(self, name: object, where: str = "column") -> Column:
        """The column ``name``; unknown: :class:`InvalidInput` (before any privacy is spent)."""
        found = self.columns.get(name) if isinstance(name, str) else None
        if found is None:
            raise InvalidInput("unknown column", [Problem(where=where, what="not in the dataset")])
        return found

    @property
    def version(self) -> str:
        """A digest of the whole content: equal digests mean an unchanged dataset.

        Computed once per dataset (it is immutable) over the bound, the row-to-subject map and
        every column's kind, values and labels, so any change to what a query could read
        changes it.
        """
        if not self._digest:
            digest = hashlib.blake2b(digest_size=20, person=b"personakit-dpds")
            digest.update(f"{self.name}\x00{self.rows_per_subject}\x00".encode())
            digest.update(self.subjects.tobytes())
            for name in sorted(self.columns):
                column = self.columns[name]
                digest.update(f"\x00{name}\x00{column.kind}\x00".encode("utf-8", "surrogatepass"))
                digest.update(column.values.tobytes())
                for label in column.labels:
                    digest.update(label.encode("utf-8", "surrogatepass") + b"\x00")
            self._digest.append(digest.hexdigest())
        return self._digest[0]

    @classmethod
    def from_arrays(
        cls,
        name: str,
        subjects: npt.NDArray[Any],
        columns: Mapping[str, npt.NDArray[Any]],
        *,
        rows_per_subject: int,
    ) -> Dataset:
        """A dataset from numpy arrays (one subject code per row), each subject's rows bounded.

        Integer arrays become ``int`` columns, floating ones ``float`` columns; a capability
        with its data already in numpy skips the row-by-row build. Raises
        :class:`InvalidInput` for arrays of other kinds or lengths.
        """
        import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

        problems: list[Problem] = []
        codes = np.asarray(subjects)
        if codes.ndim != 1 or not np.issubdtype(codes.dtype, np.integer):
            problems.append(Problem(where="subjects", what="a 1-d integer array"))
        if (
            isinstance(rows_per_subject, bool)
            or not isinstance(rows_per_subject, int)
            or rows_per_subject < 1
        ):
            problems.append(Problem(where="rows_per_subject", what="a positive integer"))
        made: dict[str, Column] = {}
        for key, values in columns.items():
            array = np.asarray(values)
            if array.shape != codes.shape:
                problems.append(Problem(where="columns", what="one value per row"))
            elif np.issubdtype(array.dtype, np.integer):
                made[key] = Column(kind="int", values=array.astype(np.int64))
            elif np.issubdtype(array.dtype, np.floating):
                floats = array.astype(np.float64)
                made[key] = Column(
                    kind="float", values=floats, finite=bool(np.isfinite(floats).all())
                )
            else:
                problems.append(Problem(where="columns", what="integer or floating arrays"))
        if problems:
            raise InvalidInput(f"dataset {name!r} cannot be built", problems)
        keep = _bound_rows(codes.astype(np.int64), rows_per_subject)
        return cls(
            name=name,
            rows_per_subject=rows_per_subject,
            subjects=codes.astype(np.int64)[keep],
            columns={
                k: Column(kind=c.kind, values=c.values[keep], finite=c.finite)
                for k, c in made.items()
            },
        )

    def describe(self) -> dict[str, Any]:
        """Name, bound, row count and column kinds (no values): what the CLI lists."""
        return {
            "name": self.name,
            "rows": self.rows,
            "rows_per_subject": self.rows_per_subject,
            "columns": {name: column.kind for name, column in sorted(self.columns.items())},
        }


def _bound_rows(subject_codes: npt.NDArray[Any], limit: int) -> npt.NDArray[Any]:
    """Indices of the rows kept: each subject's first ``limit`` rows, in the original order."""
    import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

    order = np.argsort(subject_codes, kind="stable")
    ordered = subject_codes[order]
    starts = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]
    lengths = np.diff(np.r_[starts, ordered.shape[0]])
    rank = np.arange(ordered.shape[0]) - np.repeat(starts, lengths)
    return np.sort(order[rank < limit])


def _column(  # noqa: PLR0911 (one return per column kind)
    values: list[Any], problems: list[Problem], where: str, kind: ColumnKind | None = None
) -> Column | None:
    import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

    present = [v for v in values if v is not None]
    if not present and kind is not None:
        dtype = np.float64 if kind == "float" else np.int64
        return Column(kind=kind, values=np.zeros(len(values), dtype=dtype))
    if present and all(isinstance(v, bool) for v in present):
        return Column(kind="int", values=np.array([int(bool(v)) for v in values], dtype=np.int64))
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        if any(abs(v) > _INT64 for v in present):
            problems.append(Problem(where=where, what="integers must fit in 64 bits"))
            return None
        # a missing integer is imputed as 0 here; the query's clamp bounds still apply
        return Column(kind="int", values=np.array([v or 0 for v in values], dtype=np.int64))
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        floats = [math.nan if v is None else float(v) for v in values]
        array = np.array(floats, dtype=np.float64)
        return Column(kind="float", values=array, finite=bool(np.isfinite(array).all()))
    if all(isinstance(v, str) for v in present):
        labels = sorted(set(present))
        code = {label: i for i, label in enumerate(labels)}
        # missing labels get code len(labels): a category of its own no key ever names
        array = np.array(
            [code.get(v, len(labels)) if v is not None else len(labels) for v in values]
        )
        return Column(kind="category", values=array.astype(np.int64), labels=tuple(labels))
    problems.append(Problem(where=where, what="values must all be numbers, booleans or strings"))
    return None


def build_dataset(
    name: str,
    rows: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    rows_per_subject: int,
    schema: Mapping[str, ColumnKind] | None = None,
) -> Dataset:
    """Build a dataset from ``(subject, row)`` pairs, keeping each subject's first rows.

    ``schema`` names columns that exist even when no row has them (an empty dataset).

    Raises :class:`InvalidInput` listing every column that cannot be a numpy column.
    """
    import numpy as np  # noqa: PLC0415 - lazily: import personakit stays fast

    codes: dict[str, int] = {}
    subject_of_row: list[int] = []
    table: dict[str, list[Any]] = {key: [] for key in schema or {}}
    for index, (subject, row) in enumerate(rows):
        subject_of_row.append(codes.setdefault(subject, len(codes)))
        for key in row:
            table.setdefault(key, [None] * index)
        for key, column in table.items():
            column.append(row.get(key))
    subjects = np.array(subject_of_row, dtype=np.int64)
    keep = _bound_rows(subjects, rows_per_subject)
    problems: list[Problem] = []
    columns: dict[str, Column] = {}
    for key, values in table.items():
        if not isinstance(key, str) or not key:
            problems.append(Problem(where="column", what="names must be non-empty strings"))
            continue
        kept = [values[i] for i in keep.tolist()]
        where = f"column {key!r}" if key.isidentifier() else "column"
        made = _column(kept, problems, where, (schema or {}).get(key))
        if made is not None:
            columns[key] = made
    if problems:
        raise InvalidInput(f"dataset {name!r} cannot be built", problems)
    return Dataset(
        name=name, rows_per_subject=rows_per_subject, subjects=subjects[keep], columns=columns
    )


def _month(event: Event) -> int:
    return event.at.year * 100 + event.at.month


def _cents(event: Event) -> int:
    value = event.properties.get("value_cents")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    total = 0
    for line in event.properties.get("items", ()) or ():
        if isinstance(line, Mapping):
            cents = line.get("value_cents", line.get("price_cents"))
            quantity = line.get("quantity", 1)
            if isinstance(cents, int) and isinstance(quantity, int):
                total += cents * quantity
    return total


def events_datasets(
    subjects: Sequence[str],
    allowed: Callable[[str], bool],
    read: Callable[[str], Sequence[Event]],
    *,
    purpose: str,
    rows_per_subject: int = DEFAULT_ROWS_PER_SUBJECT,
) -> dict[str, Dataset]:
    """The built-in datasets, read from the store's events in one pass over ``subjects``.

    Only subjects for whom ``allowed(subject)`` (a lawful basis for ``purpose`` now:
    restricted and objecting subjects have none) and only events collected for ``purpose``.

    * ``orders``: one row per purchase: ``value_cents``, ``month`` (``yyyymm``), ``channel``.
    * ``events``: one row per event: ``kind``, ``channel``, ``month``.
    * ``customers``: one row per customer with an order: ``orders``, ``value_cents`` (their
      total), ``cohort`` (month of the first order, 0 for none), ``repeat`` (1 if two orders
      or more).
    """
    orders: list[tuple[str, dict[str, Any]]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    customers: list[tuple[str, dict[str, Any]]] = []
    for subject in subjects:
        if not allowed(subject):
            continue
        mine = [e for e in read(subject) if purpose in e.purposes]
        bought = sorted((e for e in mine if e.kind == "purchase"), key=lambda e: e.at)
        events.extend(
            (subject, {"kind": e.kind, "channel": e.channel, "month": _month(e)}) for e in mine
        )
        orders.extend(
            (
                subject,
                {"value_cents": _cents(e), "month": _month(e), "channel": e.channel},
            )
            for e in bought
        )
        if not bought:
            continue
        customers.append(
            (
                subject,
                {
                    "orders": len(bought),
                    "value_cents": sum(_cents(e) for e in bought),
                    "cohort": _month(bought[0]) if bought else 0,
                    "repeat": int(len(bought) >= 2),  # noqa: PLR2004 (two orders make a repeat)
                },
            )
        )
    return {
        "orders": build_dataset(
            "orders",
            orders,
            rows_per_subject=rows_per_subject,
            schema={"value_cents": "int", "month": "int", "channel": "category"},
        ),
        "events": build_dataset(
            "events",
            events,
            rows_per_subject=rows_per_subject,
            schema={"kind": "category", "channel": "category", "month": "int"},
        ),
        "customers": build_dataset(
            "customers",
            customers,
            rows_per_subject=1,
            schema={"orders": "int", "value_cents": "int", "cohort": "int", "repeat": "int"},
        ),
    }
