"""From a purchase history to the model's statistics: (x, t_x, T, mean repeat order value).

Pure Python. Purchases on the same day count as one (the convention of the BG/NBD papers,
where a day is the finest grain of the CDNOW data). Also reads the CDNOW files shipped with
the ``lifetimes`` package, which the replication and the benchmarks use.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from attrs import frozen

from personakit.exceptions import ConfigurationError

__all__ = ["CustomerSummary", "Purchase", "cdnow_path", "read_cdnow", "summarize"]


@frozen
class Purchase:
    """One order: who, on which day, for how much."""

    customer: str
    day: date
    value: float


@frozen(kw_only=True)
class CustomerSummary:
    """A customer's statistics at the end of a period, time in weeks.

    ``x`` repeat purchase days, ``t_x`` weeks from the first purchase to the last, ``big_t``
    weeks from the first purchase to the end, ``mean_value`` the mean value of the repeat
    purchase days (0 without one), ``first`` the first purchase day.
    """

    x: int
    t_x: float
    big_t: float
    mean_value: float
    first: date

    def stats(self) -> tuple[float, float, float, float]:
        """(x, t_x, T, mean repeat value): what the scoring formulas read."""
        return (float(self.x), self.t_x, self.big_t, self.mean_value)


def summarize(purchases: Iterable[Purchase], end: date) -> dict[str, CustomerSummary]:
    """Each customer's statistics over the purchases made up to and including ``end``."""
    days: dict[str, dict[date, float]] = {}
    for purchase in purchases:
        if purchase.day <= end:
            per_day = days.setdefault(purchase.customer, {})
            per_day[purchase.day] = per_day.get(purchase.day, 0.0) + purchase.value
    result = {}
    for customer, per_day in days.items():
        ordered = sorted(per_day)
        first, last = ordered[0], ordered[-1]
        repeat = [per_day[day] for day in ordered[1:]]
        result[customer] = CustomerSummary(
            x=len(repeat),
            t_x=(last - first).days / 7,
            big_t=(end - first).days / 7,
            mean_value=sum(repeat) / len(repeat) if repeat else 0.0,
            first=first,
        )
    return result


def cdnow_path(name: str) -> Path:
    """Where ``lifetimes`` installed ``CDNOW_sample.txt`` or ``CDNOW_master.txt``.

    Raises :class:`ConfigurationError` saying how to get it (``pip install --no-deps
    lifetimes==0.11.3``: only its data files are used, never its code).
    """
    import importlib.metadata  # noqa: PLC0415 (costs ~20 ms: only when the data are wanted)

    try:
        distribution = importlib.metadata.distribution("lifetimes")
    except importlib.metadata.PackageNotFoundError:
        distribution = None
    if distribution is not None:
        for file in distribution.files or ():
            if file.name == name and file.parent.name == "datasets":
                path = Path(str(distribution.locate_file(file)))
                if path.is_file():
                    return path
    raise ConfigurationError(
        f"{name} not found: pip install --no-deps lifetimes==0.11.3 (its data files only)"
    )


def read_cdnow(path: Path) -> list[Purchase]:
    """The purchases of a CDNOW file: sample (id, sample id, day, CDs, $) or master (id, ...)."""
    purchases = []
    with path.open(encoding="ascii") as lines:
        for line in lines:
            fields = line.split()
            if not fields or not fields[0].isdigit():
                continue  # the master file's header
            stamp = fields[-3]
            day = date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))
            purchases.append(Purchase(fields[0], day, float(fields[-1])))
    return purchases
