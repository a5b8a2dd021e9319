"""Where the model lives: one row per item in the data store, and per-subject records.

Each item's row (``x/recommendations/i/<hash of the item id>``, JSON: the item id, ``n``,
``co``, ``d``) holds sums over subjects and nothing keyed by a subject. A subject's record (the
items they interacted with, how often, when last) is sealed in their vault, so the exact
contribution is known when they leave and erasure crypto-shreds it.

Writers read, change and write only the rows an update touches, with one ``get_many`` inside
the writing store transaction (bulk ingest: once per batch, the batch's changes summed in
:class:`RowSums` first): SQLite serialises writers (BEGIN IMMEDIATE), PostgreSQL
takes an advisory lock per row key (in ascending order within the call), so concurrent writers
of different subjects never lose an update and there is no lock held for the whole model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from personakit._codec import canonical_json, loads
from personakit._vault import Vault
from personakit.events import Event
from personakit.recommendations._model import Interaction, ItemRow
from personakit.storage import Store

__all__ = [
    "INTERACTIONS",
    "KIND",
    "MAX_ITEMS",
    "PURPOSE",
    "ROWS",
    "RowSums",
    "apply_rows",
    "cap_record",
    "load_rows",
    "read_record",
    "record_from_events",
    "row_key",
    "update_record",
    "write_record",
]

#: The purpose the model serves: the manifest's profiling one.
PURPOSE: Final = "personalization"
#: The per-subject record kind (sealed in the vault).
KIND: Final = "recommendations"
_NAME: Final = "items"
ROWS: Final = "x/recommendations/i/"
#: A subject's most recent items kept in their record (pairs grow as its square).
MAX_ITEMS: Final = 500
#: Event kinds that count as an interaction, and whether the item was bought.
INTERACTIONS: Final = {"purchase": True, "add_to_cart": False, "product_view": False}


def row_key(item: str) -> str:
    """The store key of ``item``'s row (hashed: item ids may hold any character)."""
    return ROWS + hashlib.sha256(item.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _items(event: Event) -> Iterator[str]:
    props = event.properties
    item = props.get("item")
    if isinstance(item, str) and item:
        yield item
    lines = props.get("items") if event.kind == "purchase" else None
    if isinstance(lines, list):
        for line in lines:
            if isinstance(line, Mapping) and isinstance(line.get("item"), str) and line["item"]:
                yield line["item"]


def update_record(record: dict[str, Interaction], events: Iterable[Event]) -> bool:
    """Fold the interactions among ``events`` (collected for :data:`PURPOSE`) into ``record``."""
    changed = False
    for event in events:
        bought = INTERACTIONS.get(event.kind)
        if bought is None or PURPOSE not in event.purposes:
            continue
        at = int(event.at.timestamp())
        for item in _items(event):
            seen = record.get(item)
            record[item] = Interaction(
                count=(seen.count if seen else 0) + 1,
                last=max(at, seen.last) if seen else at,
                bought=(seen.bought if seen else 0) + int(bought),
            )
            changed = True
    return changed


def cap_record(record: Mapping[str, Interaction]) -> dict[str, Interaction]:
    """The :data:`MAX_ITEMS` most recent items (the evaluation applies the same cap)."""
    if len(record) <= MAX_ITEMS:
        return dict(record)
    keep = sorted(record.items(), key=lambda kv: (-kv[1].last, -kv[1].count, kv[0]))
    return dict(keep[:MAX_ITEMS])


def record_from_events(events: Iterable[Event]) -> dict[str, Interaction]:
    """A subject's record rebuilt from their stored events."""
    record: dict[str, Interaction] = {}
    update_record(record, sorted(events, key=lambda e: e.at))
    return cap_record(record)


def read_record(vault: Vault, subject: str) -> dict[str, Interaction]:
    """``subject``'s record (empty if none)."""
    doc = vault.get_json(subject, KIND, _NAME)
    if not isinstance(doc, dict):
        return {}
    return {item: Interaction(int(v[0]), int(v[1]), int(v[2])) for item, v in doc.items()}


def write_record(vault: Vault, subject: str, record: Mapping[str, Interaction]) -> None:
    """Seal ``record`` in ``subject``'s vault (deleted when empty)."""
    if not record:
        vault.delete(subject, KIND, _NAME)
        return
    doc = {item: [i.count, i.last, i.bought] for item, i in sorted(record.items())}
    vault.put_json(subject, KIND, _NAME, doc)


class RowSums:
    """Signed changes to many rows summed in place (a bulk ingest batch's, see ``_service``)."""

    def __init__(self) -> None:
        """Start with no change."""
        self.rows: dict[str, ItemRow] = {}

    def __bool__(self) -> bool:
        """Whether any row changes."""
        return bool(self.rows)

    def add(self, deltas: Mapping[str, ItemRow]) -> None:
        """Add ``deltas`` (each row's dicts are this object's own once added, changed in place)."""
        rows = self.rows
        for item, delta in deltas.items():
            row = rows.get(item)
            if row is None:
                rows[item] = ItemRow(n=delta.n, co=dict(delta.co), days=dict(delta.days))
                continue
            _add_into(row.co, delta.co)
            _add_into(row.days, delta.days)
            if row.n + delta.n or row.co or row.days:
                rows[item] = ItemRow(n=row.n + delta.n, co=row.co, days=row.days)
            else:
                del rows[item]  # cancelled out: the row is not even read


def _add_into(into: dict[Any, int], other: Mapping[Any, int]) -> None:
    for key, value in other.items():
        total = into.get(key, 0) + value
        if total:
            into[key] = total
        else:
            del into[key]


def apply_rows(store: Store, deltas: Mapping[str, ItemRow]) -> int:
    """Add signed ``deltas`` to the stored rows; rows left empty are deleted. Returns rows.

    Works on the stored JSON documents directly (day keys as their decimal strings): the
    encoder sorts keys, so the bytes written are those of :meth:`ItemRow.to_json` of the sum.
    """
    if not deltas:
        return 0
    keys = {row_key(item): item for item in deltas}
    ordered = sorted(keys)
    with store.transaction():
        found = store.get_many(ordered)
        writes: list[tuple[str, bytes]] = []
        for key in ordered:
            item = keys[key]
            delta = deltas[item]
            raw = found.get(key)
            doc: dict[str, Any] = (
                {"item": item, "n": 0, "co": {}, "d": {}} if raw is None else loads(raw)
            )
            n = doc["n"] = doc["n"] + delta.n
            co: dict[str, int] = doc["co"]
            negative = n < 0
            for other, value in delta.co.items():
                total = co.get(other, 0) + value
                if total > 0:
                    co[other] = total
                else:
                    # Stored counts are positive: only this delta's keys can go below zero.
                    negative = negative or total < 0
                    co.pop(other, None)
            days: dict[str, int] = doc["d"]
            for day, value in delta.days.items():
                text = str(day)
                total = days.get(text, 0) + value
                if total:
                    days[text] = total
                else:
                    days.pop(text, None)
            if negative:
                msg = "recommendation model out of step; run `personakit recommend rebuild`"
                raise RuntimeError(msg)
            if n == 0 and not co and not days:
                store.delete(key)
            else:
                writes.append((key, canonical_json(doc)))
        if writes:
            store.put_many(writes)
    return len(ordered)


def load_rows(store: Store) -> dict[str, ItemRow]:
    """Every item row, by item id."""
    rows: dict[str, ItemRow] = {}
    for _, raw in store.scan(ROWS):
        doc: Any = loads(raw)
        rows[str(doc["item"])] = ItemRow.from_json(doc)
    return rows
