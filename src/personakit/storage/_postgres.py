"""The scale-out store: PostgreSQL (12 or later) through psycopg 3.

psycopg is imported on first use, not with this module, so ``import personakit`` stays free of
it; without the ``postgres`` extra, constructing a :class:`PostgresStore` raises
:class:`~personakit.exceptions.ConfigurationError`.

Layout
------
One table (``personakit_kv`` by default) holds any number of stores, each in its own
``namespace`` (:meth:`Personakit.open <personakit.Personakit.open>` uses the tenant)::

    namespace  text  COLLATE "C"  NOT NULL
    key        text  COLLATE "C"  NOT NULL
    subject    text  COLLATE "C"  NOT NULL   -- "sub_x" for keys "s/sub_x/...", "" otherwise
    value      bytea              NOT NULL   -- STORAGE EXTERNAL: ciphertext does not compress
    PRIMARY KEY (namespace, key, subject)
    CHECK (subject is derived from key, as above)

``COLLATE "C"`` compares UTF-8 bytes, which is code-point order, so ``ORDER BY key`` and the
prefix range ``key >= prefix AND key < prefix_upper_bound(prefix)`` behave exactly as in the
other backends. The database must use the UTF8 encoding (checked at open).

Partitioning by subject
-----------------------
``subject`` is a function of ``key``, so adding it to the primary key changes no uniqueness,
but it makes the table distributable by subject: Citus (and native hash partitioning) require
the distribution column in every unique constraint, and reject NULL in it, which is why keys
outside a subject get ``""`` rather than NULL. ``subject`` comes last in the primary key, so the
one index serves point reads and ordered prefix ranges alike. Every statement whose key or
prefix fixes the subject also filters on ``subject =``, so a distributed table routes it to a
single shard: a subject's reads, export and erasure touch one node. Everything outside subjects
(the audit chain, identity indexes) lives under ``""``, one shard. To distribute::

    SELECT create_distributed_table('personakit_kv', 'subject');

Advisory locks (below) live on the node that takes them, so on Citus every client must connect
through the coordinator, not to workers directly.

Transactions and locking
------------------------
Each thread has its own connection, in autocommit mode: a call outside :meth:`transaction`
commits on its own. :meth:`PostgresStore.transaction` runs ``BEGIN ISOLATION LEVEL READ
COMMITTED`` and takes ``pg_advisory_xact_lock`` on a hash of the table and namespace, held until
COMMIT or ROLLBACK. Nested calls join the outer transaction; reads inside it see its writes.

The lock serialises every transaction of one store, across threads, processes and hosts, like
SQLite's ``BEGIN IMMEDIATE``: personakit's read-modify-write steps (the audit head, identity
links, key creation) can then never lose an update. Single writes outside a transaction take
the same lock while they run, so they cannot slip between a transaction's read and its write
either. Plain reads take no lock and never wait. READ COMMITTED is deliberate: each statement
sees everything committed before it, including the previous lock holder's commit (under
REPEATABLE READ the snapshot could predate the lock wait).

The price is that a store's writers run one at a time: write throughput is bounded by how long
transactions hold the lock, and a remote client pays a round trip per statement while holding
it. SERIALIZABLE would let writers run in parallel, but a serialisation failure must be retried
by re-running the transaction body, which a caller's ``with`` block cannot do. Waiting longer
than ``timeout`` for the lock (or a row) raises :class:`~personakit.exceptions.StorageError`.

Scrub
-----
A deleted row stays in the table file as a dead tuple until VACUUM. :meth:`PostgresStore.scrub`
runs ``VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON)`` on the table (and so its TOAST table and index),
then asks the statistics whether any dead row versions remain (an open snapshot, a prepared
transaction or a replication slot can keep them). The check covers the whole table, so other
namespaces' fresh deletes can make it ``pending`` for a moment. Beyond VACUUM's reach are free
space inside pages (PostgreSQL does not zero it), WAL segments, replicas and backups: there,
erased values stay unreadable because erasure shreds their subject's key (crypto-shredding),
which lives in a separate key store.

Errors from psycopg become :class:`~personakit.exceptions.StorageError` naming the psycopg
exception type only: messages never carry keys, values or connection strings.

The table and its SQL are in :mod:`personakit.storage._postgres_schema`, the per-thread
connections and their transactions in :mod:`personakit.storage._postgres_sessions`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from personakit.exceptions import ConfigurationError, StorageError
from personakit.storage._base import (
    ScrubResult,
    check_key,
    check_value,
    prefix_upper_bound,
)
from personakit.storage._postgres_schema import (
    SCAN_PAGE,
    Statements,
    check_text,
    lock_key,
    prepare_table,
    range_args,
    render,
    subject_of,
    subject_of_prefix,
)
from personakit.storage._postgres_sessions import Session, Sessions

if TYPE_CHECKING:
    # Annotations only: at run time psycopg is imported inside PostgresStore, on first use.
    import psycopg
    from psycopg import errors

__all__ = ["PostgresStore"]

_TABLE_RE: Final = re.compile(r"(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}")
_MAX_NAMESPACE_LENGTH: Final = 255
_CONNECT_TIMEOUT_SECONDS: Final = 10
# PostgreSQL's lock_timeout is an int of milliseconds: about 24 days at most.
_MAX_TIMEOUT_SECONDS: Final = 2_147_483
_LOCK_NOT_AVAILABLE: Final = "55P03"
_QUERY_CANCELED: Final = "57014"

_SCRUB_DONE: Final = (
    "VACUUM removed deleted row versions from the table, its TOAST table and index; free space "
    "inside pages is not zeroed, and WAL segments, replicas and backups are beyond its reach: "
    "erased values there stay unreadable because erasure shreds their keys (crypto-shredding)"
)


class PostgresStore:
    """A :class:`~personakit.storage.Store` in a PostgreSQL table, shared by many hosts.

    ``dsn`` is a libpq connection string or ``postgresql://`` URL. ``table`` (optionally
    ``schema.table``, lowercase) is created if missing and its layout verified; ``namespace``
    separates stores sharing it. ``timeout`` bounds how long a call waits for another writer's
    lock. See the module documentation for the layout, locking and scrub guarantees.
    ``database`` (``host:port/dbname``), ``table`` and ``namespace`` name the store in reprs
    and logs; the connection string itself is never shown.

    Thread-safe: each thread uses its own connection. :meth:`close` closes all of them.
    """

    def __init__(
        self,
        dsn: str,
        *,
        table: str = "personakit_kv",
        namespace: str = "default",
        timeout: float = 60.0,
    ) -> None:
        """Connect, create the table if needed and verify its layout."""
        if type(table) is not str or not _TABLE_RE.fullmatch(table):
            raise ConfigurationError(
                "table must be a lowercase SQL identifier, optionally schema-qualified "
                "(like 'personakit_kv' or 'app.personakit_kv')"
            )
        if (
            type(namespace) is not str
            or not 0 < len(namespace) <= _MAX_NAMESPACE_LENGTH
            or "\x00" in namespace
            or not _is_utf8(namespace)
        ):
            raise ConfigurationError(
                f"namespace must be a non-empty string of at most {_MAX_NAMESPACE_LENGTH} "
                "characters of Unicode text, without NUL"
            )
        if type(dsn) is not str:
            raise ConfigurationError("dsn must be a str: a connection string or postgresql:// URL")
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not 0 < timeout <= _MAX_TIMEOUT_SECONDS
        ):
            raise ConfigurationError(
                f"timeout must be a positive number of seconds, at most {_MAX_TIMEOUT_SECONDS}"
            )
        try:
            import psycopg  # noqa: PLC0415 (lazy: `import personakit` must not load psycopg)
            from psycopg import sql  # noqa: PLC0415
            from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415
        except ImportError as exc:
            raise ConfigurationError(
                "PostgresStore needs psycopg 3: install the 'postgres' extra "
                "(pip install 'personakit[postgres]')"
            ) from exc
        try:
            params = conninfo_to_dict(dsn)
        except (psycopg.Error, TypeError):
            # from None: libpq's parse error quotes the connection string, password included.
            raise ConfigurationError(
                "not a valid PostgreSQL connection string or postgresql:// URL"
            ) from None
        self.table = table
        self.namespace = namespace
        options: dict[str, Any] = {"client_encoding": "UTF8"}
        if "connect_timeout" not in params:
            options["connect_timeout"] = _CONNECT_TIMEOUT_SECONDS
        if "application_name" not in params:
            options["application_name"] = "personakit"
        self._sessions = Sessions(
            dsn, options=options, lock_timeout_ms=str(max(1, round(timeout * 1000)))
        )
        self._error: type[psycopg.Error] = self._sessions.error
        identifier = sql.Identifier(*table.split("."))
        try:
            conn = self._session().conn
            info = conn.info
            self.database = f"{info.host}:{info.port}/{info.dbname}"
            canonical = prepare_table(conn, identifier)
            self._sql: Statements = render(conn, identifier, lock_key(canonical, namespace))
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        """Render with the server, table and namespace (never the password)."""
        return (
            f"PostgresStore(database={self.database!r}, table={self.table!r}, "
            f"namespace={self.namespace!r})"
        )

    def _session(self) -> Session:
        return self._sessions.current()

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except self._error as exc:
            raise StorageError(f"{what}: {type(exc).__name__}") from exc

    # -- the Store protocol ----------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """Return the value for ``key``, or None."""
        check_text(check_key(key))
        conn = self._session().conn
        # try/except inline rather than _translated(): this is the store's hottest path.
        try:
            row = conn.execute(
                self._sql.get, (self.namespace, key, subject_of(key)), binary=True
            ).fetchone()
        except self._error as exc:
            raise StorageError(f"store operation failed: {type(exc).__name__}") from exc
        return None if row is None else bytes(row[0])

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The values of those ``keys`` that exist, in one ``= ANY(…)`` query."""
        for key in keys:
            check_text(check_key(key))
        if not keys:
            return {}
        conn = self._session().conn
        try:
            rows = conn.execute(
                self._sql.get_many, (self.namespace, list(dict.fromkeys(keys))), binary=True
            ).fetchall()
        except self._error as exc:
            raise StorageError(f"store operation failed: {type(exc).__name__}") from exc
        return {str(key): bytes(value) for key, value in rows}

    def put(self, key: str, value: bytes) -> None:
        """Set ``key`` to ``value``."""
        check_text(check_key(key))
        check_value(value)
        session = self._session()
        statement = self._sql.put if session.depth else self._sql.put_locked
        with self._translated("store operation failed"):
            session.conn.execute(statement, (self.namespace, key, subject_of(key), value))

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Set several keys, all or nothing: one pipelined ``executemany`` in a transaction."""
        rows = []
        for key, value in items:
            check_text(check_key(key))
            rows.append((self.namespace, key, subject_of(key), check_value(value)))
        if not rows:
            return
        with self.transaction(), self._translated("store operation failed"):
            self._session().conn.cursor().executemany(self._sql.put, rows)

    def delete(self, key: str) -> bool:
        """Delete ``key``; return whether it existed."""
        check_text(check_key(key))
        # A transaction (of one statement, if not inside one already) so the delete waits for
        # the store's lock like every other write.
        with self.transaction(), self._translated("store operation failed"):
            cursor = self._session().conn.execute(
                self._sql.delete, (self.namespace, key, subject_of(key))
            )
            return cursor.rowcount > 0

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix`` (non-empty); return how many."""
        check_text(check_key(prefix))
        upper = prefix_upper_bound(prefix)
        subject = subject_of_prefix(prefix)
        statement = self._sql.delete_range[upper is not None, subject is not None]
        args = range_args(self.namespace, prefix, upper, subject)
        with self.transaction(), self._translated("store operation failed"):
            return self._session().conn.execute(statement, args).rowcount

    def scan(self, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        """Yield ``(key, value)`` for keys starting with ``prefix``, in key order.

        Reads pages of 500 rows (``key > last``), so a large prefix is never loaded at once and
        the caller may write to the store while iterating.
        """
        if type(prefix) is not str:
            msg = f"store keys are str, not {type(prefix).__name__}"
            raise TypeError(msg)
        check_text(prefix)
        upper = prefix_upper_bound(prefix)
        subject = subject_of_prefix(prefix)
        last: str | None = None
        while True:
            statement = self._sql.scan[last is None, upper is not None, subject is not None]
            args = range_args(self.namespace, prefix if last is None else last, upper, subject)
            with self._translated("store operation failed"):
                rows = self._session().conn.execute(statement, args, binary=True).fetchall()
            for key, value in rows:
                yield str(key), bytes(value)
            if len(rows) < SCAN_PAGE:
                return
            last = str(rows[-1][0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes in one PostgreSQL transaction holding the store's lock.

        Nested calls join the outermost one; an exception rolls back everything since it began.
        """
        session = self._session()
        if session.depth:
            session.depth += 1
            try:
                yield
            finally:
                session.depth -= 1
            return
        self._sessions.begin(session, self._sql.begin)
        session.depth = 1
        try:
            yield
        except BaseException:
            session.depth = 0
            self._sessions.rollback(session)
            raise
        session.depth = 0
        self._sessions.commit(session)

    def scrub(self, *, attempts: int = 3, wait: float = 0.5) -> ScrubResult:
        """VACUUM the table, then check that no deleted row version is left in it.

        ``pending`` when VACUUM could not take the table's lock (autovacuum or a schema change
        running), was cancelled, skipped the table (this role does not own it), or left dead
        row versions that an open snapshot still needs; the transient cases are retried
        ``attempts`` times, ``wait`` seconds apart. Raises RuntimeError inside a transaction
        (VACUUM cannot run in one).
        """
        session = self._session()
        if session.depth:
            msg = "scrub cannot run inside a transaction"
            raise RuntimeError(msg)
        conn = session.conn
        warnings: list[str] = []

        def on_notice(diagnostic: errors.Diagnostic) -> None:
            if diagnostic.severity_nonlocalized == "WARNING":
                warnings.append(diagnostic.sqlstate or "")

        conn.add_notice_handler(on_notice)
        reason = "no attempt was made"
        try:
            for attempt in range(attempts):
                if attempt:
                    time.sleep(wait)
                warnings.clear()
                outcome = self._vacuum_once(conn, warnings)
                if isinstance(outcome, ScrubResult):
                    return outcome
                reason = outcome
        finally:
            conn.remove_notice_handler(on_notice)
        return ScrubResult(status="pending", detail=reason)

    def _vacuum_once(
        self, conn: psycopg.Connection[tuple[Any, ...]], warnings: list[str]
    ) -> ScrubResult | str:
        """One VACUUM and check: a final result, or why a retry may succeed."""
        try:
            conn.execute(self._sql.vacuum)
        except self._error as exc:
            if exc.sqlstate == _QUERY_CANCELED:
                return "VACUUM was cancelled (statement_timeout?); retry"
            raise StorageError(f"scrub failed: {type(exc).__name__}") from exc
        if _LOCK_NOT_AVAILABLE in warnings:
            return "the table is locked by autovacuum, a VACUUM or a schema change; retry"
        if warnings:
            return ScrubResult(
                status="pending",
                detail="VACUUM skipped the table: only its owner (or a superuser) can vacuum it",
            )
        with self._translated("scrub failed"):
            row = conn.execute(self._sql.dead_tuples).fetchone()
        assert row is not None
        if row[0] != "on":
            return ScrubResult(
                status="pending",
                detail="track_counts is off, so whether VACUUM removed every deleted row "
                "version cannot be checked",
            )
        dead = int(row[1])
        if dead:
            return (
                f"{dead} deleted row version(s) are still needed by an open transaction, a "
                "prepared transaction or a replication slot; retry once it ends"
            )
        return ScrubResult(status="done", detail=_SCRUB_DONE)

    def close(self) -> None:
        """Close every thread's connection. Idempotent; the store is unusable afterwards."""
        self._sessions.close()


def _is_utf8(text: str) -> bool:
    # A lone surrogate (a non-UTF-8 byte of a command line, decoded by os.fsdecode) has no
    # UTF-8 form: PostgreSQL could not store it, nor could the lock key be derived from it.
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
