"""Bulk ingest's consent lines decide exactly as the consent API called one line at a time.

Bulk ingest defers each subject's ledger writes to one write per batch and creates a batch's
new subjects at once (``consent._bulk``, ``IdentityIndex.create_many``). These properties run
the same lines through ``kit.ingest`` and through ``kit.identity.resolve`` + ``kit.consent``
(``grant`` / ``refuse`` / ``withdraw``) + ``kit.track`` one by one, and compare what each kit
keeps: who exists, every ledger record (ids and receipt ids mapped to positions), the derived
state of every purpose, the events and their purposes, the consent audit entries (subject
references and record ids mapped the same way), and that both audit chains verify.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personakit import InvalidInput, Personakit
from personakit._vault import new_subject_id
from personakit.consent import ConsentRecord
from personakit.profiles import parse_identifier
from personakit.testing import memory_kit
from personakit.workflows._lines import ConsentLine, parse_line

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01"}
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # the memory kit's clock stands at 09:00
PEOPLE = 6
KNOWN = 2  # customer:b0 and customer:b1 exist, with a grant, before the import
PURPOSES = ("personalization", "analytics")


def _at(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat()


_consent = st.builds(
    lambda who, purpose, status, minute: (
        {
            "kind": "consent",
            "subject": f"customer:b{who}",
            "purpose": purpose,
            "status": status,
            "source": "web",
            "at": _at(minute),
        }
        | (NOTICE if status != "withdrawn" else {})
    ),
    st.integers(0, PEOPLE - 1),
    st.sampled_from(PURPOSES),
    st.sampled_from(["given", "refused", "withdrawn"]),
    st.integers(1, 50),  # equal times happen: the ledger's tie rule must hold in both
)
_event = st.builds(
    lambda who, name, minute: {
        "kind": "event",
        "subject": f"customer:b{who}",
        "name": name,  # product_view needs consent; purchase is kept for the contract anyway
        "channel": "web",
        "at": _at(minute),
        "properties": {"item": "sku-1"},
    },
    st.integers(0, PEOPLE - 1),
    st.sampled_from(["product_view", "purchase"]),
    st.integers(1, 50),
)
_lines = st.lists(st.one_of(_consent, _consent, _event), min_size=16, max_size=40)


def _seed(kit: Personakit) -> None:
    for who in range(KNOWN):
        subject = kit.identity.resolve(f"customer:b{who}", create=True)
        kit.consent.grant(subject, "personalization", source="web", occurred_at=T0, **NOTICE)


def _one_by_one(kit: Personakit, lines: list[dict[str, Any]]) -> None:
    for doc in lines:
        ident = doc["subject"]
        if doc["kind"] == "event":
            at = datetime.fromisoformat(doc["at"])
            properties = doc["properties"]
            kit.track(ident, doc["name"], channel="web", properties=properties, at=at)
            continue
        line = parse_line(json.dumps(doc))
        assert isinstance(line, ConsentLine)
        subject = kit.identity.resolve(ident, create=True)
        common: dict[str, Any] = {"occurred_at": line.at, "context": line.context()}
        if line.status == "withdrawn":
            kit.consent.withdraw(subject, line.purpose, **common)
        elif line.status == "given":
            kit.consent.grant(subject, line.purpose, **NOTICE, **common)
        else:
            kit.consent.refuse(subject, line.purpose, **NOTICE, **common)


def _record(record: ConsentRecord, ids: dict[str, Any], receipts: dict[str, int]) -> Any:
    doc = record.to_json()
    for name in ("id", "receipt_id", "recorded_at"):
        doc.pop(name)
    doc["supersedes"] = ids.get(record.supersedes or "")
    doc["receipt"] = receipts.setdefault(record.receipt_id, len(receipts))
    return doc


def _kept(kit: Personakit) -> Any:
    """Everything the two paths must agree on, with ids replaced by positions."""
    assert kit.audit.verify().ok
    subjects = {who: kit.identity.lookup(f"customer:b{who}") for who in range(PEOPLE)}
    refs = {kit.subject_ref(s): who for who, s in subjects.items() if s is not None}
    ids: dict[str, Any] = {}
    people: dict[int, Any] = {}
    for who, subject in subjects.items():
        if subject is None:
            continue
        ledger = kit.consent.ledger(subject)
        ids.update({record.id: (who, record.seq) for record in ledger})
        receipts: dict[str, int] = {}
        states = {
            purpose: (state.state, state.allowed, state.reason, state.expires_at)
            + (() if state.record is None else (ids[state.record.id],))
            for purpose, state in kit.consent.states(subject).items()
        }
        events = sorted(
            (e.kind, e.at.isoformat(), tuple(e.purposes)) for e in kit.events.read(subject)
        )
        ledger_docs = [_record(record, ids, receipts) for record in ledger]
        people[who] = (ledger_docs, states, events)
    audit = []
    for entry in kit.audit.entries():
        if not entry.action.startswith("consent."):
            continue
        data = dict(entry.data)
        data.pop("receipt")
        data["records"] = [
            r | {"id": ids[r["id"]], "supersedes": ids.get(r["supersedes"] or "")}
            for r in data["records"]
        ]
        audit.append((entry.action, entry.actor, refs.get(entry.subject or ""), data))
    return people, audit


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_lines, batch=st.sampled_from([1, 7, 16, 40]))
def test_bulk_consent_lines_keep_what_the_api_keeps_one_by_one(
    lines: list[dict[str, Any]], batch: int
) -> None:
    """Same subjects, ledger records, states, events and consent audit entries; chains verify."""
    bulk, _ = memory_kit()
    single, _ = memory_kit()
    with bulk, single:
        _seed(bulk)
        _seed(single)
        summary = bulk.ingest([json.dumps(doc) for doc in lines], batch_size=batch)
        assert summary.rejected == 0
        _one_by_one(single, lines)
        assert _kept(bulk) == _kept(single)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_lines)
def test_a_link_line_in_the_batch_sees_every_earlier_decision(
    lines: list[dict[str, Any]],
) -> None:
    """A link merges ledgers through the kit's manager: the batch's decisions are written first."""
    link = {"kind": "link", "subject": "customer:b5", "to": "customer:b0", "at": _at(55)}
    bulk, _ = memory_kit()
    with bulk:
        _seed(bulk)
        # b5 must exist for the link: its first line is a consent line.
        first = {"kind": "consent", "subject": "customer:b5", "purpose": "analytics"}
        first |= {"status": "given", "source": "web", "at": _at(1)} | NOTICE
        docs = [first, *lines, link]
        summary = bulk.ingest([json.dumps(doc) for doc in docs], batch_size=len(docs))
        assert summary.rejected == 0
        assert bulk.audit.verify().ok
        into = bulk.identity.lookup("customer:b0")
        assert into is not None
        ledger = bulk.consent.ledger(into)
        # Each decision line of b5 before the link is in b0's ledger, as a copy (or the original
        # if it was b0's own), and b0's state is the one its merged ledger decides.
        assert [r.seq for r in ledger] == list(range(1, len(ledger) + 1))
        decided = bulk.consent.decisions(into)
        for purpose, record in decided.items():
            state = bulk.consent.state(into, purpose)
            assert state.record is not None
            assert state.record.id == record.id


_SPELLINGS = (
    "email:Ann@Example.com",
    "email:ann@example.com",
    "email:ANN@EXAMPLE.COM",
    "email:bob@example.com",
    "email:Bob@Example.COM",
)


@settings(max_examples=10, deadline=None)
@given(
    spellings=st.lists(st.sampled_from(_SPELLINGS), min_size=16, max_size=30),
    batch=st.sampled_from([5, 16, 30]),
)
def test_a_batch_reuses_parsed_identifiers_without_mixing_them_up(
    spellings: list[str], batch: int
) -> None:
    """Each event lands with the subject its own spelling resolves to (the batch's name memo)."""
    kit, _ = memory_kit()
    with kit:
        lines = [
            json.dumps(
                {
                    "kind": "event",
                    "subject": text,
                    "name": "purchase",  # kept for the contract: creates the subject
                    "channel": "web",
                    "at": _at(1),
                    "properties": {"item": "sku-1", "value_cents": marker},
                }
            )
            for marker, text in enumerate(spellings)
        ]
        assert kit.ingest(lines, batch_size=batch).accepted == len(lines)
        for marker, text in enumerate(spellings):
            subject = kit.identity.lookup(text)
            assert subject is not None
            kept = {e.properties["value_cents"] for e in kit.events.read(subject)}
            assert marker in kept
        assert len({kit.identity.lookup(text) for text in spellings}) == len(
            {text.lower() for text in spellings}
        )


def test_create_many_creates_what_resolve_creates_and_keeps_existing_subjects() -> None:
    """The same records as resolve(create=True); an identifier already known keeps its subject."""
    kit, _ = memory_kit()
    with kit:
        known = kit.identity.resolve("email:Known@Example.com", create=True)
        new = parse_identifier("email:New@Example.com")
        again = parse_identifier("email:known@example.com")
        made = kit.identity.create_many([(new, new_subject_id()), (again, new_subject_id())])
        assert made[again] == known
        assert kit.identity.lookup("email:NEW@example.com") == made[new]
        assert kit.identity.identifiers(made[new]) == [new]
        assert kit.identity.exists(made[new])
        kit.identity.created_at(made[new])  # the meta record is there and readable
        assert kit.identity.identifiers(known) == [again]
        with pytest.raises(InvalidInput):
            kit.identity.create_many([(new, "not-a-pseudonym")])
        with pytest.raises(InvalidInput):
            kit.identity.create_many([(new, made[new]), (again, made[new])])  # one pseudonym twice


def test_a_new_subjects_second_decision_after_a_mid_batch_flush_sees_the_first() -> None:
    """The batch flushes pending ledger writes mid-batch (here: the shape hypothesis found, with
    the kit's events hooks registered); a subject the batch created must then be read from the
    store (it was answered from nothing: its second grant was a second record with seq 1)."""
    kit, _ = memory_kit()
    with kit:
        _seed(kit)
        grant = {"kind": "consent", "subject": "customer:b0", "purpose": "personalization"}
        grant |= {"status": "given", "source": "web", "at": _at(1)} | NOTICE
        new = grant | {"subject": "customer:b2"}
        event = {"kind": "event", "subject": "customer:b0", "name": "product_view"}
        event |= {"channel": "web", "at": _at(1), "properties": {"item": "sku-1"}}
        lines = [event, grant, event, grant, grant, new, event, *[grant] * 7, new, event]
        summary = kit.ingest([json.dumps(doc) for doc in lines], batch_size=16)
        assert summary.rejected == 0
        subject = kit.identity.lookup("customer:b2")
        assert subject is not None
        assert [record.seq for record in kit.consent.ledger(subject)] == [1, 2]
