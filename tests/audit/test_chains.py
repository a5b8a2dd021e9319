"""An audit log of several chains detects tampering in any chain, across chains, and of a chain.

The one-chain tests (test_chain.py) are the spec; these add what several chains make possible:
an edit in one chain, a chain's tail cut with its head moved back, a whole chain deleted,
entries swapped between chains, a chain rewritten, and an old one-chain log growing chains.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personakit import LocalKeyProvider, Personakit
from personakit._clock import FixedClock
from personakit._codec import canonical_json
from personakit.audit import AuditEntry, AuditLog, Checkpoint
from personakit.audit._chains import (
    CHAIN_PREFIX,
    CHAINS_KEY,
    LEGACY_ENTRIES,
    ChainPicker,
    entry_key,
    genesis,
    head_key,
)
from personakit.audit._log import _parse_entry
from personakit.exceptions import ConfigurationError, InvalidInput
from personakit.storage import DiskStore, MemoryStore, Store

CHAINS = 4


def _kit(
    master_key: str,
    store: Store | None = None,
    chains: int | None = CHAINS,
    key_store: Store | None = None,
) -> Personakit:
    return Personakit(
        store=store if store is not None else MemoryStore(),
        key_store=key_store if key_store is not None else MemoryStore(),
        keys=LocalKeyProvider(master_key),
        audit_chains=chains,
    )


def _fill(kit: Personakit, n: int = 24) -> None:
    """Append ``n`` entries, 3 per writer thread (threads take consecutive chains)."""
    for start in range(0, n, 3):

        def write(start: int = start) -> None:
            for i in range(start, min(start + 3, n)):
                kit.audit.append("test.event", subject=f"ref{i}", data={"i": i})

        thread = threading.Thread(target=write)
        thread.start()
        thread.join()


def _busy_chain(kit: Personakit) -> int:
    """A chain other than 0 holding at least two entries."""
    return next(c for c, (seq, _) in enumerate(kit.audit.heads()) if c and seq >= 2)


def test_entries_spread_over_chains_and_come_back_in_append_order(master_key: str) -> None:
    """Appends land in several chains; entries() merges them in append order; it verifies."""
    kit = _kit(master_key)
    _fill(kit)
    assert sum(1 for seq, _ in kit.audit.heads() if seq) >= 2
    assert [e.data["i"] for e in kit.audit.entries()] == list(range(24))
    assert {e.chain for e in kit.audit.entries()} <= set(range(CHAINS))
    checkpoint = kit.audit.checkpoint()
    assert len(checkpoint.heads) == CHAINS - 1
    _fill(kit, 5)
    report = kit.audit.verify(checkpoint)
    assert report.ok, str(report)
    assert report.entries == 29
    assert len(report.to_json()["chains"]) == CHAINS


def _edit(store: Store, chain: int) -> None:
    doc = json.loads(store.get(entry_key(chain, 2)) or b"")
    doc["data"]["i"] = 999
    store.put(entry_key(chain, 2), canonical_json(doc))


def _cut_tail(store: Store, chain: int) -> None:
    # Drop the chain's last entry and move its head back: the chain stays self-consistent.
    head = json.loads(store.get(head_key(chain)) or b"")
    previous = json.loads(store.get(entry_key(chain, head["seq"] - 1)) or b"")
    store.delete(entry_key(chain, head["seq"]))
    store.put(head_key(chain), canonical_json({"seq": head["seq"] - 1, "hash": previous["hash"]}))


def _drop_chain(store: Store, chain: int) -> None:
    for key, _ in list(store.scan(f"a/c/{chain:04d}/")):
        store.delete(key)


def _swap_across(store: Store, chain: int) -> None:
    other = next(c for c in range(1, CHAINS) if c != chain and store.get(entry_key(c, 1)))
    mine, theirs = store.get(entry_key(chain, 1)), store.get(entry_key(other, 1))
    assert mine is not None
    assert theirs is not None
    store.put(entry_key(chain, 1), theirs)
    store.put(entry_key(other, 1), mine)


def _rewrite(store: Store, chain: int) -> None:
    # Edit the chain's first entry and recompute every hash after it, head included.
    import hashlib  # noqa: PLC0415

    prev = genesis(chain)
    seq = 1
    while (raw := store.get(entry_key(chain, seq))) is not None:
        doc = json.loads(raw)
        if seq == 1:
            doc["data"]["i"] = 12345
        body = {
            k: doc[k] for k in ("seq", "at", "action", "actor", "subject", "data", "chain", "t")
        }
        doc["prev"] = prev
        doc["hash"] = hashlib.sha256(bytes.fromhex(prev) + canonical_json(body)).hexdigest()
        prev = doc["hash"]
        store.put(entry_key(chain, seq), canonical_json(doc))
        seq += 1
    store.put(head_key(chain), canonical_json({"seq": seq - 1, "hash": prev}))


@pytest.mark.parametrize(
    ("tamper", "kinds", "needs_checkpoint"),
    [
        (_edit, {"edited"}, False),
        (_cut_tail, {"truncated"}, True),
        (_drop_chain, {"truncated"}, True),
        (_swap_across, {"wrong-chain", "broken-link"}, False),
        (_rewrite, {"rewritten"}, True),
    ],
    ids=["edit-one-chain", "cut-a-chain-tail", "delete-a-whole-chain", "swap-across", "rewrite"],
)
def test_tampering_with_one_chain_is_detected(
    master_key: str,
    tamper: Callable[[Store, int], None],
    kinds: set[str],
    needs_checkpoint: bool,
) -> None:
    """Each tampering of a chain beyond chain 0 is reported, naming the chain."""
    kit = _kit(master_key)
    _fill(kit)
    checkpoint = kit.audit.checkpoint()
    chain = _busy_chain(kit)
    tamper(kit.store, chain)
    report = kit.audit.verify(checkpoint)
    assert not report.ok
    assert kinds <= {p.kind for p in report.problems}, str(report)
    assert chain in {p.chain for p in report.problems}
    if needs_checkpoint:
        assert kit.audit.verify().ok  # self-consistent: only the signed heads tell
    reopened = _kit(master_key, kit.store, chains=None, key_store=kit.key_store)
    assert reopened.audit.chains == CHAINS  # the recorded count, not the default
    assert not reopened.audit.verify(checkpoint).ok


_TAMPERS = [_edit, _cut_tail, _drop_chain, _swap_across, _rewrite]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subjects=st.lists(st.text(min_size=1, max_size=8), min_size=8, max_size=30),
    tamper=st.sampled_from(_TAMPERS),
)
def test_any_tampering_of_any_chain_fails_verification_against_a_checkpoint(
    subjects: list[str], tamper: Callable[[Store, int], None]
) -> None:
    """Property: whatever was audited by whichever threads, any tampering makes verify() fail."""
    kit = _kit("x" * 43 + "=")
    for start in range(0, len(subjects), 2):  # 2 appends per writer thread

        def write(start: int = start) -> None:
            for n in range(start, min(start + 2, len(subjects))):
                kit.audit.append("test.event", subject=subjects[n], data={"n": n})

        thread = threading.Thread(target=write)
        thread.start()
        thread.join()
    checkpoint = kit.audit.checkpoint()
    busy = [c for c, (seq, _) in enumerate(kit.audit.heads()) if c and seq >= 2]
    others = [c for c, (seq, _) in enumerate(kit.audit.heads()) if c and seq]
    if not busy or (tamper is _swap_across and len(others) < 2):
        return
    tamper(kit.store, busy[0])
    assert not kit.audit.verify(checkpoint).ok


def test_an_old_one_chain_log_grows_chains_and_still_verifies(master_key: str) -> None:
    """A log written with one chain, reopened with several: old entries and checkpoint verify."""
    store = MemoryStore()
    old = _kit(master_key, store, chains=1)
    _fill(old, 6)
    old_checkpoint = old.audit.checkpoint()
    assert old_checkpoint.heads == ()
    assert "heads" not in old_checkpoint.to_json()
    grown = _kit(master_key, store, chains=CHAINS, key_store=old.key_store)
    assert grown.audit.chains == CHAINS
    _fill(grown, 10)
    assert grown.audit.verify(old_checkpoint).ok
    assert grown.audit.verify(grown.audit.checkpoint()).ok
    assert [e.data["i"] for e in grown.audit.entries()][:6] == list(range(6))
    # The count is recorded: a later opener asking for another one gets the log's.
    assert _kit(master_key, store, chains=2, key_store=old.key_store).audit.chains == CHAINS


def test_a_one_chain_log_keeps_the_original_layout(master_key: str) -> None:
    """With one chain nothing changes: no chain record, no chain field, chain 0 keys."""
    kit = _kit(master_key, chains=1)
    _fill(kit, 3)
    assert kit.store.get("a/chains") is None
    assert [key for key, _ in kit.store.scan("a/")] == [
        "a/e/0000000000000001",
        "a/e/0000000000000002",
        "a/e/0000000000000003",
        "a/head",
    ]
    assert all(e.chain is None for e in kit.audit.entries())


def test_a_thread_stays_in_one_chain_and_threads_take_the_next() -> None:
    """A writer thread's appends share one chain (a transaction takes one head); threads rotate."""
    pick = ChainPicker(16)
    mine = {pick() for _ in range(20)}
    assert len(mine) == 1
    seen: list[int] = []
    for _ in range(3):
        thread = threading.Thread(target=lambda: seen.append(pick()))
        thread.start()
        thread.join()
    first = next(iter(mine))
    assert seen == [(first + k) % 16 for k in (1, 2, 3)]
    assert ChainPicker(1)() == 0


