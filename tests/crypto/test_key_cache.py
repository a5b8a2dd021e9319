"""The data-key cache: least recently used goes first, sized by configuration, batch loads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit import (
    ConfigurationError,
    InvalidInput,
    LocalKeyProvider,
    Personakit,
    SubjectNotFound,
    generate_master_key,
)
from personakit.crypto import Keyring
from personakit.storage import DiskStore, MemoryStore


class CountingStore(MemoryStore):
    """A real MemoryStore that counts reads and outermost transactions (nested ones join)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.transactions = 0
        self._depth = 0

    def get(self, key: str) -> bytes | None:
        self.reads += 1
        return super().get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        self.reads += 1
        return super().get_many(keys)

    @contextmanager
    def _counted(self) -> Iterator[None]:
        self.transactions += self._depth == 0
        self._depth += 1
        try:
            with super().transaction():
                yield
        finally:
            self._depth -= 1

    def transaction(self) -> AbstractContextManager[None]:
        return self._counted()


def _subject(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return "sub_" + "".join(letters[(i // 26**p) % 26] for p in range(26))


def test_cache_evicts_the_least_recently_used_key(master_key: str) -> None:
    """A key used again stays cached; the one untouched longest is evicted first."""
    store = CountingStore()
    ring = Keyring(store, LocalKeyProvider(master_key), cache_size=3)
    sealed = {i: ring.seal(_subject(i), "t", "n", b"x") for i in range(3)}
    ring.open(_subject(0), "t", "n", sealed[0])  # 0 is now the most recently used
    ring.seal(_subject(3), "t", "n", b"x")  # evicts 1, the least recently used
    before = store.reads
    ring.open(_subject(0), "t", "n", sealed[0])
    assert store.reads == before, "a recently used key was evicted"
    ring.open(_subject(1), "t", "n", sealed[1])
    assert store.reads == before + 1


def test_a_hit_touches_no_store(master_key: str) -> None:
    """Sealing and opening with a cached key reads nothing and opens no transaction."""
    store = CountingStore()
    ring = Keyring(store, LocalKeyProvider(master_key))
    sealed = ring.seal(_subject(1), "t", "n", b"x")
    reads, transactions = store.reads, store.transactions
    for _ in range(10):
        ring.seal(_subject(1), "t", "n", b"x")
        ring.open(_subject(1), "t", "n", sealed)
    assert (store.reads, store.transactions) == (reads, transactions)


def test_load_keys_reads_once_and_creates_in_one_transaction(master_key: str) -> None:
    """Missing keys of many subjects: one read for the known, one transaction for the new."""
    store = CountingStore()
    ring = Keyring(store, LocalKeyProvider(master_key))
    known = [_subject(i) for i in range(50)]
    ring.load_keys(known, create=True)
    ring.forget_cached()
    fresh = [_subject(i) for i in range(50, 150)]
    reads, transactions = store.reads, store.transactions
    ring.load_keys([*known, *fresh], create=True)
    assert store.transactions - transactions == 1
    assert store.reads - reads == 2  # outside the transaction, then the re-check inside it
    reads = store.reads
    for s in [*known, *fresh]:
        ring.seal(s, "t", "n", b"x")
    assert store.reads == reads, "every key was cached by load_keys"


def test_load_keys_without_create_skips_unknown_subjects(master_key: str) -> None:
    """Without create, a subject with no key is left alone (opening it raises as before)."""
    ring = Keyring(MemoryStore(), LocalKeyProvider(master_key))
    ring.load_keys([_subject(1)])
    assert not ring.has_subject_key(_subject(1))
    with pytest.raises(SubjectNotFound):
        ring.open(_subject(1), "t", "n", b"\x01" + b"0" * 40)


def test_shred_drops_a_key_loaded_in_bulk(master_key: str) -> None:
    """A key loaded by load_keys is gone after shred: the subject's records no longer open."""
    ring = Keyring(MemoryStore(), LocalKeyProvider(master_key))
    sealed = ring.seal(_subject(1), "t", "n", b"x")
    ring.forget_cached()
    ring.load_keys([_subject(1)])
    assert ring.shred(_subject(1))
    with pytest.raises(SubjectNotFound):
        ring.open(_subject(1), "t", "n", sealed)


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=6),
    uses=st.lists(st.integers(min_value=0, max_value=9), max_size=60),
)
def test_cache_matches_a_reference_lru(size: int, uses: list[int]) -> None:
    """After any sequence of uses, the cached subjects are exactly the reference LRU's."""
    store = CountingStore()
    ring = Keyring(store, LocalKeyProvider(generate_master_key()), cache_size=size)
    reference: list[int] = []
    for i in uses:
        reads = store.reads
        ring.seal(_subject(i), "t", "n", b"x")
        hit = i in reference
        assert (store.reads == reads) == hit
        if hit:
            reference.remove(i)
        reference.append(i)
        del reference[:-size]


@settings(max_examples=60, deadline=None)
@given(
    subjects=st.one_of(
        st.lists(st.one_of(st.text(max_size=250), st.integers(), st.none(), st.binary())),
        st.text(),
        st.binary(),
    ),
    create=st.booleans(),
)
def test_load_keys_is_total(subjects: Any, create: bool) -> None:
    """Any input either loads (and then every subject has a key) or raises InvalidInput."""
    ring = Keyring(MemoryStore(), LocalKeyProvider(generate_master_key()))
    try:
        ring.load_keys(subjects, create=create)
    except InvalidInput as exc:
        problems = exc.problems
    else:
        problems = ()
    if problems:
        assert [p.where for p in problems] == ["subjects"]
    elif create:
        for s in subjects:
            assert ring.has_subject_key(s)


@pytest.mark.parametrize("size", [0, -1, 1.5, "10", True])
def test_bad_cache_size_is_a_configuration_error(master_key: str, size: Any) -> None:
    """A cache size that is not an int >= 1 is refused when the kit is built."""
    with pytest.raises(ConfigurationError):
        Personakit.open("memory:", keys=LocalKeyProvider(master_key), key_cache_size=size)


def test_bulk_ingest_creates_new_subjects_keys_in_one_transaction(master_key: str) -> None:
    """200 new customers in one batch: a couple of key-store transactions, not one each."""
    keys = CountingStore()
    kit = Personakit(store=MemoryStore(), key_store=keys, keys=LocalKeyProvider(master_key))
    lines = [
        json.dumps(
            {
                "kind": "event",
                "subject": f"customer:c{i}",
                "name": "purchase",
                "channel": "web",
                "at": "2026-01-05T10:00:00+00:00",
                "properties": {"item": "a"},
            }
        )
        for i in range(200)
    ]
    transactions = keys.transactions
    summary = kit.ingest(lines)
    assert summary.accepted == 200
    assert keys.transactions - transactions <= 2
    assert kit.keyring.subject_count() == 200


def test_concurrent_batch_key_creation_yields_one_key_per_subject(
    master_key: str, tmp_path: Path
) -> None:
    """Keyrings creating overlapping batches of keys at once agree on one key per subject."""
    store = DiskStore(tmp_path / "keys")
    subjects = [_subject(i) for i in range(100)]
    rings = [Keyring(store, LocalKeyProvider(master_key)) for _ in range(6)]
    sealed: list[tuple[str, bytes]] = []
    lock = threading.Lock()

    def create(n: int, ring: Keyring) -> None:
        mine = subjects[n * 5 : n * 5 + 40]  # overlapping slices
        ring.load_keys(mine, create=True)
        blobs = [(s, ring.seal(s, "t", "n", b"v")) for s in mine]
        with lock:
            sealed.extend(blobs)

    threads = [threading.Thread(target=create, args=(n, r)) for n, r in enumerate(rings)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fresh = Keyring(store, LocalKeyProvider(master_key))
    assert len(sealed) == 6 * 40
    assert all(fresh.open(s, "t", "n", blob) == b"v" for s, blob in sealed)
    store.close()
