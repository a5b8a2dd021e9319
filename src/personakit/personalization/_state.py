"""The small per-subject state personalization keeps on ingest, and how one event changes it.

One sealed vault record per subject (kind ``aggregates``), read and written whole: first and
last seen, orders, money (integer cents), last purchase, the open cart, recent items,
per-dimension affinities and the segments the subject was last recorded in.

Every update is a fold that does not depend on the order events arrive in (bulk files are
not always in time order, and a merge folds two histories together), so the state equals a
rebuild that replays the same events sorted by time:

* first / last seen, last purchase: min / max; orders and money: sums.
* the cart: the changes made *after* the last purchase (a purchase closes the cart, and a
  change older than the last purchase is ignored), kept sorted; the cart's lines are their
  net quantities.
* recent items: per item its newest time; the ``recent_items`` newest are kept.
* affinities: per (dimension, value) a pair (score, t) meaning ``score * 2^(-(T - t)/h)`` at
  read time ``T >= t`` (h the half-life). Adding weight ``w`` at ``t_e`` keeps the pair exact
  whichever comes first: ``t_e >= t`` gives ``(score * 2^(-(t_e - t)/h) + w, t_e)``, an older
  event adds ``w * 2^(-(t - t_e)/h)``. Every factor is at most 1, so nothing overflows. A
  read before ``t`` answers the score at ``t`` (the state does not un-decay).

Two limits keep the record small: ``max_affinity_values`` per dimension (the weakest value
goes) and ``max_cart_changes`` (the oldest change goes). Only past those limits does the
result depend on arrival order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from attrs import define, field, frozen

from personakit._clock import from_micros, to_micros
from personakit._codec import canonical_json
from personakit.events import Event
from personakit.personalization._config import PersonalizationConfig

__all__ = ["Aggregates", "Folder", "SubjectState", "decay"]

_MICROS_PER_DAY: Final = 86_400_000_000
_LABEL_MAX: Final = 128
_PERSONALIZATION: Final = "personalization"


def decay(elapsed_micros: int, half_life_micros: float) -> float:
    """The factor ``2^(-elapsed / half_life)`` for ``elapsed >= 0`` (0.0 once it underflows)."""
    return math.exp(-math.log(2.0) * elapsed_micros / half_life_micros)


@define(kw_only=True)
class SubjectState:
    """The aggregates of one subject, as kept in its sealed record (times in µs since epoch)."""

    first_seen: int | None = None
    last_seen: int | None = None
    order_count: int = 0
    monetary_cents: int = 0
    last_purchase: int | None = None
    #: (at, item, quantity change, price in cents or -1), sorted; only those after last_purchase.
    cart: list[tuple[int, str, int, int]] = field(factory=list)
    #: item -> newest time it was seen.
    recent: dict[str, int] = field(factory=dict)
    #: dimension -> value -> (score, t).
    affinities: dict[str, dict[str, tuple[float, int]]] = field(factory=dict)
    #: Segments the subject is recorded in (the shared index mirrors this).
    segments: list[str] = field(factory=list)

    def to_bytes(self) -> bytes:
        """The record's plaintext (canonical JSON)."""
        return canonical_json(
            {
                "v": 1,
                "fs": self.first_seen,
                "ls": self.last_seen,
                "oc": self.order_count,
                "mc": self.monetary_cents,
                "lp": self.last_purchase,
                "cart": [list(change) for change in self.cart],
                "rec": self.recent,
                "aff": {
                    dim: {value: [score, at] for value, (score, at) in values.items()}
                    for dim, values in self.affinities.items()
                },
                "seg": sorted(self.segments),
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> SubjectState:
        """Rebuild from :meth:`to_bytes` (trusted: it was decrypted from our store)."""
        # The plain decoder: this record was written by to_bytes (canonical JSON, no NaN or
        # infinity) and authenticated on decryption, so the input decoder's checks (a Python
        # call per float) would only slow every decision down (measured: a third of a read).
        doc: dict[str, Any] = _DECODE(raw.decode())
        return cls(
            first_seen=doc["fs"],
            last_seen=doc["ls"],
            order_count=doc["oc"],
            monetary_cents=doc["mc"],
            last_purchase=doc["lp"],
            cart=[(c[0], c[1], c[2], c[3]) for c in doc["cart"]],
            recent=dict(doc["rec"]),
            affinities={
                dim: {value: (float(pair[0]), int(pair[1])) for value, pair in values.items()}
                for dim, values in doc["aff"].items()
            },
            segments=list(doc["seg"]),
        )

    @property
    def empty(self) -> bool:
        """Whether no event was ever folded in (a record may still hold segments)."""
        return self.first_seen is None

    def same_aggregates(self, other: SubjectState, *, rel: float = 1e-9) -> bool:
        """Equal but for float rounding of affinity scores (and the segments recorded).

        Affinities folded in another order differ by rounding only: each score is a sum of at
        most a few thousand terms, each within one ulp of its exact value, so a relative
        tolerance of 1e-9 is about a million ulps of headroom and still tells any real
        difference (one event more or less changes a score by its weight).
        """
        plain = (
            self.first_seen,
            self.last_seen,
            self.order_count,
            self.monetary_cents,
            self.last_purchase,
            self.cart,
            self.recent,
        )
        theirs = (
            other.first_seen,
            other.last_seen,
            other.order_count,
            other.monetary_cents,
            other.last_purchase,
            other.cart,
            other.recent,
        )
        if plain != theirs or set(self.affinities) != set(other.affinities):
            return False
        for dim, values in self.affinities.items():
            others = other.affinities[dim]
            if set(values) != set(others):
                return False
            for value, (score, at) in values.items():
                their_score, their_at = others[value]
                if at != their_at or not math.isclose(score, their_score, rel_tol=rel):
                    return False
        return True


# json.loads builds nothing per call but sniffs the bytes' encoding first; ours are UTF-8.
_DECODE: Final = json.JSONDecoder().decode


@frozen(kw_only=True)
class Aggregates:
    """A subject's aggregates at one moment, as the service hands them out."""

    first_seen: datetime | None
    last_seen: datetime | None
    order_count: int
    monetary_cents: int
    last_purchase_at: datetime | None
    cart_items: int
    cart_value_cents: int
    cart_updated_at: datetime | None
    cart: tuple[tuple[str, int], ...]
    recent_items: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON form (times as ISO 8601)."""
        return {
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "order_count": self.order_count,
            "monetary_cents": self.monetary_cents,
            "last_purchase_at": _iso(self.last_purchase_at),
            "cart_items": self.cart_items,
            "cart_value_cents": self.cart_value_cents,
            "cart_updated_at": _iso(self.cart_updated_at),
            "cart": [[item, quantity] for item, quantity in self.cart],
            "recent_items": list(self.recent_items),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)


class Folder:
    """Folds events into states and states into one another, under one configuration."""

    def __init__(self, config: PersonalizationConfig) -> None:
        """Use ``config``'s weights, dimensions, half-life and limits."""
        self.config = config
        self.half_life = config.half_life_days * _MICROS_PER_DAY
        self.weights = dict(config.weights)
        self.extra = config.dimensions

    def __repr__(self) -> str:
        """Render with the half-life."""
        return f"Folder(half_life_days={self.config.half_life_days!r})"

    # -- reading --------------------------------------------------------------------------

    def view(self, state: SubjectState) -> Aggregates:
        """The readable aggregates of ``state``."""
        lines = self.cart_lines(state)
        updated = state.cart[-1][0] if lines else None
        recent = sorted(state.recent.items(), key=lambda pair: (-pair[1], pair[0]))
        return Aggregates(
            first_seen=_time(state.first_seen),
            last_seen=_time(state.last_seen),
            order_count=state.order_count,
            monetary_cents=state.monetary_cents,
            last_purchase_at=_time(state.last_purchase),
            cart_items=sum(quantity for quantity, _ in lines.values()),
            cart_value_cents=sum(q * max(price, 0) for q, price in lines.values()),
            cart_updated_at=_time(updated),
            cart=tuple(sorted((item, quantity) for item, (quantity, _) in lines.items())),
            recent_items=tuple(item for item, _ in recent),
        )

    @staticmethod
    def cart_lines(state: SubjectState) -> dict[str, tuple[int, int]]:
        """Item -> (net quantity, latest known price) for the lines with a positive quantity."""
        net: dict[str, int] = {}
        price: dict[str, int] = {}
        for _, item, change, cents in state.cart:  # sorted by time: the last price wins
            net[item] = net.get(item, 0) + change
            if cents >= 0:
                price[item] = cents
        return {item: (q, price.get(item, -1)) for item, q in net.items() if q > 0}

    def affinity(self, pair: tuple[float, int], now_micros: int) -> float:
        """The decayed score of one (score, t) pair at ``now``."""
        score, at = pair
        return score * decay(max(0, now_micros - at), self.half_life)

    def top(
        self, state: SubjectState, dimension: str, k: int, now: datetime
    ) -> list[tuple[str, float]]:
        """The ``k`` best values of ``dimension`` at ``now``, best first (ties by value)."""
        values = state.affinities.get(dimension, {})
        at = to_micros(now)
        scored = [(value, self.affinity(pair, at)) for value, pair in values.items()]
        scored.sort(key=lambda pair: (-pair[1], pair[0]))
        return scored[:k]

    # -- folding --------------------------------------------------------------------------

    def fold(self, state: SubjectState, events: Iterable[Event]) -> bool:
        """Fold the events that may feed personalization into ``state``; whether any did."""
        changed = False
        for event in events:
            if _PERSONALIZATION in event.purposes:
                self._fold_one(state, event.kind, to_micros(event.at), event.properties)
                changed = True
        if changed:
            self._trim(state)
        return changed

    def _fold_one(self, state: SubjectState, kind: str, at: int, props: Mapping[str, Any]) -> None:
        state.first_seen = at if state.first_seen is None else min(state.first_seen, at)
        state.last_seen = at if state.last_seen is None else max(state.last_seen, at)
        items = _items(props)
        for item in items:
            if state.recent.get(item, -1) < at:
                state.recent[item] = at
        if kind == "purchase":
            state.order_count += 1
            state.monetary_cents += _purchase_value(props)
            if state.last_purchase is None or at > state.last_purchase:
                state.last_purchase = at
                state.cart = [change for change in state.cart if change[0] > at]
        elif (
            kind in {"add_to_cart", "remove_from_cart"}
            and items
            and (state.last_purchase is None or at > state.last_purchase)
        ):
            quantity = _int(props.get("quantity"), 1)
            sign = 1 if kind == "add_to_cart" else -1
            price = _int(props.get("price_cents"), -1) if sign > 0 else -1
            state.cart.append((at, items[0], sign * quantity, price))
            state.cart.sort()
        weight = self.weights.get(kind)
        if weight:
            for dimension, value in self._labels(props):
                self._add(state, dimension, value, weight, at)

    def _labels(self, props: Mapping[str, Any]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        sources: list[Mapping[str, Any]] = [props]
        lines = props.get("items")
        if isinstance(lines, list):
            sources.extend(line for line in lines if isinstance(line, Mapping))
        for source in sources:
            for dimension, key in (("category", "category"), ("brand", "brand"), ("tag", "tags")):
                found.update((dimension, label) for label in _labels_of(source.get(key)))
            for name in self.extra:
                found.update((name, label) for label in _labels_of(source.get(name)))
        return found

    def _add(self, state: SubjectState, dimension: str, value: str, weight: float, at: int) -> None:
        values = state.affinities.setdefault(dimension, {})
        old = values.get(value)
        if old is None:
            values[value] = (weight, at)
        else:
            score, since = old
            if at >= since:
                values[value] = (score * decay(at - since, self.half_life) + weight, at)
            else:
                values[value] = (score + weight * decay(since - at, self.half_life), since)

    def merge(self, target: SubjectState, source: SubjectState) -> None:
        """Fold ``source``'s aggregates into ``target`` (a link merged the two subjects)."""
        if source.empty:
            return
        assert source.first_seen is not None
        assert source.last_seen is not None
        target.first_seen = (
            source.first_seen
            if target.first_seen is None
            else min(target.first_seen, source.first_seen)
        )
        target.last_seen = (
            source.last_seen
            if target.last_seen is None
            else max(target.last_seen, source.last_seen)
        )
        target.order_count += source.order_count
        target.monetary_cents += source.monetary_cents
        last = max(
            (t for t in (target.last_purchase, source.last_purchase) if t is not None), default=None
        )
        target.last_purchase = last
        target.cart = sorted(c for c in (*target.cart, *source.cart) if last is None or c[0] > last)
        for item, at in source.recent.items():
            if target.recent.get(item, -1) < at:
                target.recent[item] = at
        for dimension, values in source.affinities.items():
            mine = target.affinities.setdefault(dimension, {})
            for value, (score, at) in values.items():
                old = mine.get(value)
                if old is None:
                    mine[value] = (score, at)
                else:
                    both = max(at, old[1])
                    mine[value] = (
                        old[0] * decay(both - old[1], self.half_life)
                        + score * decay(both - at, self.half_life),
                        both,
                    )
        self._trim(target)

    def _trim(self, state: SubjectState) -> None:
        limit = self.config.recent_items
        if len(state.recent) > limit:
            kept = sorted(state.recent.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
            state.recent = dict(kept)
        overflow = len(state.cart) - self.config.max_cart_changes
        if overflow > 0:
            del state.cart[:overflow]
        cap = self.config.max_affinity_values
        for dimension, values in state.affinities.items():
            if len(values) > cap:
                newest = max(at for _, at in values.values())
                ranked = sorted(
                    values.items(), key=lambda kv: (-self.affinity(kv[1], newest), kv[0])
                )
                state.affinities[dimension] = dict(ranked[:cap])


def _labels_of(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if 0 < len(value) <= _LABEL_MAX else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and 0 < len(v) <= _LABEL_MAX]
    return []


def _items(props: Mapping[str, Any]) -> list[str]:
    found = _labels_of(props.get("item"))
    lines = props.get("items")
    if isinstance(lines, list):
        for line in lines:
            if isinstance(line, Mapping):
                found.extend(_labels_of(line.get("item")))
    return found


def _int(value: object, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
    )


def _purchase_value(props: Mapping[str, Any]) -> int:
    value = props.get("value_cents")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    lines = props.get("items")
    total = 0
    if isinstance(lines, list):
        for line in lines:
            if isinstance(line, Mapping):
                total += _int(line.get("price_cents"), 0) * _int(line.get("quantity"), 1)
    return total
