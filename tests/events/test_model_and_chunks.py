"""Event validation (envelope + typed properties) and per-subject chunk storage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib.resources import files

import pytest

from personakit import InvalidInput, Personakit
from personakit.events import (
    BUILTIN_KINDS,
    Event,
    EventCatalog,
    EventLog,
    event_millis,
    new_event_id,
)
from personakit.events._store import COMPACT_ABOVE

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
DECLS = {k: {"category": "browsing", "purposes": ["analytics"]} for k in BUILTIN_KINDS}
CANARY = "canary-value-91f3"


@pytest.fixture
def catalog() -> EventCatalog:
    return EventCatalog(DECLS)


def test_builtin_kinds_match_the_shipped_schemas() -> None:
    """BUILTIN_KINDS lists exactly the kinds in schemas/event_properties.json."""
    shipped = json.loads(files("personakit.schemas").joinpath("event_properties.json").read_text())
    assert sorted(k for k in shipped if not k.startswith("$")) == list(BUILTIN_KINDS)


def test_valid_event_keeps_extra_properties(catalog: EventCatalog) -> None:
    """A purchase with typed and extra properties validates and keeps them all."""
    event = catalog.build(
        {
            "name": "purchase",
            "channel": "store",
            "at": "2026-01-05T11:00:00+01:00",
            "properties": {"item": "sourdough", "value_cents": 450, "note": "x"},
        },
        now=NOW,
    )
    assert event.at == NOW
    assert event.properties["note"] == "x"


def test_every_problem_is_reported_and_no_value_is_echoed(catalog: EventCatalog) -> None:
    """Bad channel, naive time and bad properties are reported together, without the values."""
    with pytest.raises(InvalidInput) as caught:
        catalog.build(
            {
                "name": "purchase",
                "channel": CANARY,
                "at": "2026-01-05T10:00:00",
                "properties": {"item": 7, "value_cents": -1, "currency": CANARY},
            },
            now=NOW,
        )
    wheres = {p.where for p in caught.value.problems}
    assert {"$.channel", "$.at", "$.properties.item", "$.properties.value_cents"} <= wheres
    assert CANARY not in str(caught.value)


def test_unknown_kind_is_rejected(catalog: EventCatalog) -> None:
    """An undeclared kind is an InvalidInput naming the field."""
    with pytest.raises(InvalidInput, match=r"\$\.name"):
        catalog.build({"name": "teleport", "channel": "web"}, now=NOW)


def test_strict_kind_refuses_unknown_properties() -> None:
    """A kind marked strict refuses properties its schema does not declare (also via $ref)."""
    catalog = EventCatalog(
        {"add_to_cart": {"category": "cart", "purposes": ["essential"], "strict": True}}
    )
    ok = {"name": "add_to_cart", "channel": "web", "properties": {"item": "a", "quantity": 2}}
    assert catalog.build(ok, now=NOW).properties == {"item": "a", "quantity": 2}
    bad = {**ok, "properties": {"item": "a", "secret": "x"}}
    with pytest.raises(InvalidInput):
        catalog.build(bad, now=NOW)


def test_custom_kind_needs_and_uses_its_schema() -> None:
    """A custom kind without schema is refused; with one, its properties are typed."""
    with pytest.raises(InvalidInput, match="custom kind needs a 'schema'"):
        EventCatalog({"loyalty_scan": {"category": "purchases", "purposes": ["essential"]}})
    catalog = EventCatalog({})
    catalog.register(
        "loyalty_scan",
        schema={
            "type": "object",
            "required": ["points"],
            "properties": {"points": {"type": "integer"}},
        },
        category="purchases",
        purposes=["essential"],
    )
    assert catalog.build(
        {"name": "loyalty_scan", "channel": "pos", "properties": {"points": 3}}, now=NOW
    )
    with pytest.raises(InvalidInput):
        catalog.build({"name": "loyalty_scan", "channel": "pos", "properties": {}}, now=NOW)


def test_event_ids_sort_by_time() -> None:
    """Ids made later sort after ids made earlier."""
    ids = [new_event_id(NOW + timedelta(milliseconds=i)) for i in range(0, 5000, 7)]
    assert ids == sorted(ids)


def _event(i: int) -> Event:
    return Event(
        id=new_event_id(NOW + timedelta(minutes=i)),
        kind="page_view",
        channel="web",
        at=NOW + timedelta(minutes=i),
        properties={"i": i},
    )


def test_chunks_round_trip_in_time_order(memory_kit: Personakit) -> None:
    """Events appended in several chunks read back complete and oldest first."""
    subject = memory_kit.identity.resolve("customer:1", create=True)
    log = EventLog(memory_kit.vault)
    log.append(subject, [_event(5), _event(3)])
    log.append(subject, [_event(1)])
    assert [e.properties["i"] for e in log.read(subject)] == [1, 3, 5]


def test_many_small_chunks_are_compacted_on_read(memory_kit: Personakit) -> None:
    """More than COMPACT_ABOVE chunks (as earlier versions' track() left) merge on read."""
    subject = memory_kit.identity.resolve("customer:1", create=True)
    log = EventLog(memory_kit.vault)
    for i in range(COMPACT_ABOVE + 5):
        event = _event(i)
        log.append_many([(subject, [event.to_json()], event_millis(event.at))])
    assert len(log.read(subject)) == COMPACT_ABOVE + 5
    assert memory_kit.vault.count(subject)["events"] == 1
    assert [e.properties["i"] for e in log.read(subject)] == list(range(COMPACT_ABOVE + 5))


def test_remove_where_and_move(memory_kit: Personakit) -> None:
    """remove_where deletes matching events only; move transfers everything to another subject."""
    a = memory_kit.identity.resolve("anon:a", create=True)
    b = memory_kit.identity.resolve("customer:b", create=True)
    log = EventLog(memory_kit.vault)
    log.append(a, [_event(i) for i in range(10)])
    assert log.remove_where(a, lambda e: e.properties["i"] % 2 == 0) == 5
    assert log.move(a, b) == 5
    assert log.read(a) == []
    assert [e.properties["i"] for e in log.read(b)] == [1, 3, 5, 7, 9]
