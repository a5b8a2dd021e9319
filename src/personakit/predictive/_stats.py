"""A customer's sufficient statistics for the purchase models, kept up to date by a hook.

Four numbers and two days are all BG/NBD and Gamma-Gamma read: the first and last purchase
day, how many distinct purchase days, what the first day and all days spent. A bit per day
since the first purchase says which days are already counted, so a purchase recorded late on a
day already counted is not counted twice (about 46 bytes per year of history). Updating them
is O(1) per event for scoring; the record is sealed in the subject's vault like every
per-subject record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final

from attrs import evolve, frozen

from personakit._codec import canonical_json, loads

__all__ = ["MAX_SPAN_DAYS", "PurchaseStats", "order_cents"]

#: Days of history the day bits cover at most (20 years: 915 bytes). A history longer than
#: this (a purchase dated decades apart) stops keeping them, so a record stays small whatever
#: the dates sent; it then counts a late purchase on a day between the first and the last as a
#: new day, as records written before the bits were kept do.
MAX_SPAN_DAYS: Final = 20 * 366


def order_cents(properties: Mapping[str, Any]) -> int:
    """An order's value in cents: ``value_cents``, else the sum of its lines' prices."""
    value = properties.get("value_cents")
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    total = 0
    for line in properties.get("items") or ():
        if isinstance(line, Mapping):
            price = line.get("price_cents")
            quantity = line.get("quantity", 1)
            if isinstance(price, int) and isinstance(quantity, int):
                total += max(price, 0) * max(quantity, 1)
    return total


@frozen(kw_only=True)
class PurchaseStats:
    """First and last purchase day, distinct purchase days, cents spent on the first day and all.

    Purchases on one day count as one (as in the BG/NBD papers), in whatever order they
    arrive: ``seen`` has bit i set when ``first`` + i days is a purchase day. ``seen`` is None
    in a record written before it was kept, or past :data:`MAX_SPAN_DAYS`; a purchase recorded
    late on a day strictly between the first and the last is then taken as a new day.
    """

    first: date
    last: date
    days: int
    first_cents: int
    total_cents: int
    seen: int | None = None

    @classmethod
    def start(cls, day: date, cents: int) -> PurchaseStats:
        """The statistics of a first purchase."""
        return cls(first=day, last=day, days=1, first_cents=cents, total_cents=cents, seen=1)

    def add(self, day: date, cents: int) -> PurchaseStats:
        """The statistics after one more purchase on ``day``."""
        total = self.total_cents + cents
        if day == self.first:
            return evolve(self, first_cents=self.first_cents + cents, total_cents=total)
        if day < self.first:
            seen = _bounded(self.seen, (self.first - day).days, self.last, day)
            return evolve(
                self,
                first=day,
                days=self.days + 1,
                first_cents=cents,
                total_cents=total,
                seen=None if seen is None else seen | 1,
            )
        offset = (day - self.first).days
        if day == self.last or (self.seen is not None and self.seen >> offset & 1):
            return evolve(self, total_cents=total)  # a day already counted
        seen = _bounded(self.seen, 0, max(day, self.last), self.first)
        return evolve(
            self,
            last=max(day, self.last),
            days=self.days + 1,
            total_cents=total,
            seen=None if seen is None else seen | 1 << offset,
        )

    def purchase_days(self) -> list[date] | None:
        """The distinct purchase days, oldest first (None when the record does not keep them)."""
        if self.seen is None:
            return None
        bits = bin(self.seen)[:1:-1]  # bit 0 first
        return [self.first + timedelta(days=i) for i, bit in enumerate(bits) if bit == "1"]

    def merge(self, other: PurchaseStats) -> PurchaseStats:
        """Both histories as one customer's (a linked anonymous and known subject)."""
        first = self if self.first <= other.first else other
        last = max(self.last, other.last)
        if self.seen is not None and other.seen is not None and _span(first.first, last):
            seen = self.seen << (self.first - first.first).days
            seen |= other.seen << (other.first - first.first).days
            return PurchaseStats(
                first=first.first,
                last=last,
                days=seen.bit_count(),
                first_cents=self._first_day_cents(other),
                total_cents=self.total_cents + other.total_cents,
                seen=seen,
            )
        # without both day sets, only a shared first or last day can be recognised
        shared_day = int(self.first == other.first) + int(
            self.last == other.last and self.last != self.first
        )
        return PurchaseStats(
            first=first.first,
            last=last,
            days=max(self.days + other.days - shared_day, 1),
            first_cents=self._first_day_cents(other),
            total_cents=self.total_cents + other.total_cents,
        )

    def _first_day_cents(self, other: PurchaseStats) -> int:
        first = self if self.first <= other.first else other
        return first.first_cents + (other.first_cents if self.first == other.first else 0)

    def model_inputs(self, now: datetime) -> tuple[float, float, float, float]:
        """(x, t_x, T in weeks, mean repeat order value in currency units) at ``now``."""
        repeat = self.days - 1
        today = now.date()
        age = max((today - self.first).days, (self.last - self.first).days)
        mean = (self.total_cents - self.first_cents) / 100 / repeat if repeat else 0.0
        return (float(repeat), (self.last - self.first).days / 7, age / 7, max(mean, 0.0))

    def to_json(self) -> dict[str, Any]:
        """As stored and exported (``purchase_day_bits``: ``seen`` in hexadecimal)."""
        doc: dict[str, Any] = {
            "first_purchase": self.first.isoformat(),
            "last_purchase": self.last.isoformat(),
            "purchase_days": self.days,
            "first_day_cents": self.first_cents,
            "total_cents": self.total_cents,
        }
        if self.seen is not None:
            doc["purchase_day_bits"] = format(self.seen, "x")
        return doc

    def to_bytes(self) -> bytes:
        """Canonical JSON, to be sealed by the vault."""
        return canonical_json(self.to_json())

    @classmethod
    def from_bytes(cls, raw: bytes) -> PurchaseStats:
        """Read back what :meth:`to_bytes` wrote (trusted: decrypted from our store)."""
        doc = loads(raw)
        return cls(
            first=date.fromisoformat(doc["first_purchase"]),
            last=date.fromisoformat(doc["last_purchase"]),
            days=int(doc["purchase_days"]),
            first_cents=int(doc["first_day_cents"]),
            total_cents=int(doc["total_cents"]),
            seen=int(doc["purchase_day_bits"], 16) if "purchase_day_bits" in doc else None,
        )


def _span(first: date, last: date) -> bool:
    return (last - first).days < MAX_SPAN_DAYS


def _bounded(seen: int | None, shift: int, last: date, first: date) -> int | None:
    """``seen`` shifted left by ``shift`` days, or None once the history spans too long."""
    if seen is None or not _span(first, last):
        return None
    return seen << shift
