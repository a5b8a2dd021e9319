"""Compaction: track() keeps a subject's chunks few, old layouts still read, merges lose nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit import LocalKeyProvider, Personakit, testing
from personakit.cli import main
from personakit.events import Event, EventLog, event_millis, new_event_id
from personakit.events._store import CHUNK_EVENTS, MERGE_ABOVE

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def _event(i: int) -> Event:
    at = NOW + timedelta(seconds=i)
    return Event(id=new_event_id(at), kind="page_view", channel="web", at=at, properties={"i": i})


def _old_layout_append(log: EventLog, subject: str, event: Event) -> None:
    """What earlier versions' track() wrote: one final-named chunk per event."""
    log.append_many([(subject, [event.to_json()], event_millis(event.at))])


def test_track_keeps_a_subjects_chunks_few(memory_kit: Personakit) -> None:
    """600 track() calls leave a few dozen chunks, not 600, and every event reads back once."""
    for i in range(600):
        memory_kit.track(
            "customer:1",
            "purchase",
            channel="web",
            properties={"item": "a"},
            at=NOW + timedelta(seconds=i),
        )
    subject = memory_kit.identity.lookup("customer:1")
    assert subject is not None
    chunks = memory_kit.vault.count(subject)["events"]
    assert chunks <= 2 * MERGE_ABOVE + 600 // (MERGE_ABOVE + 1) ** 2 + 1, chunks
    events = memory_kit.events.read(subject, compact=False)
    assert len(events) == 600
    assert len({e.id for e in events}) == 600


@settings(max_examples=25, deadline=None)
@given(
    ops=st.lists(
        st.one_of(
            st.integers(min_value=1, max_value=3).map(lambda n: ("append", n)),
            st.just(("old", 1)),
            st.just(("compact", 0)),
        ),
        max_size=120,
    )
)
def test_appends_old_chunks_and_compaction_lose_and_duplicate_nothing(
    ops: list[tuple[str, int]],
) -> None:
    """Any mix of appends, earlier-version chunks and compact() reads back exactly the events."""
    kit = testing.memory_kit()[0]
    subject = kit.identity.resolve("customer:1", create=True)
    log = kit.events
    written: list[int] = []
    for op, n in ops:
        if op == "append":
            batch = [_event(len(written) + k) for k in range(n)]
            log.append(subject, batch)
            written.extend(e.properties["i"] for e in batch)
        elif op == "old":
            event = _event(len(written))
            _old_layout_append(log, subject, event)
            written.append(event.properties["i"])
        else:
            before, after = log.compact(subject)
            assert after <= before
            assert after == -(-len(written) // CHUNK_EVENTS)
    assert [e.properties["i"] for e in log.read(subject, compact=False)] == written
    assert log.count(subject) == len(written)


def test_compact_merges_an_earlier_versions_chunks(memory_kit: Personakit) -> None:
    """A subject with one chunk per event (earlier track()) compacts to ceil(n / CHUNK_EVENTS)."""
    subject = memory_kit.identity.resolve("customer:1", create=True)
    log = memory_kit.events
    for i in range(CHUNK_EVENTS + 10):
        _old_layout_append(log, subject, _event(i))
    assert log.compact(subject) == (CHUNK_EVENTS + 10, 2)
    assert log.compact(subject) == (2, 2)  # nothing left to merge: nothing rewritten
    assert [e.properties["i"] for e in log.read(subject)] == list(range(CHUNK_EVENTS + 10))
    log.append(subject, [_event(CHUNK_EVENTS + 10)])  # appends still work on top
    assert log.count(subject) == CHUNK_EVENTS + 11


def test_store_compact_command(
    tmp_path: Path,
    master_key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``personakit store compact`` merges every subject's chunks and reports the counts."""
    store = tmp_path / "store"
    with Personakit.open(store, keys=LocalKeyProvider(master_key)) as kit:
        for name in ("customer:1", "customer:2"):
            subject = kit.identity.resolve(name, create=True)
            for i in range(40):
                _old_layout_append(kit.events, subject, _event(i))
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    assert main(["--store", str(store), "store", "compact"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "subjects": 2,
        "subjects_compacted": 2,
        "chunks_before": 80,
        "chunks_after": 2,
    }
    with Personakit.open(store, keys=LocalKeyProvider(master_key)) as kit:
        subject = kit.identity.lookup("customer:1")
        assert subject is not None
        assert kit.events.count(subject) == 40
