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
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from attrs import define

from personakit.exceptions import ConfigurationError, StorageError
from personakit.storage._base import (
    ScrubResult,
    check_key,
    check_value,
    prefix_upper_bound,
)

if TYPE_CHECKING:
    # Annotations only: at run time psycopg is imported inside PostgresStore, on first use.
    import psycopg
    from psycopg import errors, sql

__all__ = ["PostgresStore"]

_TABLE_RE: Final = re.compile(r"(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}")
_MAX_NAMESPACE_LENGTH: Final = 255
_SCAN_PAGE: Final = 500
_CONNECT_TIMEOUT_SECONDS: Final = 10
# PostgreSQL's lock_timeout is an int of milliseconds: about 24 days at most.
_MAX_TIMEOUT_SECONDS: Final = 2_147_483
# The vault's layout: a subject's records live under "s/<subject>/" (personakit._vault).
_SUBJECT_PREFIX: Final = "s/"
# One lock for creating any personakit table, so two first openers don't race the DDL.
_DDL_LOCK_KEY: Final = int.from_bytes(
    hashlib.blake2b(b"personakit:ddl", digest_size=8).digest(), "big", signed=True
)
_LOCK_NOT_AVAILABLE: Final = "55P03"
_QUERY_CANCELED: Final = "57014"

_EXPECTED_COLUMNS: Final = {
    "namespace": ("text", "C", True),
    "key": ("text", "C", True),
    "subject": ("text", "C", True),
    "value": ("bytea", None, True),
}

_SCRUB_DONE: Final = (
    "VACUUM removed deleted row versions from the table, its TOAST table and index; free space "
    "inside pages is not zeroed, and WAL segments, replicas and backups are beyond its reach: "
    "erased values there stay unreadable because erasure shreds their keys (crypto-shredding)"
)


@define
class _Session:
    """One thread's connection, and how deep that thread is in :meth:`transaction` blocks."""

    conn: psycopg.Connection[tuple[Any, ...]]
    depth: int = 0


