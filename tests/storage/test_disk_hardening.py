"""DiskStore is a store of record: no eviction, no pickle, inline values, durable, scrubbable."""

from __future__ import annotations

import pickle
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import diskcache
import pytest

from personakit.exceptions import IntegrityError, StorageError
from personakit.storage import BULK_CHECKPOINT_PAGES, DURABLE_SETTINGS, DiskStore
from personakit.testing import find_bytes


def test_durability_settings_are_live(tmp_path: Path) -> None:
    """The live SQLite pragmas and diskcache settings are the hardened ones."""
    store = DiskStore(tmp_path)
    assert store.settings() == {
        "synchronous": 2,
        "secure_delete": 1,
        "journal_mode": "wal",
        "eviction_policy": "none",
        "inline_values": True,
    }


def test_reopen_after_eviction_was_switched_on_is_refused(tmp_path: Path) -> None:
    """A second opener that turned eviction back on makes the next open fail loudly."""
    DiskStore(tmp_path).close()
    diskcache.Cache(str(tmp_path), eviction_policy="least-recently-used").close()
    with pytest.raises(StorageError, match="eviction_policy"):
        DiskStore(tmp_path)


def test_weakened_pragmas_are_restored_at_open(tmp_path: Path) -> None:
    """A second opener that turned off secure_delete / FULL sync is overridden at our open."""
    DiskStore(tmp_path).close()
    diskcache.Cache(
        str(tmp_path),
        sqlite_secure_delete=0,
        sqlite_synchronous=0,
        **{k: v for k, v in DURABLE_SETTINGS.items() if not k.startswith("sqlite_")},
    ).close()
    store = DiskStore(tmp_path)
    assert store.settings()["secure_delete"] == 1
    assert store.settings()["synchronous"] == 2


def test_large_values_stay_inline(tmp_path: Path) -> None:
    """A 1 MiB value lives inside cache.db, never as a side file diskcache would write."""
    store = DiskStore(tmp_path)
    store.put("k", b"v" * (1024 * 1024))
    files = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(files) == ["cache.db", "cache.db-shm", "cache.db-wal"]


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (self.marker, "pwned"))  # type: ignore[return-value]


def _plant(
    db: Path, key: object, raw: int, mode: int, value: bytes | None, *, filename: str | None = None
) -> None:
    with sqlite3.connect(db) as con:
        con.execute(
            "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count,"
            " tag, size, mode, filename, value) VALUES (?, ?, 0, NULL, 0, 0, NULL, 0, ?, ?, ?)",
            (key, raw, mode, filename, value),
        )


def test_planted_pickle_value_is_refused_and_runs_no_code(tmp_path: Path) -> None:
    """A MODE_PICKLE row planted in cache.db raises IntegrityError on get and scan; no code runs."""
    store = DiskStore(tmp_path / "s")
    store.put("good", b"ok")
    marker = tmp_path / "marker"
    payload = pickle.dumps(_Payload(marker))
    _plant(tmp_path / "s" / "cache.db", "evil", 1, diskcache.core.MODE_PICKLE, payload)
    with pytest.raises(IntegrityError):
        store.get("evil")
    with pytest.raises(IntegrityError):
        list(store.scan(""))
    assert not marker.exists()
    assert store.get("good") == b"ok"


def test_planted_pickled_key_is_refused_and_runs_no_code(tmp_path: Path) -> None:
    """A row whose key is a pickle (raw=0) is never unpickled by scans."""
    store = DiskStore(tmp_path / "s")
    marker = tmp_path / "marker"
    _plant(tmp_path / "s" / "cache.db", pickle.dumps(_Payload(marker)), 0, 1, b"x")
    assert list(store.scan("")) == []  # BLOB keys are outside every scan
    assert not marker.exists()