def test_a_transaction_auditing_many_subjects_takes_one_chain(master_key: str) -> None:
    """Entries about many subjects appended in one transaction all land in one chain."""
    kit = _kit(master_key)
    with kit.store.transaction():
        for i in range(12):
            kit.audit.append("test.event", subject=f"ref{i}", data={"i": i})
    assert len({e.chain for e in kit.audit.entries()}) == 1


@pytest.mark.parametrize("chains", [0, 257, True, 2.0, "4"])
def test_a_bad_chain_count_is_a_configuration_error(master_key: str, chains: object) -> None:
    """audit_chains must be an int from 1 to 256."""
    with pytest.raises(ConfigurationError):
        _kit(master_key, chains=chains)  # type: ignore[arg-type]


def test_checkpoint_heads_are_validated_and_signed(master_key: str) -> None:
    """Malformed heads are InvalidInput; a changed head fails the MAC."""
    with pytest.raises(InvalidInput):
        Checkpoint.from_json(
            {
                "tenant": "t",
                "seq": 1,
                "hash": "h",
                "at": "2026-01-01T00:00:00+00:00",
                "mac": "",
                "heads": [[1, "a"], ["x", 2], 3],
            }
        )
    kit = _kit(master_key)
    _fill(kit)
    doc = kit.audit.checkpoint().to_json()
    doc["heads"][0][0] += 1
    report = kit.audit.verify(Checkpoint.from_json(doc))
    assert [p.kind for p in report.problems] == ["checkpoint-invalid"]