@define(frozen=True)
class _Statements:
    """The store's SQL, rendered once for its table and lock key."""

    get: bytes
    get_many: bytes
    put: bytes
    put_locked: bytes
    delete: bytes
    begin: bytes
    vacuum: bytes
    dead_tuples: bytes
    # keyed by (first page, has an upper bound, fixes the subject)
    scan: dict[tuple[bool, bool, bool], bytes]
    # keyed by (has an upper bound, fixes the subject)
    delete_range: dict[tuple[bool, bool], bytes]


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
        ):
            raise ConfigurationError(
                f"namespace must be a non-empty string of at most {_MAX_NAMESPACE_LENGTH} "
                "characters, without NUL"
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
        self._dsn = dsn
        self._connect_options: dict[str, Any] = {"client_encoding": "UTF8"}
        if "connect_timeout" not in params:
            self._connect_options["connect_timeout"] = _CONNECT_TIMEOUT_SECONDS
        if "application_name" not in params:
            self._connect_options["application_name"] = "personakit"
        self._lock_timeout_ms = str(max(1, round(timeout * 1000)))
        self._error: type[psycopg.Error] = psycopg.Error
        self._in_error = psycopg.pq.TransactionStatus.INERROR
        self._identifier = sql.Identifier(*table.split("."))
        self._guard = threading.Lock()
        self._local = threading.local()
        self._sessions: dict[threading.Thread, _Session] = {}
        self._inherited: list[_Session] = []
        self._pid = os.getpid()
        self._closed = False
        try:
            conn = self._session().conn
            info = conn.info
            self.database = f"{info.host}:{info.port}/{info.dbname}"
            canonical = self._prepare_table(conn)
            self._sql = _render(conn, self._identifier, _lock_key(canonical, namespace))
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        """Render with the server, table and namespace (never the password)."""
        return (
            f"PostgresStore(database={self.database!r}, table={self.table!r}, "
            f"namespace={self.namespace!r})"
        )

    # -- connections ------------------------------------------------------------------------

    def _session(self) -> _Session:
        session: _Session | None = getattr(self._local, "session", None)
        if session is not None and not session.conn.closed and self._pid == os.getpid():
            return session
        return self._new_session(session)

    def _new_session(self, old: _Session | None) -> _Session:
        if self._closed:
            msg = "store is closed"
            raise RuntimeError(msg)
        if self._pid != os.getpid():
            self._forget_parent_connections()
        elif old is not None and old.depth:
            # Never reconnect silently in the middle of a transaction: the writes before the
            # break are gone, and the rest would autocommit on their own.
            raise StorageError("connection lost inside a transaction; it was rolled back")
        session = _Session(self._connect())
        with self._guard:
            for thread in [t for t in self._sessions if not t.is_alive()]:
                self._sessions.pop(thread).conn.close()
            self._sessions[threading.current_thread()] = session
        self._local.session = session
        return session

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg  # noqa: PLC0415 (already loaded by __init__; kept local, see there)

        try:
            conn = psycopg.connect(self._dsn, autocommit=True, **self._connect_options)
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc
        try:
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (self._lock_timeout_ms,))
        except psycopg.Error as exc:
            conn.close()
            raise StorageError(f"cannot configure connection: {type(exc).__name__}") from exc
        return conn

    def _forget_parent_connections(self) -> None:
        # After fork the parent's connections share its sockets: closing them here would end
        # the parent's sessions, so keep them referenced (unused) and start afresh.
        with self._guard:
            self._inherited.extend(self._sessions.values())
            self._sessions = {}
        self._local = threading.local()
        self._pid = os.getpid()

    def _prepare_table(self, conn: psycopg.Connection[tuple[Any, ...]]) -> str:
        """Create the table if missing, verify its layout; return its schema-qualified name."""
        name = self._identifier.as_string(conn)
        with self._translated("cannot prepare table"):
            row = conn.execute("SELECT current_setting('server_encoding')").fetchone()
            if row is None or row[0] != "UTF8":
                raise StorageError(
                    "the database must use the UTF8 encoding (keys are compared as UTF-8)"
                )
            if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,):
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_KEY,))
                    if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,):
                        for statement in _create_table(self._identifier):
                            conn.execute(statement)
            columns = conn.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), co.collname,"
                " a.attnotnull FROM pg_attribute a"
                " LEFT JOIN pg_collation co ON co.oid = a.attcollation"
                " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
                (name,),
            ).fetchall()
            found = {
                column: (kind, collation, notnull) for column, kind, collation, notnull in columns
            }
            if found != _EXPECTED_COLUMNS:
                raise StorageError(
                    "table exists but its layout is not personakit's (columns namespace, key, "
                    'subject: text COLLATE "C" NOT NULL; value: bytea NOT NULL)'
                )
            row = conn.execute(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s::regclass",
                (name,),
            ).fetchone()
        assert row is not None
        return str(row[0])

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except self._error as exc:
            raise StorageError(f"{what}: {type(exc).__name__}") from exc

    # -- the Store protocol ----------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """Return the value for ``key``, or None."""
        _check_text(check_key(key))
        conn = self._session().conn
        # try/except inline rather than _translated(): this is the store's hottest path.
        try:
            row = conn.execute(
                self._sql.get, (self.namespace, key, _subject_of(key)), binary=True
            ).fetchone()
        except self._error as exc:
            raise StorageError(f"store operation failed: {type(exc).__name__}") from exc
        return None if row is None else bytes(row[0])

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The values of those ``keys`` that exist, in one ``= ANY(…)`` query."""
        for key in keys:
            _check_text(check_key(key))
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
        _check_text(check_key(key))
        check_value(value)
        session = self._session()
        statement = self._sql.put if session.depth else self._sql.put_locked
        with self._translated("store operation failed"):
            session.conn.execute(statement, (self.namespace, key, _subject_of(key), value))

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Set several keys, all or nothing: one pipelined ``executemany`` in a transaction."""
        rows = []
        for key, value in items:
            _check_text(check_key(key))
            rows.append((self.namespace, key, _subject_of(key), check_value(value)))
        if not rows:
            return
        with self.transaction(), self._translated("store operation failed"):
            self._session().conn.cursor().executemany(self._sql.put, rows)

    def delete(self, key: str) -> bool:
        """Delete ``key``; return whether it existed."""
        _check_text(check_key(key))
        # A transaction (of one statement, if not inside one already) so the delete waits for
        # the store's lock like every other write.
        with self.transaction(), self._translated("store operation failed"):
            cursor = self._session().conn.execute(
                self._sql.delete, (self.namespace, key, _subject_of(key))
            )
            return cursor.rowcount > 0

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix`` (non-empty); return how many."""
        _check_text(check_key(prefix))
        upper = prefix_upper_bound(prefix)
        subject = _subject_of_prefix(prefix)
        statement = self._sql.delete_range[upper is not None, subject is not None]
        args = _range_args(self.namespace, prefix, upper, subject)
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
        _check_text(prefix)
        upper = prefix_upper_bound(prefix)
        subject = _subject_of_prefix(prefix)
        last: str | None = None
        while True:
            statement = self._sql.scan[last is None, upper is not None, subject is not None]
            args = _range_args(self.namespace, prefix if last is None else last, upper, subject)
            with self._translated("store operation failed"):
                rows = self._session().conn.execute(statement, args, binary=True).fetchall()
            for key, value in rows:
                yield str(key), bytes(value)
            if len(rows) < _SCAN_PAGE:
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
        self._begin(session)
        session.depth = 1
        try:
            yield
        except BaseException:
            session.depth = 0
            self._rollback(session)
            raise
        session.depth = 0
        self._commit(session)

    def _begin(self, session: _Session) -> None:
        conn = session.conn
        try:
            conn.execute(self._sql.begin)
        except self._error as exc:
            self._rollback(session)
            raise StorageError(f"cannot begin transaction: {type(exc).__name__}") from exc

    def _commit(self, session: _Session) -> None:
        conn = session.conn
        try:
            if conn.info.transaction_status == self._in_error:
                # PostgreSQL answers COMMIT of a failed transaction with a silent ROLLBACK.
                conn.execute(b"ROLLBACK")
                raise StorageError(
                    "transaction rolled back: a statement in it failed (the error was caught "
                    "inside the transaction)"
                )
            conn.execute(b"COMMIT")
        except self._error as exc:
            raise StorageError(f"commit failed: {type(exc).__name__}") from exc

    def _rollback(self, session: _Session) -> None:
        try:
            session.conn.execute(b"ROLLBACK")
        except self._error:
            # The caller's exception is the one to report. A connection that cannot roll back
            # is broken; the server rolls back its transaction when it goes, so close it and
            # let the next call connect afresh.
            session.conn.close()

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
        with self._guard:
            self._closed = True
            sessions = list(self._sessions.values()) if self._pid == os.getpid() else []
            self._sessions = {}
        for session in sessions:
            session.conn.close()


def _check_text(key: str) -> None:
    if "\x00" in key:
        msg = "store keys cannot contain NUL on PostgreSQL"
        raise ValueError(msg)


def _subject_of(key: str) -> str:
    """The subject a key belongs to: ``x`` for ``s/x/...``, else ``""`` (mirrored in SQL)."""
    if key.startswith(_SUBJECT_PREFIX):
        end = key.find("/", len(_SUBJECT_PREFIX))
        if end > len(_SUBJECT_PREFIX):
            return key[len(_SUBJECT_PREFIX) : end]
    return ""


def _subject_of_prefix(prefix: str) -> str | None:
    """The subject of every key starting with ``prefix``, or None when they can differ."""
    if prefix.startswith(_SUBJECT_PREFIX):
        if "/" in prefix[len(_SUBJECT_PREFIX) :]:
            return _subject_of(prefix)
        return None  # "s/sub_ab" matches "s/sub_ab/…" and "s/sub_abc/…"
    if _SUBJECT_PREFIX.startswith(prefix):
        return None  # "" and "s" match subject keys and others
    return ""


def _range_args(
    namespace: str, lower: str, upper: str | None, subject: str | None
) -> Sequence[str]:
    args = [namespace, lower]
    if upper is not None:
        args.append(upper)
    if subject is not None:
        args.append(subject)
    return args


def _lock_key(table: str, namespace: str) -> int:
    """A stable signed 64-bit advisory lock key for one store (table and namespace)."""
    digest = hashlib.blake2b(
        b"personakit:store\x00" + table.encode() + b"\x00" + namespace.encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def _create_table(table: sql.Identifier) -> list[sql.Composed]:
    from psycopg import sql  # noqa: PLC0415 (lazy, see PostgresStore.__init__)

    return [
        sql.SQL(
            "CREATE TABLE {table} ("
            ' namespace text COLLATE "C" NOT NULL,'
            ' key text COLLATE "C" NOT NULL,'
            ' subject text COLLATE "C" NOT NULL,'
            " value bytea NOT NULL,"
            " PRIMARY KEY (namespace, key, subject),"
            " CHECK (subject = CASE"
            "  WHEN left(key, 2) = 's/' AND strpos(substr(key, 3), '/') > 1"
            "  THEN substr(key, 3, strpos(substr(key, 3), '/') - 1)"
            "  ELSE '' END))"
        ).format(table=table),
        # Values are ciphertext: trying to compress them only burns CPU.
        sql.SQL("ALTER TABLE {table} ALTER COLUMN value SET STORAGE EXTERNAL").format(table=table),
    ]


def _render(
    conn: psycopg.Connection[tuple[Any, ...]], table: sql.Identifier, lock_key: int
) -> _Statements:
    from psycopg import sql  # noqa: PLC0415 (lazy, see PostgresStore.__init__)

    def render(text: str, **parts: sql.Composable) -> bytes:
        return sql.SQL(text).format(table=table, **parts).as_bytes(conn)

    lock = sql.Literal(lock_key)
    upsert = sql.SQL("ON CONFLICT (namespace, key, subject) DO UPDATE SET value = EXCLUDED.value")
    scan: dict[tuple[bool, bool, bool], bytes] = {}
    delete_range: dict[tuple[bool, bool], bytes] = {}
    for first, bounded, by_subject in itertools.product((True, False), repeat=3):
        conditions = [sql.SQL("namespace = %s"), sql.SQL("key >= %s" if first else "key > %s")]
        if bounded:
            conditions.append(sql.SQL("key < %s"))
        if by_subject:
            conditions.append(sql.SQL("subject = %s"))
        where = sql.SQL(" AND ").join(conditions)
        scan[first, bounded, by_subject] = render(
            "SELECT key, value FROM {table} WHERE {where} ORDER BY key LIMIT {page}",
            where=where,
            page=sql.Literal(_SCAN_PAGE),
        )
        if first:
            delete_range[bounded, by_subject] = render(
                "DELETE FROM {table} WHERE {where}", where=where
            )
    return _Statements(
        get=render("SELECT value FROM {table} WHERE namespace = %s AND key = %s AND subject = %s"),
        get_many=render("SELECT key, value FROM {table} WHERE namespace = %s AND key = ANY(%s)"),
        put=render(
            "INSERT INTO {table} (namespace, key, subject, value) VALUES (%s, %s, %s, %s) {upsert}",
            upsert=upsert,
        ),
        put_locked=render(
            "INSERT INTO {table} (namespace, key, subject, value) SELECT %s, %s, %s, %s"
            " FROM (SELECT pg_advisory_xact_lock({lock})) AS advisory {upsert}",
            lock=lock,
            upsert=upsert,
        ),
        delete=render("DELETE FROM {table} WHERE namespace = %s AND key = %s AND subject = %s"),
        begin=render(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({lock})", lock=lock
        ),
        vacuum=render("VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON) {table}"),
        dead_tuples=render(
            "SELECT current_setting('track_counts'), coalesce(sum(s.n_dead_tup), 0)"
            " FROM pg_class c JOIN pg_stat_all_tables s ON s.relid IN (c.oid, c.reltoastrelid)"
            " WHERE c.oid = {name}::regclass",
            name=sql.Literal(table.as_string(conn)),
        ),
        scan=scan,
        delete_range=delete_range,
    )
