"""The embedded default store: diskcache (SQLite) hardened to be a store of record.

diskcache is built as a cache; out of the box it evicts, pickles and moves large values into
side files. Each of those is wrong for personal data, so :class:`DiskStore` pins:

* ``eviction_policy="none"`` and ``cull_limit=0``: nothing is ever dropped to save space;
* a bytes-only ``_BytesDisk``: values must be bytes, keys must be str, and a row in any
  other mode (a planted pickle) is refused before anything is deserialized;
* every value inline in SQLite (``disk_min_file_size`` huge): side files are written outside the
  transaction, so a rollback or a kill -9 can leave a row pointing at a missing or stale file;
* ``sqlite_synchronous=2`` (FULL): a committed transaction survives power loss;
* ``sqlite_secure_delete=1``: SQLite zeroes deleted content instead of leaving it in free pages;
* WAL journal, and :meth:`DiskStore.scrub` truncates it so old page images do not linger.

Settings live in diskcache's ``Settings`` table, which any other opener can rewrite, so they
are checked on every open: a store whose eviction was switched on is refused (it may already
have lost data), the others are restored and then verified against the live pragmas.

The diskcache internals this needs (private members, the table layout) are wrapped and checked
in :mod:`personakit.storage._diskcache_compat`; this module reaches into none of them itself.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from personakit.exceptions import ConfigurationError, IntegrityError, StorageError
from personakit.storage import _diskcache_compat as compat
from personakit.storage._base import (
    MAX_KEY_LENGTH,
    ScrubResult,
    check_key,
    check_value,
    prefix_upper_bound,
)

__all__ = ["BULK_CHECKPOINT_PAGES", "DURABLE_SETTINGS", "SCHEMA_VERSION", "DiskStore"]

#: WAL pages between automatic checkpoints inside :meth:`DiskStore.bulk_writes` (SQLite's
#: default, used otherwise, is 1,000).
BULK_CHECKPOINT_PAGES: Final = 8192

#: The schema version of a DiskStore's layout (kept in SQLite's ``user_version``).
SCHEMA_VERSION: Final = 1

_SCAN_PAGE: Final = 512
_IN_CHUNK: Final = 500  # well under SQLite's bound-parameter limit
_PREFIX_CHARS: Final = 2  # the longest first key segment foreign_rows reports


@functools.cache
def _backend_errors() -> tuple[type[Exception], ...]:
    """What a backend call can raise: SQLite's errors and diskcache's ``Timeout``.

    diskcache raises ``Timeout`` when BEGIN IMMEDIATE waits longer than the timeout. It is
    imported on first use, hence a function; an ``except`` clause evaluates it only when
    something was raised.
    """
    return (sqlite3.Error, compat.load().Timeout)


# Bumped in a forked child: a connection a thread cached before the fork is the parent's, and
# diskcache (which checks the pid on every access) replaces it on the next compat.connection().
_fork_generation = 0


def _after_fork_in_child() -> None:
    global _fork_generation  # noqa: PLW0603 (one counter for the whole process)
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


#: The diskcache settings a store of record needs. Benchmarks open raw diskcache with the same
#: durability settings so that the comparison is fair.
DURABLE_SETTINGS: Final[dict[str, Any]] = {
    "eviction_policy": "none",
    "cull_limit": 0,
    "statistics": 0,
    "tag_index": 0,
    "size_limit": 2**62,
    "disk_min_file_size": 2**62,
    "sqlite_journal_mode": "wal",
    "sqlite_synchronous": 2,
    "sqlite_secure_delete": 1,
    "sqlite_auto_vacuum": 1,
}

# Settings that, once changed by another opener, may already have cost data.
_REFUSE_IF_CHANGED: Final = ("eviction_policy", "cull_limit", "disk_min_file_size")


@functools.cache
def _bytes_disk() -> type[Any]:
    """The ``Disk`` subclass DiskStore opens its cache with, made once diskcache is loaded."""

    class _BytesDisk(compat.load().Disk):  # type: ignore[misc]
        """diskcache serialization that only ever stores raw bytes inline, and never unpickles."""

        def put(self, key: Any) -> tuple[Any, bool]:
            if type(key) is not str:
                msg = "store keys are str"
                raise TypeError(msg)
            return key, True

        def get(self, key: Any, raw: bool) -> Any:  # noqa: FBT001 (diskcache's signature)
            if not raw or type(key) is not str:
                # A non-raw key is a pickle: never load it.
                raise IntegrityError("store row is not in personakit's format")
            return key

        def store(self, value: Any, read: bool, key: Any = None) -> tuple[int, int, None, Any]:  # noqa: FBT001, ARG002
            if read or type(value) is not bytes:
                msg = "store values are bytes"
                raise TypeError(msg)
            return 0, compat.MODE_RAW, None, sqlite3.Binary(value)

        def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> bytes:  # noqa: FBT001, ARG002
            return _checked_value(mode, filename, value)

        def remove(self, file_path: Any) -> None:  # noqa: ARG002
            # We never create side files, so a filename in a row was planted: never follow it (a
            # planted "../../x" would otherwise delete outside the store).
            return

    return _BytesDisk


def _checked_value(mode: object, filename: object, value: object) -> bytes:
    if mode != compat.MODE_RAW or filename is not None or type(value) is not bytes:
        raise IntegrityError("store row is not in personakit's format")
    return value


def _key_prefix(key: object, raw: object) -> str:
    if type(key) is not str or raw != 1:
        return "(not a text key)"  # a pickled key is never decoded, not even to report it
    head, slash, _ = key.partition("/")
    # Only a short first segment: the store layout's s/, i/, a/ ..., never a pseudonym.
    return head + slash if slash and len(head) <= _PREFIX_CHARS else "(other)"


def _foreign_reasons(
    key: object, raw: object, mode: object, filename: object, value_type: object
) -> list[str]:
    reasons = []
    if type(key) is not str or raw != 1:
        reasons.append("not a text key")
    if mode != compat.MODE_RAW:
        name = compat.MODE_NAMES.get(mode) if type(mode) is int else None
        reasons.append(f"{name} mode" if name else "unknown mode")
    elif value_type != "blob":
        reasons.append("value is not bytes")
    if filename is not None:
        reasons.append("side file")
    return reasons


class DiskStore:
    """A :class:`~personakit.storage.Store` in a directory, on diskcache / SQLite.

    Safe for several threads and several processes on one host. ``timeout`` is how long a
    writer waits for another process's transaction before :class:`StorageError`.
    """

    def __init__(self, directory: str | os.PathLike[str], *, timeout: float = 60.0) -> None:
        """Open (creating if needed) the store in ``directory`` and verify its settings."""
        self.directory = Path(directory)
        self._timeout = timeout
        # Each thread's diskcache connection, kept here for get(): diskcache's ``_sql``
        # property chain (a thread-local lookup and os.getpid() on every call) costs about a
        # microsecond, a sixth of a whole indexed SELECT.
        self._local = threading.local()
        try:
            compat.check_installed(tuple(DURABLE_SETTINGS.items()))
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._refuse_weakened_settings()
            self._cache = compat.load().Cache(
                str(self.directory), timeout=timeout, disk=_bytes_disk(), **DURABLE_SETTINGS
            )
            (self.directory / compat.DB_NAME).chmod(0o600)
        except StorageError:
            raise
        except (*_backend_errors(), OSError) as exc:  # type: ignore[misc]  # a tuple of types
            raise StorageError(f"cannot open store: {type(exc).__name__}") from exc
        try:
            compat.check_cache(self._cache, DURABLE_SETTINGS)
            self.migrate()
        except BaseException:
            self._cache.close()
            raise
        self._verify_settings()

    def __repr__(self) -> str:
        """Render with the directory."""
        return f"DiskStore({str(self.directory)!r})"

    # -- settings -------------------------------------------------------------------------

    def _refuse_weakened_settings(self) -> None:
        db = self.directory / compat.DB_NAME
        if not db.exists():
            return
        current = compat.read_settings(db)
        if current is None:
            return  # created but not initialised yet (a crash during the first open)
        changed = [
            name
            for name in _REFUSE_IF_CHANGED
            if name in current and current[name] != DURABLE_SETTINGS[name]
        ]
        if changed:
            raise StorageError(
                "store settings were changed by another opener ("
                + ", ".join(changed)
                + "); data may have been evicted or moved out of the database, refusing to open"
            )

    def _verify_settings(self) -> None:
        con = compat.connection(self._cache)  # the live connection is what the pragmas bind
        live = {
            "sqlite_synchronous": con.execute("PRAGMA synchronous").fetchone()[0],
            "sqlite_secure_delete": con.execute("PRAGMA secure_delete").fetchone()[0],
            "sqlite_journal_mode": con.execute("PRAGMA journal_mode").fetchone()[0],
            **{
                name: compat.setting(self._cache, name)
                for name in ("eviction_policy", "cull_limit", "disk_min_file_size")
            },
        }
        wrong = sorted(name for name, value in live.items() if value != DURABLE_SETTINGS[name])
        if wrong or not isinstance(self._cache.disk, _bytes_disk()):
            self._cache.close()
            raise StorageError("store settings could not be enforced: " + ", ".join(wrong))

    def settings(self) -> dict[str, Any]:
        """The live durability settings, as verified at open (for reports and tests)."""
        con = compat.connection(self._cache)
        return {
            "synchronous": con.execute("PRAGMA synchronous").fetchone()[0],
            "secure_delete": con.execute("PRAGMA secure_delete").fetchone()[0],
            "journal_mode": con.execute("PRAGMA journal_mode").fetchone()[0],
            "eviction_policy": compat.setting(self._cache, "eviction_policy"),
            "inline_values": compat.setting(self._cache, "disk_min_file_size")
            >= DURABLE_SETTINGS["disk_min_file_size"],
        }

    # -- the Store protocol ----------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """Return the value for ``key``, or None."""
        if type(key) is not str or not 0 < len(key) <= MAX_KEY_LENGTH:
            check_key(key)  # raises the precise TypeError / ValueError
        # The hottest path of the store: one indexed SELECT on diskcache's table instead of
        # Cache.get (which also re-derives the key, reads the clock and checks expiry, none of
        # which applies: we never set expiry), on this thread's connection as cached by
        # _connection(), and try/except instead of _translated().
        local = self._local
        try:
            con = local.con if local.generation == _fork_generation else self._connection()
        except AttributeError:  # this thread's first call
            con = self._connection()
        try:
            # fetchone: (key, raw) is unique, and sqlite3 steps past a row as it returns it, so
            # the statement is already reset and holds no read snapshot (which would keep a
            # scrub pending).
            row = con.execute(compat.SELECT_VALUE, (key,)).fetchone()
        except sqlite3.ProgrammingError:
            # The cached connection was closed (close(), or diskcache replaced it): once more
            # on the current one.
            row = self._select_value_again(key)
        except _backend_errors() as exc:
            raise StorageError(f"store operation failed: {type(exc).__name__}") from exc
        if row is None:
            return None
        value = row[2]
        if row[0] != compat.MODE_RAW or row[1] is not None or type(value) is not bytes:
            raise IntegrityError("store row is not in personakit's format")  # _checked_value's
        return value

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, fetched from diskcache and kept for the next get()."""
        con = compat.connection(self._cache)
        self._local.con = con
        self._local.generation = _fork_generation
        return con

    def _select_value_again(self, key: str) -> Any:
        try:
            return self._connection().execute(compat.SELECT_VALUE, (key,)).fetchone()
        except _backend_errors() as exc:
            raise StorageError(f"store operation failed: {type(exc).__name__}") from exc

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The values of those ``keys`` that exist, read with a few ``IN (…)`` queries."""
        for key in keys:
            check_key(key)
        unique = list(dict.fromkeys(keys))
        found: dict[str, bytes] = {}
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            try:
                rows = compat.execute(self._cache, compat.select_many(len(chunk)), chunk).fetchall()
            except _backend_errors() as exc:
                raise StorageError(f"store operation failed: {type(exc).__name__}") from exc
            for key, mode, filename, value in rows:
                found[key] = _checked_value(mode, filename, value)
        return found

    def put(self, key: str, value: bytes) -> None:
        """Set ``key`` to ``value``."""
        check_key(key)
        check_value(value)
        # One UPSERT instead of Cache.set's SELECT-then-UPDATE/INSERT in BEGIN IMMEDIATE: a
        # single statement is atomic on its own, and starts as a write, so there is no read
        # lock to upgrade. diskcache's AFTER INSERT / AFTER UPDATE triggers keep its counters.
        now = time.time()
        try:  # inline rather than _translated(): the bulk paths put once per record
            compat.execute(self._cache, compat.UPSERT, (key, now, now, value))
        except _backend_errors() as exc:
            raise StorageError(f"store operation failed: {type(exc).__name__}") from exc

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Set several keys, all or nothing: one ``executemany`` of the UPSERT."""
        now = time.time()
        rows = [(check_key(key), now, now, check_value(value)) for key, value in items]
        if not rows:
            return
        with self._translated(), self._cache.transact():
            compat.connection(self._cache).executemany(compat.UPSERT, rows)

    def delete(self, key: str) -> bool:
        """Delete ``key``; return whether it existed."""
        check_key(key)
        with self._translated():
            return bool(self._cache.delete(key))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; return how many."""
        check_key(prefix)
        where, params = compat.key_range(prefix, prefix_upper_bound(prefix))
        with self._translated(), self._cache.transact():
            cursor = compat.execute(self._cache, compat.delete_range(where), params)
            return int(cursor.rowcount)

    def scan(self, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        """Yield ``(key, value)`` for keys starting with ``prefix``, in key order.

        Reads in pages, so a scan of a large prefix holds no long read snapshot (which would
        keep :meth:`scrub` pending) and never loads everything at once.
        """
        where, params = compat.key_range(prefix, prefix_upper_bound(prefix))
        first_page = compat.select_range(where, _SCAN_PAGE, after=False)
        next_page = compat.select_range(where, _SCAN_PAGE, after=True)
        last: str | None = None
        while True:
            statement, args = (first_page, params) if last is None else (next_page, (*params, last))
            try:  # inline rather than _translated(): scans run once per subject in bulk paths
                rows = compat.execute(self._cache, statement, args).fetchall()
            except _backend_errors() as exc:
                raise StorageError(f"store operation failed: {type(exc).__name__}") from exc
            for key, raw, mode, filename, value in rows:
                if not raw:
                    raise IntegrityError("store row is not in personakit's format")
                yield key, _checked_value(mode, filename, value)
            if len(rows) < _SCAN_PAGE:
                return
            last = rows[-1][0]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes in one SQLite transaction (BEGIN IMMEDIATE); nested calls join it."""
        local = self._local
        if getattr(local, "depth", 0) and local.depth_generation == _fork_generation:
            # Nested in this thread's own transaction: joining it is all diskcache's nested
            # transact() does (no savepoint; the outermost commits or rolls back), and bulk
            # ingest opens tens of thousands of nested ones (every hook, every audit entry).
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        try:
            context = self._cache.transact()
            context.__enter__()
        except _backend_errors() as exc:
            raise StorageError(f"cannot begin transaction: {type(exc).__name__}") from exc
        local.depth, local.depth_generation = 1, _fork_generation
        try:
            yield
        except BaseException as exc:
            local.depth = 0
            context.__exit__(type(exc), exc, exc.__traceback__)
            raise
        local.depth = 0
        try:
            context.__exit__(None, None, None)
        except sqlite3.Error as exc:
            raise StorageError(f"commit failed: {type(exc).__name__}") from exc

    def change_token(self) -> tuple[sqlite3.Connection, int, int]:
        """The calling thread's connection with its ``data_version`` and ``total_changes``.

        SQLite changes a connection's ``data_version`` whenever *another* connection (thread,
        process) commits, and ``total_changes`` counts this connection's own row writes, so
        the two stay equal only while nobody wrote anything. The connection itself is part of
        the token because both counters restart when diskcache opens a new one (after a fork).
        """
        try:
            con = compat.connection(self._cache)
            version = con.execute("PRAGMA data_version").fetchone()[0]
        except _backend_errors() as exc:
            raise StorageError(f"store operation failed: {type(exc).__name__}") from exc
        return con, int(version), con.total_changes

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """Defer this thread's WAL checkpoints to every 8,192 pages, and checkpoint at the end.

        Bulk ingest dirties one index page per subject in every batch (keys are clustered per
        subject); at SQLite's default of 1,000 WAL pages nearly every commit then also ran a
        checkpoint, writing the same pages to the database file again and again. Every commit
        is still fsync'd to the WAL, so durability is unchanged.
        """
        con = compat.connection(self._cache)  # the pragma is per connection
        with self._translated():
            previous = int(con.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
            con.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
        try:
            yield
        finally:
            with self._translated():
                con.execute(f"PRAGMA wal_autocheckpoint={previous}")
                # Without blocking anyone: leave the WAL as short as other readers allow.
                con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def scrub(self, *, attempts: int = 20, wait: float = 0.05) -> ScrubResult:
        """Checkpoint the WAL into the database and truncate it to zero bytes.

        With ``secure_delete`` on, deleted cells in the database are zeroed on delete; the old
        page images that remain are in the WAL until it is checkpointed and reset. A reader
        holding a snapshot blocks that: after ``attempts`` tries the result is ``pending``.
        """
        if compat.transaction_open(self._cache):
            msg = "scrub cannot run inside a transaction"
            raise RuntimeError(msg)
        wal = self.directory / (compat.DB_NAME + "-wal")
        con = compat.connection(self._cache)
        with self._translated():
            # A TRUNCATE checkpoint waits on the busy handler for readers to finish; with the
            # store's long timeout one attempt could block for a minute. Poll briefly instead.
            con.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            try:
                for attempt in range(attempts):
                    checkpoint = con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    busy, log, checkpointed = checkpoint.fetchone()
                    wal_empty = not wal.exists() or wal.stat().st_size == 0
                    if busy == 0 and log == checkpointed and wal_empty:
                        return ScrubResult(status="done", detail="WAL checkpointed and truncated")
                    if attempt + 1 < attempts:
                        time.sleep(wait)
            finally:
                con.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
        return ScrubResult(
            status="pending",
            detail="another connection holds a read snapshot; WAL not yet truncated (retry)",
        )

    def integrity_check(self) -> list[str]:
        """Run SQLite's ``PRAGMA integrity_check``; return its findings (empty when sound)."""
        with self._translated():
            rows = compat.connection(self._cache).execute("PRAGMA integrity_check").fetchall()
        findings = [str(row[0]) for row in rows]
        return [] if findings == ["ok"] else findings

    def foreign_rows(self) -> dict[str, Any]:
        """Rows not in the one format this store writes, found without reading any of them.

        diskcache unpickles rows in its pickle mode and rows with pickled keys when they are
        read (CVE-2025-69872): whoever can write ``cache.db`` can plant such a row to run
        code. Reads here refuse them first; this finds them before anything reads them. Returns
        ``{"count", "prefixes", "reasons"}``: how many, by key prefix (a key's first segment
        when it is at most two characters, like ``s/``; never the rest of the key) and by reason
        (``pickle mode``, ``not a text key``, ``side file``, …). Values are not selected.
        """
        count = 0
        prefixes: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        with self._translated():
            cursor = compat.execute(self._cache, compat.SELECT_FOREIGN)
            for key, raw, mode, filename, value_type in cursor:
                count += 1
                prefixes[_key_prefix(key, raw)] += 1
                reasons.update(_foreign_reasons(key, raw, mode, filename, value_type))
        return {
            "count": count,
            "prefixes": dict(sorted(prefixes.items())),
            "reasons": dict(sorted(reasons.items())),
        }

    def migrate(self) -> tuple[int, int]:
        """Apply pending schema migrations (idempotent); return the version before and after.

        Opening a store already does this. The version lives in SQLite's ``user_version``
        header field, which diskcache leaves alone; 0 (never recorded) is version 1, the layout
        every DiskStore so far has had, so recording it is all a migration does yet. A store of
        a newer version is refused with :class:`ConfigurationError`.
        """
        with self._translated():
            con = compat.connection(self._cache)
            recorded = int(con.execute("PRAGMA user_version").fetchone()[0])
            if recorded > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"the store's schema is version {recorded}, newer than this personakit's "
                    f"({SCHEMA_VERSION}): upgrade personakit before opening it"
                )
            if recorded < SCHEMA_VERSION:
                # A literal: PRAGMA takes no parameters, and the value is our own constant.
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        return recorded, SCHEMA_VERSION

    def close(self) -> None:
        """Close this thread's connection. Idempotent."""
        vars(self._local).pop("con", None)
        self._cache.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except _backend_errors() as exc:
            raise StorageError(f"store operation failed: {type(exc).__name__}") from exc
