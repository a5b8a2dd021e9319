"""Test helpers, public API: the store conformance suite and tools for privacy tests.

* :class:`StoreContract`: subclass it in a test module, implement :meth:`make_store`, and
  pytest runs the whole contract against your backend.
* :func:`memory_kit`: an ephemeral :class:`~personakit.Personakit` with a fixed clock.
* :func:`find_bytes`: every file under a directory that contains a byte string, for the
  "personal data never on disk" and "erased means gone" checks.

Importing this module needs pytest and hypothesis (the ``test`` extra).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit._clock import FixedClock
from personakit._kit import Personakit
from personakit.crypto import LocalKeyProvider, generate_master_key
from personakit.storage import MAX_KEY_LENGTH, ChangeTracking, ScrubResult, Store

__all__ = ["StoreContract", "find_bytes", "memory_kit"]


def memory_kit(
    *, clock: FixedClock | None = None, tenant: str = "default"
) -> tuple[Personakit, FixedClock]:
    """An in-memory kit with a random master key and a :class:`FixedClock` (returned too)."""
    fixed = clock or FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    kit = Personakit.open(
        "memory:", keys=LocalKeyProvider(generate_master_key()), clock=fixed, tenant=tenant
    )
    return kit, fixed


def find_bytes(root: str | os.PathLike[str], needle: bytes) -> list[Path]:
    """Every regular file under ``root`` whose bytes contain ``needle`` (also as UTF-16).

    Reads whole files, including SQLite's ``-wal`` and ``-shm`` files, byte for byte.
    """
    variants = {needle, needle.decode("utf-8", "ignore").encode("utf-16-le")} - {b""}
    hits: list[Path] = []
    for path in sorted(Path(root).rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(variant in data for variant in variants):
                hits.append(path)
    return hits


_KEY_PART = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x2FF, exclude_characters="/"),
    min_size=1,
    max_size=6,
)
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _KEY_PART, st.binary(max_size=64)),
        st.tuples(st.just("delete"), _KEY_PART, st.just(b"")),
        st.tuples(st.just("delete_prefix"), _KEY_PART.map(lambda k: k[:1]), st.just(b"")),
        st.tuples(st.just("rollback"), _KEY_PART, st.binary(max_size=8)),
    ),
    max_size=30,
)


class StoreContract:
    """The behaviour every :class:`~personakit.storage.Store` must show.

    Subclass as ``class TestMyStore(StoreContract)`` and implement :meth:`make_store`; the
    store it returns is closed after each test. Each test uses its own key namespace, so a
    backend may hand out one shared store.
    """

    def make_store(self, tmp_path: Path) -> Store:
        """Return the store under test (override this)."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        """The store under test, closed afterwards."""
        store = self.make_store(tmp_path)
        try:
            yield store
        finally:
            store.close()

    @pytest.fixture
    def ns(self) -> str:
        """A fresh key namespace for this test."""
        return f"t{uuid.uuid4().hex[:12]}/"

    def test_missing_key_reads_none(self, store: Store, ns: str) -> None:
        """A key never written reads as None."""
        assert store.get(ns + "nothing") is None

    def test_put_then_get_round_trips_every_byte(self, store: Store, ns: str) -> None:
        """Values come back byte for byte, including NULs and all 256 byte values."""
        value = bytes(range(256)) * 3
        store.put(ns + "k", value)
        assert store.get(ns + "k") == value

    def test_get_many_returns_only_existing_keys(self, store: Store, ns: str) -> None:
        """get_many returns the present keys' values, skips absent ones, tolerates repeats."""
        for i in range(700):  # more than one IN-chunk
            store.put(f"{ns}k{i:04d}", str(i).encode())
        wanted = [f"{ns}k{i:04d}" for i in range(0, 700, 3)] + [ns + "absent", ns + "k0000"]
        got = store.get_many(wanted)
        assert got == {f"{ns}k{i:04d}": str(i).encode() for i in range(0, 700, 3)}
        assert store.get_many([]) == {}

    def test_get_many_sees_the_transaction_s_writes(self, store: Store, ns: str) -> None:
        """Inside a transaction, get_many reads the transaction's own writes."""
        with store.transaction():
            store.put(ns + "a", b"1")
            assert store.get_many([ns + "a"]) == {ns + "a": b"1"}

    def test_put_many_writes_every_pair_last_value_winning(self, store: Store, ns: str) -> None:
        """put_many sets every key; a key given twice keeps its last value; [] is fine."""
        store.put(ns + "old", b"0")
        store.put_many([(ns + "a", b"1"), (ns + "old", b"2"), (ns + "a", b"3")])
        store.put_many([])
        assert dict(store.scan(ns)) == {ns + "a": b"3", ns + "old": b"2"}

    def test_put_many_checks_everything_before_writing(self, store: Store, ns: str) -> None:
        """One bad key or value anywhere: a TypeError / ValueError and nothing written."""
        for bad in [(ns + "b", "not bytes"), (b"k", b"v"), ("", b"v")]:
            with pytest.raises((TypeError, ValueError)):
                store.put_many([(ns + "a", b"1"), bad])  # type: ignore[list-item]
        assert list(store.scan(ns)) == []

    def test_put_many_joins_the_outer_transaction(self, store: Store, ns: str) -> None:
        """put_many inside a transaction that fails is rolled back with it."""

        class Boom(Exception):
            pass

        with pytest.raises(Boom), store.transaction():
            store.put_many([(ns + "a", b"1"), (ns + "b", b"2")])
            assert store.get(ns + "b") == b"2"
            raise Boom
        assert list(store.scan(ns)) == []

    def test_put_overwrites(self, store: Store, ns: str) -> None:
        """A second put replaces the first value."""
        store.put(ns + "k", b"one")
        store.put(ns + "k", b"two")
        assert store.get(ns + "k") == b"two"

    def test_large_value_round_trips(self, store: Store, ns: str) -> None:
        """A 2 MiB value is stored and read back whole."""
        value = os.urandom(2 * 1024 * 1024)
        store.put(ns + "big", value)
        assert store.get(ns + "big") == value

    def test_delete_reports_existence(self, store: Store, ns: str) -> None:
        """delete() says whether the key existed, and the key is gone afterwards."""
        store.put(ns + "k", b"v")
        assert store.delete(ns + "k") is True
        assert store.delete(ns + "k") is False
        assert store.get(ns + "k") is None

    def test_wrong_types_are_refused(self, store: Store, ns: str) -> None:
        """Keys must be str and values bytes: anything else is a TypeError, nothing written."""
        with pytest.raises(TypeError):
            store.put(ns.encode() + b"k", b"v")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            store.put(ns + "k", "text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            store.put(ns + "k", bytearray(b"v"))  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            store.put("", b"v")
        with pytest.raises(ValueError):
            store.put("k" * (MAX_KEY_LENGTH + 1), b"v")
        assert store.get(ns + "k") is None

    def test_scan_is_an_exact_prefix_match_in_key_order(self, store: Store, ns: str) -> None:
        """scan(prefix) yields exactly the keys with that prefix, sorted by code point."""
        keys = [
            ns + k for k in ("a/2", "a/10", "a/1", "a0", "a", "b/1", "a/é", "a/z", "a/\U0001f600")
        ]
        for key in keys:
            store.put(key, key.encode())
        got = [key for key, _ in store.scan(ns + "a/")]
        assert got == sorted(k for k in keys if k.startswith(ns + "a/"))
        assert all(value == key.encode() for key, value in store.scan(ns))

    def test_scan_pages_through_many_keys(self, store: Store, ns: str) -> None:
        """A scan over more keys than any page size returns them all, once, in order."""
        keys = [f"{ns}{i:05d}" for i in range(1500)]
        with store.transaction():
            for key in keys:
                store.put(key, b"x")
        assert [key for key, _ in store.scan(ns)] == keys

    def test_delete_prefix_removes_only_that_prefix(self, store: Store, ns: str) -> None:
        """delete_prefix counts and deletes the prefix's keys and leaves neighbours alone."""
        for key in ("s/a/1", "s/a/2", "s/ab/1", "s/b/1"):
            store.put(ns + key, b"v")
        assert store.delete_prefix(ns + "s/a/") == 2
        assert [k for k, _ in store.scan(ns)] == [ns + "s/ab/1", ns + "s/b/1"]

    def test_transaction_commits_all_writes(self, store: Store, ns: str) -> None:
        """Writes in a transaction are visible after it ends."""
        with store.transaction():
            store.put(ns + "a", b"1")
            store.put(ns + "b", b"2")
            assert store.get(ns + "a") == b"1"  # reads see the transaction's own writes
        assert (store.get(ns + "a"), store.get(ns + "b")) == (b"1", b"2")

    def test_rollback_keeps_old_values(self, store: Store, ns: str) -> None:
        """An exception in a transaction restores overwritten keys and drops new ones."""
        store.put(ns + "old", b"kept")
        store.put(ns + "gone", b"still here")

        class Boom(Exception):
            pass

        with pytest.raises(Boom), store.transaction():
            store.put(ns + "old", b"changed")
            store.put(ns + "new", b"never")
            store.delete(ns + "gone")
            store.delete_prefix(ns + "old")
            raise Boom
        assert store.get(ns + "old") == b"kept"
        assert store.get(ns + "new") is None
        assert store.get(ns + "gone") == b"still here"

    def test_nested_transaction_joins_the_outer_one(self, store: Store, ns: str) -> None:
        """A failure in the outer transaction undoes writes made in a nested one."""

        class Boom(Exception):
            pass

        with pytest.raises(Boom), store.transaction():
            with store.transaction():
                store.put(ns + "inner", b"v")
            raise Boom
        assert store.get(ns + "inner") is None

    def test_scrub_reports_a_status(self, store: Store, ns: str) -> None:
        """scrub() after a delete returns a ScrubResult saying done or pending."""
        store.put(ns + "k", b"v")
        store.delete(ns + "k")
        result = store.scrub()
        assert isinstance(result, ScrubResult)
        assert result.status in {"done", "pending"}

    def test_change_token_sees_every_committed_write(self, store: Store, ns: str) -> None:
        """If the store tracks changes: equal tokens only when nothing was written in between."""
        if not isinstance(store, ChangeTracking):
            return  # optional: callers treat "no token" as "changed"
        token = store.change_token()
        assert store.change_token() == token
        store.get(ns + "k")
        list(store.scan(ns))
        assert store.change_token() == token  # reads change nothing
        for write in (
            lambda: store.put(ns + "k", b"v"),
            lambda: store.put(ns + "k", b"v"),  # the same value again is still a write
            lambda: store.delete(ns + "k"),
            lambda: store.put(ns + "p/1", b"v"),
            lambda: store.put_many([(ns + "m", b"v")]),
            lambda: store.delete_prefix(ns + "p/"),
        ):
            write()
            assert store.change_token() != token
            token = store.change_token()
        with store.transaction():
            store.put(ns + "t", b"v")
            inside = store.change_token()
        assert store.change_token() == inside  # taken after the last write, before commit

    def test_random_operations_agree_with_a_dict(self, store: Store) -> None:
        """Random puts, deletes, prefix deletes and rolled-back writes match a dict model."""

        @settings(max_examples=40, deadline=None)
        @given(ops=_OPS)
        def run(ops: list[tuple[str, str, bytes]]) -> None:
            ns = f"h{uuid.uuid4().hex[:12]}/"
            model: dict[str, bytes] = {}
            for op, key, value in ops:
                if op == "put":
                    store.put(ns + key, value)
                    model[ns + key] = value
                elif op == "delete":
                    assert store.delete(ns + key) == (model.pop(ns + key, None) is not None)
                elif op == "delete_prefix":
                    doomed = [k for k in model if k.startswith(ns + key)]
                    assert store.delete_prefix(ns + key) == len(doomed)
                    for k in doomed:
                        del model[k]
                else:
                    try:
                        with store.transaction():
                            store.put(ns + key, value)
                            raise _Rollback
                    except _Rollback:
                        pass
            assert dict(store.scan(ns)) == model
            assert [k for k, _ in store.scan(ns)] == sorted(model)

        run()


class _Rollback(Exception):
    pass