class _Chosen(ChainPicker):
    """A picker that sends each append to the next chain of a given list (a test seam)."""

    def __init__(self, chains: int, order: list[int]) -> None:
        super().__init__(chains)
        self._order = iter(order)

    def __call__(self) -> int:
        return next(self._order)


def _sorted_whole_log(log: AuditLog, after: int) -> list[AuditEntry]:
    """entries() as it was before the merge: every chain loaded at once, then sorted."""
    found = [
        entry
        for prefix in (LEGACY_ENTRIES, CHAIN_PREFIX)
        for _, raw in log.store.scan(prefix)
        if (entry := _parse_entry(raw)) is not None and entry.seq > after
    ]
    found.sort(key=lambda e: (e.at, e.t or 0, e.chain or 0, e.seq))
    return found


def _log(store: Store, clock: FixedClock, chains: int) -> AuditLog:
    return AuditLog(
        store,
        clock,
        tenant="t",
        signer=lambda data: data,
        check_signature=lambda data, mac: data == mac,
        chains=chains,
    )


_APPENDS = st.lists(st.tuples(st.integers(0, CHAINS - 1), st.integers(-2, 3)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(appends=_APPENDS, after=st.integers(0, 8), legacy=st.integers(0, 4))
def test_streamed_entries_equal_the_whole_log_sorted(
    appends: list[tuple[int, int]], after: int, legacy: int
) -> None:
    """The k-way merge yields exactly what loading and sorting every chain yielded.

    Each chain's clock only moves forward (a step of 0 repeats a time), as one writer's does;
    a log that had one chain (``legacy`` entries) before it grew chains is covered too.
    """
    store, clock = MemoryStore(), FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    one = _log(store, clock, 1)
    for i in range(legacy):
        one.append("test.legacy", data={"i": i})
    store.delete(CHAINS_KEY)
    log = _log(store, clock, CHAINS)
    log._pick = _Chosen(CHAINS, [chain for chain, _ in appends])
    for n, (_, step) in enumerate(appends):
        clock.advance(seconds=max(step, 0))
        log.append("test.event", subject=f"ref{n}", data={"n": n})
    assert list(log.entries(after=after)) == _sorted_whole_log(log, after)


@settings(max_examples=40, deadline=None)
@given(appends=_APPENDS)
def test_a_clock_stepping_back_keeps_each_chain_in_its_own_order(
    appends: list[tuple[int, int]],
) -> None:
    """With clocks that step back, the same entries come, each chain in its append order."""
    store, clock = MemoryStore(), FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    log = _log(store, clock, CHAINS)
    log._pick = _Chosen(CHAINS, [chain for chain, _ in appends])
    for n, (_, step) in enumerate(appends):
        clock.advance(seconds=step)
        log.append("test.event", data={"n": n})
    streamed = list(log.entries())
    assert sorted(e.hash for e in streamed) == sorted(e.hash for e in _sorted_whole_log(log, 0))
    for chain in range(CHAINS):
        assert [e.seq for e in streamed if (e.chain or 0) == chain] == sorted(
            e.seq for e in streamed if (e.chain or 0) == chain
        )


def test_entries_stream_chains_longer_than_a_scan_page(tmp_path: Path) -> None:
    """On the disk store, chains of more than one scan page (500 rows) merge as sorted."""
    store = DiskStore(tmp_path / "store")
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    log = _log(store, clock, 3)
    order = [n % 3 if n < 600 else 1 for n in range(1400)]
    log._pick = _Chosen(3, order)
    with store.transaction():
        for n in range(len(order)):
            clock.advance(seconds=n % 2)
            log.append("test.event", data={"n": n})
    streamed = list(log.entries())
    assert len(streamed) == 1400
    assert streamed == _sorted_whole_log(log, 0)
    store.close()
