"""Property: bulk ingest leaves exactly the item model that the same lines one by one leave.

Inside a bulk ingest batch the recommendations hooks sum the batch's changes to the shared
item rows in memory and write them once, at the batch's end (``Hooks.batch``). Any lines
(interactions of known and anonymous customers, consent given and withdrawn, links) ingested
in batches of any size leave the same rows and the same per-subject records as the same
lines applied one at a time through the API (``track``, ``consent``, ``link``), and both equal
a rebuild from the remaining consented data.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _rec_worker import rebuilt
from personakit import Personakit, testing
from personakit.recommendations._shared import load_rows, read_record

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01"}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PEOPLE = 4
ITEMS = [f"sku-{n}" for n in range(5)]


def _at(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat()


def _who(known: bool, n: int) -> str:
    return f"customer:k{n}" if known else f"anon:a{n}"


_event = st.builds(
    lambda known, n, name, items, minute: {
        "kind": "event",
        "subject": _who(known, n),
        "name": name,
        "channel": "web",
        "at": _at(minute),
        "properties": (
            {"items": [{"item": i} for i in items]}
            if name == "purchase" and len(items) > 1
            else {"item": items[0]}
        ),
    },
    st.booleans(),
    st.integers(0, PEOPLE - 1),
    st.sampled_from(["purchase", "add_to_cart", "product_view"]),
    st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3),
    st.integers(0, 600),
)
_consent = st.builds(
    lambda known, n, status, minute: (
        {
            "kind": "consent",
            "subject": _who(known, n),
            "purpose": "personalization",
            "status": status,
            "source": "web",
            "at": _at(minute),
        }
        | (NOTICE if status == "given" else {})
    ),
    st.booleans(),
    st.integers(0, PEOPLE - 1),
    st.sampled_from(["given", "given", "withdrawn"]),
    st.integers(0, 600),
)
_link = st.builds(
    lambda a, k, minute: {
        "kind": "link",
        "subject": f"anon:a{a}",
        "to": f"customer:k{k}",
        "at": _at(minute),
    },
    st.integers(0, PEOPLE - 1),
    st.integers(0, PEOPLE - 1),
    st.integers(0, 600),
)
LINES = st.lists(st.one_of(_event, _event, _consent, _link), min_size=1, max_size=30)


def _one_by_one(kit: Personakit, lines: list[dict[str, Any]]) -> None:
    for doc in lines:
        at = datetime.fromisoformat(doc["at"])
        if doc["kind"] == "event":
            props = doc["properties"]
            kit.track(doc["subject"], doc["name"], channel="web", properties=props, at=at)
        elif doc["kind"] == "link":
            kit.link(doc["subject"], doc["to"], at=at)
        else:
            subject = kit.identity.resolve(doc["subject"], create=True)
            if doc["status"] == "given":
                kit.consent.grant(
                    subject, "personalization", source="web", occurred_at=at, **NOTICE
                )
            else:
                kit.consent.withdraw(subject, "personalization", source="web", occurred_at=at)


def _kept(kit: Personakit) -> tuple[Any, Any]:
    rows = load_rows(kit.store)
    assert rows == rebuilt(kit)
    records = {}
    for n in range(PEOPLE):
        for known in (True, False):
            subject = kit.identity.lookup(_who(known, n))
            if subject is not None:
                records[_who(known, n)] = read_record(kit.vault, subject)
    return rows, records


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=LINES, batch=st.sampled_from([1, 3, 30]))
def test_bulk_ingest_leaves_the_model_the_same_lines_one_by_one_leave(
    lines: list[dict[str, Any]], batch: int
) -> None:
    bulk, _ = testing.memory_kit()
    single, _ = testing.memory_kit()
    with bulk, single:
        summary = bulk.ingest([json.dumps(doc) for doc in lines], batch_size=batch)
        assert not summary.errors, summary.errors
        _one_by_one(single, lines)
        assert _kept(bulk) == _kept(single)
