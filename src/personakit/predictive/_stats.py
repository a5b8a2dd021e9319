"""A customer's sufficient statistics for the purchase models, kept up to date by a hook.

Four numbers and two days are all BG/NBD and Gamma-Gamma read: the first and last purchase
day, how many distinct purchase days, what the first day and all days spent. Updating them is
O(1) per event; the record is sealed in the subject's vault like every per-subject record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from attrs import evolve, frozen

from personakit._codec import canonical_json, loads

__all__ = ["PurchaseStats", "order_cents"]


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

    Purchases on one day count as one (as in the BG/NBD papers). A purchase recorded late, on
    a day strictly between the first and the last, is taken as a new day: the statistics do
    not keep the list of days (that is what keeps them O(1)).
    """

    first: date
    last: date
    days: int
    first_cents: int
    total_cents: int

    @classmethod
    def start(cls, day: date, cents: int) -> PurchaseStats:
        """The statistics of a first purchase."""
        return cls(first=day, last=day, days=1, first_cents=cents, total_cents=cents)

    def add(self, day: date, cents: int) -> PurchaseStats:
        """The statistics after one more purchase on ``day``."""
        total = self.total_cents + cents
        if day == self.first:
            return evolve(self, first_cents=self.first_cents + cents, total_cents=total)
        if day < self.first:
            return evolve(self, first=day, days=self.days + 1, first_cents=cents, total_cents=total)
        if day == self.last:
            return evolve(self, total_cents=total)
        return evolve(self, last=max(day, self.last), days=self.days + 1, total_cents=total)

    def merge(self, other: PurchaseStats) -> PurchaseStats:
        """Both histories as one customer's (a linked anonymous and known subject)."""
        first = self if self.first <= other.first else other
        shared_day = int(self.first == other.first) + int(
            self.last == other.last and self.last != self.first
        )
        return PurchaseStats(
            first=first.first,
            last=max(self.last, other.last),
            days=max(self.days + other.days - shared_day, 1),
            first_cents=first.first_cents + (other.first_cents if self.first == other.first else 0),
            total_cents=self.total_cents + other.total_cents,
        )

    def model_inputs(self, now: datetime) -> tuple[float, float, float, float]:
        """(x, t_x, T in weeks, mean repeat order value in currency units) at ``now``."""
        repeat = self.days - 1
        today = now.date()
        age = max((today - self.first).days, (self.last - self.first).days)
        mean = (self.total_cents - self.first_cents) / 100 / repeat if repeat else 0.0
        return (float(repeat), (self.last - self.first).days / 7, age / 7, max(mean, 0.0))

    def to_json(self) -> dict[str, Any]:
        """As stored and exported."""
        return {
            "first_purchase": self.first.isoformat(),
            "last_purchase": self.last.isoformat(),
            "purchase_days": self.days,
            "first_day_cents": self.first_cents,
            "total_cents": self.total_cents,
        }

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
        )