def test_planted_side_file_row_is_refused(tmp_path: Path) -> None:
    """A row pointing at a side file (even outside the store) is refused, and never deleted."""
    store = DiskStore(tmp_path / "s")
    outside = tmp_path / "outside.txt"
    outside.write_text("do not touch")
    _plant(
        tmp_path / "s" / "cache.db",
        "file",
        1,
        diskcache.core.MODE_BINARY,
        None,
        filename="../outside.txt",
    )  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        store.get("file")
    store.delete("file")
    assert outside.read_text() == "do not touch"


def test_deleted_value_is_gone_from_every_file_after_scrub(tmp_path: Path) -> None:
    """After delete + scrub, the value's bytes are in no file of the store (WAL included)."""
    store = DiskStore(tmp_path)
    secret = b"canary-7f3a9c-deleted-value"
    store.put("keep", b"other data")
    store.put("doomed", secret * 10)
    assert find_bytes(tmp_path, secret)  # it is there in some file before
    store.delete("doomed")
    assert store.scrub().done
    assert find_bytes(tmp_path, secret) == []


def test_scrub_is_pending_while_a_reader_holds_a_snapshot(tmp_path: Path) -> None:
    """An open read transaction elsewhere keeps the WAL: scrub says pending, then done later."""
    store = DiskStore(tmp_path)
    store.put("k", b"v" * 1000)
    reader = sqlite3.connect(tmp_path / "cache.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM Cache").fetchall()  # take the snapshot
    store.put("k2", b"w" * 1000)
    store.delete("k")
    result = store.scrub(attempts=3, wait=0.01)
    assert result.status == "pending"
    assert "snapshot" in result.detail
    reader.execute("COMMIT")
    reader.close()
    assert store.scrub().done


def test_store_can_be_used_from_several_threads(tmp_path: Path) -> None:
    """Concurrent writers in threads lose nothing (diskcache keeps a connection per thread)."""
    store = DiskStore(tmp_path)

    def write(n: int) -> None:
        for i in range(50):
            store.put(f"t{n}/{i:03d}", b"x")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for _ in store.scan("t")) == 200


def test_integrity_check_is_clean_on_a_fresh_store(tmp_path: Path) -> None:
    """PRAGMA integrity_check reports nothing on a store we wrote."""
    store = DiskStore(tmp_path)
    store.put("k", b"v")
    assert store.integrity_check() == []


def test_open_on_a_file_is_a_storage_error(tmp_path: Path) -> None:
    """Opening a store where a regular file sits raises StorageError, not a raw OSError."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(StorageError):
        DiskStore(tmp_path / "f")


def test_change_token_sees_writes_by_other_connections_threads_and_processes(
    tmp_path: Path,
) -> None:
    """The token changes after a commit by another connection, thread or process; not else."""
    store = DiskStore(tmp_path / "s")
    other = DiskStore(tmp_path / "s")
    token = store.change_token()
    other.get("k")
    assert store.change_token() == token
    other.put("k", b"1")
    assert store.change_token() != token

    token = store.change_token()
    worker = threading.Thread(target=store.put, args=("k", b"2"))  # its own connection
    worker.start()
    worker.join()
    assert store.change_token() != token

    token = store.change_token()
    code = f"from personakit.storage import DiskStore; DiskStore({str(tmp_path / 's')!r}).put('k', b'3')"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert store.change_token() != token

    token = store.change_token()
    with store.transaction():  # an empty transaction writes nothing
        pass
    assert store.change_token() == token
    store.close()
    other.close()


def test_bulk_writes_defers_checkpoints_and_restores_the_setting(tmp_path: Path) -> None:
    """Inside bulk_writes the WAL checkpoints every 8,192 pages; after it, SQLite's default."""
    store = DiskStore(tmp_path / "s")
    con = store._cache._con
    assert con.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    with store.bulk_writes():
        assert con.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BULK_CHECKPOINT_PAGES
        with store.transaction():
            store.put_many([(f"k{i}", bytes(300)) for i in range(3000)])
    assert con.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    # The closing passive checkpoint copied everything into the database file.
    busy, frames, copied = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, frames) == (0, copied)
    with pytest.raises(RuntimeError, match="simulated crash"), store.bulk_writes():
        raise RuntimeError("simulated crash")
    assert con.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    store.close()
