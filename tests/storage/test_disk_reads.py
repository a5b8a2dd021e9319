"""DiskStore.get keeps each thread's connection: still right after close, fork, and in threads."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit.storage import DiskStore
from personakit.storage import _diskcache_compat as compat


def test_get_after_close_reopens_and_sees_every_write(tmp_path: Path) -> None:
    """close() drops the kept connection; the next get opens a new one and reads committed data."""
    store = DiskStore(tmp_path)
    store.put("k", b"one")
    assert store.get("k") == b"one"
    store.close()
    assert store.get("k") == b"one"
    store.put("k", b"two")
    assert store.get("k") == b"two"
    store.close()


def test_a_get_leaves_no_read_snapshot_behind(tmp_path: Path) -> None:
    """get() fetches one row: its statement is reset, so another connection's scrub is done."""
    store = DiskStore(tmp_path)
    store.put("k", b"v")
    assert store.get("k") == b"v"
    assert store.get("absent") is None
    other = DiskStore(tmp_path)  # its own connection
    other.put("k2", b"w")
    assert other.scrub().done
    other.close()
    store.close()


def test_get_survives_a_connection_closed_behind_its_back(tmp_path: Path) -> None:
    """A connection diskcache closed (not through DiskStore.close) is replaced, not an error."""
    store = DiskStore(tmp_path)
    store.put("k", b"v")
    assert store.get("k") == b"v"
    compat.connection(store._cache).close()  # what diskcache does itself after a fork
    store._cache.close()
    assert store.get("k") == b"v"
    assert store.get("absent") is None
    store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_get_in_a_forked_child_uses_its_own_connection(tmp_path: Path) -> None:
    """After a fork the child reads through a connection of its own, never the parent's."""
    store = DiskStore(tmp_path)
    store.put("k", b"parent")
    assert store.get("k") == b"parent"
    parent_con = compat.connection(store._cache)
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 only if every check holds
        ok = False
        try:
            ok = store.get("k") == b"parent"
            ok = ok and compat.connection(store._cache) is not parent_con
            store.put("k", b"child")
            ok = ok and store.get("k") == b"child"
        finally:
            sys.stdout.flush()
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get("k") == b"child"  # the parent's kept connection sees the child's commit
    store.close()


def test_threads_each_read_through_their_own_connection(tmp_path: Path) -> None:
    """Concurrent readers and a writer in several threads: every read sees a value written."""
    store = DiskStore(tmp_path)
    for i in range(20):
        store.put(f"k{i}", b"0")
    errors: list[BaseException] = []
    seen: set[bytes] = set()

    def read() -> None:
        try:
            for _ in range(200):
                for i in range(20):
                    value = store.get(f"k{i}")
                    assert value is not None
                    seen.add(value)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    def write() -> None:
        try:
            for n in range(1, 50):
                store.put(f"k{n % 20}", str(n).encode())
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=read) for _ in range(3)] + [threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert b"0" in seen
    store.close()


@settings(max_examples=15, deadline=None)
@given(
    keys=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=5, unique=True),
    closes=st.lists(st.booleans(), min_size=1, max_size=8),
)
def test_get_returns_what_put_wrote_across_closes(
    tmp_path_factory: pytest.TempPathFactory, keys: list[str], closes: list[bool]
) -> None:
    """Property: whatever interleaving of closes, get returns exactly the last value put."""
    store = DiskStore(tmp_path_factory.mktemp("reads"))
    written: dict[str, bytes] = {}
    for n, key in enumerate(keys):
        try:
            key.encode()
        except UnicodeEncodeError:
            continue  # SQLite cannot hold a lone surrogate: not what this property is about
        store.put(key, n.to_bytes(2, "big"))
        written[key] = n.to_bytes(2, "big")
        if closes[n % len(closes)]:
            store.close()
        for known, value in written.items():
            assert store.get(known) == value
    store.close()
