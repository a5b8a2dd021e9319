"""Bulk ingest keeps identities and verdicts between batches only while nothing changed.

Whatever changes a verdict between two batches of one ingest call must reach the next batch:
a withdrawal by another connection (another process or thread), by the caller's own code on the
same connection, or a consent expiring by time alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personakit import FixedClock, LocalKeyProvider, Personakit, generate_master_key
from personakit.storage import MemoryStore, change_token

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01"}
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
BATCH = 20  # lines per batch in these tests; more than the prefetch threshold


def _event(who: str, marker: int) -> dict[str, Any]:
    return {
        "kind": "event",
        "subject": who,
        "name": "product_view",  # analytics + personalization, both need consent
        "channel": "web",
        "at": (T0 + timedelta(seconds=marker)).isoformat(),
        "properties": {"item": f"i{marker}", "marker": marker},
    }


def _setup(kit: Personakit, people: int, *, occurred_at: datetime | None = None) -> list[str]:
    subjects = []
    for n in range(people):
        subject = kit.identity.resolve(f"customer:m{n}", create=True)
        kit.consent.grant(
            subject, "personalization", source="web", occurred_at=occurred_at, **NOTICE
        )
        subjects.append(subject)
    return subjects


def _markers(kit: Personakit, subject: str) -> list[int]:
    return sorted(e.properties["marker"] for e in kit.events.read(subject))


def _two_batches(between: Any) -> Iterator[dict[str, Any]]:
    """Batch 1: events 0..19; then ``between()`` runs; batch 2: events 20..39."""
    for marker in range(BATCH):
        yield _event(f"customer:m{marker % 4}", marker)
    # The ingest loop asks for line 21 only after batch 1 has committed.
    between()
    for marker in range(BATCH, 2 * BATCH):
        yield _event(f"customer:m{marker % 4}", marker)


@pytest.fixture
def clock() -> FixedClock:
    """A clock fixed at T0 plus a day."""
    return FixedClock(T0 + timedelta(days=1))


@pytest.fixture
def disk(tmp_path: Path, master_key: str, clock: FixedClock) -> Iterator[Personakit]:
    """A kit on disk."""
    with Personakit.open(tmp_path / "s", keys=LocalKeyProvider(master_key), clock=clock) as kit:
        yield kit


def test_withdrawal_by_another_connection_between_batches_is_honoured(
    disk: Personakit, tmp_path: Path, master_key: str, clock: FixedClock
) -> None:
    """A second kit (its own SQLite connection) withdraws between batch 1 and batch 2."""
    subjects = _setup(disk, 4)

    def withdraw() -> None:
        with Personakit.open(tmp_path / "s", keys=LocalKeyProvider(master_key), clock=clock) as k:
            k.consent.withdraw(subjects[0], "personalization", source="web")

    summary = disk.ingest(_two_batches(withdraw), batch_size=BATCH)
    assert summary.accepted == 2 * BATCH - 5  # m0's 5 events of batch 2 had no basis left
    assert summary.dropped_no_basis == 5
    # The withdrawal cascade removed m0's earlier events; none of batch 2 was stored.
    assert _markers(disk, subjects[0]) == []
    assert _markers(disk, subjects[1]) == list(range(1, 2 * BATCH, 4))


def test_withdrawal_on_the_same_connection_between_batches_is_honoured(disk: Personakit) -> None:
    """The caller's own code withdraws (same thread, same connection) between batches."""
    subjects = _setup(disk, 4)

    def withdraw() -> None:
        disk.consent.withdraw(subjects[2], "personalization", source="web")

    summary = disk.ingest(_two_batches(withdraw), batch_size=BATCH)
    assert summary.dropped_no_basis == 5
    assert _markers(disk, subjects[2]) == []


def test_withdrawal_by_another_thread_between_batches_is_honoured(disk: Personakit) -> None:
    """Another thread of the process (its own diskcache connection) withdraws."""
    subjects = _setup(disk, 4)

    def withdraw() -> None:
        worker = threading.Thread(
            target=disk.consent.withdraw,
            args=(subjects[3], "personalization"),
            kwargs={"source": "web"},
        )
        worker.start()
        worker.join()

    summary = disk.ingest(_two_batches(withdraw), batch_size=BATCH)
    assert summary.dropped_no_basis == 5
    assert _markers(disk, subjects[3]) == []


def test_a_consent_expiring_between_batches_is_honoured(
    disk: Personakit, clock: FixedClock
) -> None:
    """No write at all: the consent simply expires by time between two batches."""
    max_age = timedelta(microseconds=disk.manifest.max_age_us("personalization"))
    # Given so long ago that it lapses one minute after now.
    occurred = clock.now() - max_age + timedelta(minutes=1)
    subjects = _setup(disk, 4, occurred_at=occurred)

    summary = disk.ingest(_two_batches(lambda: clock.advance(minutes=2)), batch_size=BATCH)
    assert summary.accepted == BATCH
    assert summary.dropped_no_basis == BATCH
    assert _markers(disk, subjects[0]) == list(range(0, BATCH, 4))


def test_unchanged_store_is_read_once_for_many_batches(
    disk: Personakit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing else writing, identities and verdicts are read in the first batch only."""
    _setup(disk, 4)
    calls = {"lookup_many": 0, "verdicts_until": 0}
    for obj, name in ((disk.identity, "lookup_many"), (disk.consent, "verdicts_until")):
        original = getattr(obj, name)

        def counted(*args: Any, _original: Any = original, _name: str = name) -> Any:
            calls[_name] += 1
            return _original(*args)

        monkeypatch.setattr(obj, name, counted)
    lines = [_event(f"customer:m{n % 4}", n) for n in range(5 * BATCH)]
    assert disk.ingest(lines, batch_size=BATCH).accepted == 5 * BATCH
    assert calls == {"lookup_many": 1, "verdicts_until": 1}


def test_a_store_without_change_tracking_reads_every_batch(
    master_key: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that cannot prove "unchanged" (PostgresStore, a custom one) is read each batch."""

    class Untracked(MemoryStore):
        change_token = None  # type: ignore[assignment]  # hides the method: not ChangeTracking

    with Personakit(
        store=Untracked(), key_store=MemoryStore(), keys=LocalKeyProvider(master_key), clock=clock
    ) as kit:
        assert change_token(kit.store) is None
        _setup(kit, 4)
        calls = []
        original = kit.identity.lookup_many
        monkeypatch.setattr(
            kit.identity, "lookup_many", lambda idents: calls.append(1) or original(idents)
        )
        lines = [_event(f"customer:m{n % 4}", n) for n in range(3 * BATCH)]
        assert kit.ingest(lines, batch_size=BATCH).accepted == 3 * BATCH
        assert len(calls) == 3


def test_a_rolled_back_batch_leaves_nothing_cached(memory_kit: Personakit) -> None:
    """A batch replayed line by line (one line fails when applied) lends nothing onward.

    Subjects the rolled-back attempt created must not be remembered as existing: the replay
    and the next batch resolve them afresh, and every purchase lands exactly once.
    """

    def purchase(n: int, marker: int) -> dict[str, Any]:
        line = _event(f"customer:new{n}", marker)
        line["name"] = "purchase"  # contract basis: stored (and the subject made) without consent
        return line

    lines: list[Any] = [purchase(n, n) for n in range(BATCH - 1)]
    # Valid as a line, fails when applied: no purpose using birthdays has a basis.
    birthday = {"birthday": "1990-01-01"}
    lines.append(
        {
            "kind": "traits",
            "subject": "customer:new0",
            "traits": birthday,
            "at": "2026-01-05T08:00:00Z",
        }
    )
    lines += [purchase(n, 100 + n) for n in range(BATCH - 1)]
    summary = memory_kit.ingest(lines, batch_size=BATCH)
    assert (summary.accepted, summary.rejected, summary.errors[0].line) == (2 * BATCH - 2, 1, BATCH)
    for n in range(BATCH - 1):
        subject = memory_kit.identity.resolve(f"customer:new{n}")
        assert _markers(memory_kit, subject) == [n, 100 + n]


_ACTIONS = st.sampled_from(["none", "withdraw", "grant", "restrict", "lift"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(
            st.lists(st.integers(0, 3), min_size=BATCH, max_size=BATCH),  # a batch's subjects
            _ACTIONS,
            st.integers(0, 3),  # whom the action after the batch concerns
            st.booleans(),  # done through a second kit (another connection) or the same one
        ),
        min_size=1,
        max_size=5,
    )
)
def test_batches_always_see_the_consent_state_of_their_moment(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[list[int], str, int, bool]]
) -> None:
    """Property: whatever changes consent between batches, each batch obeys the state then.

    A model tracks, per subject, whether personalization has a basis; an event is stored iff it
    had one when its batch ran and no withdrawal came after it (the cascade deletes it).
    """
    path = tmp_path_factory.mktemp("memo")
    key = LocalKeyProvider(generate_master_key())
    clock = FixedClock(T0 + timedelta(days=1))
    with (
        Personakit.open(path, keys=key, clock=clock) as kit,
        Personakit.open(path, keys=key, clock=clock) as other,
    ):
        subjects = _setup(kit, 4)
        consented, restricted = [True] * 4, [False] * 4
        expected: list[set[int]] = [set() for _ in range(4)]

        def act(action: str, who: int, via_other: bool) -> None:
            consent = (other if via_other else kit).consent
            subject = subjects[who]
            if action == "withdraw":
                consent.withdraw(subject, "personalization", source="web")
                consented[who] = False
                expected[who].clear()
            elif action == "grant":
                consent.grant(subject, "personalization", source="web", **NOTICE)
                consented[who] = True
            elif action == "restrict" and not restricted[who]:
                consent.restrict(subject, source="web")
                restricted[who] = True
            elif action == "lift" and restricted[who]:
                consent.lift_restriction(subject, source="web")
                restricted[who] = False

        def lines() -> Iterator[dict[str, Any]]:
            marker = 0
            for batch, action, who, via_other in steps:
                for n in batch:
                    if consented[n] and not restricted[n]:
                        expected[n].add(marker)
                    yield _event(f"customer:m{n}", marker)
                    marker += 1
                act(action, who, via_other)  # runs after the batch committed

        kit.ingest(lines(), batch_size=BATCH)
        for n, subject in enumerate(subjects):
            assert set(_markers(kit, subject)) == expected[n]
