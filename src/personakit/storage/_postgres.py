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
through the coordinator, not to workers directly. Schema versions are recorded per table in
``personakit_migrations`` (:mod:`personakit.storage._postgres_migrations`).

Transactions and locking
------------------------
Connections come from a pool (:mod:`personakit.storage._postgres_sessions`), in autocommit
mode: a call outside :meth:`transaction` commits on its own. :meth:`PostgresStore.transaction`
runs ``BEGIN ISOLATION LEVEL READ COMMITTED`` on one connection until COMMIT or ROLLBACK; nested
calls join it and reads inside it see its writes.

There is no store-wide lock. A transaction takes ``pg_advisory_xact_lock`` on the *domain* of
each key it reads or writes, on first touch (:mod:`personakit.storage._postgres_locks`): the
subject for ``s/<subject>/…``, the audit chain for ``a/…``, the subject an identity index entry
points to (or the entry, while absent), else the key. So writers of different subjects run in
parallel, while every read-modify-write (check-and-create of a subject, consent append plus
state rewrite, the audit head) stays serial for what it touches. Single writes outside a
transaction are one statement that takes their key's lock while it runs. Plain reads outside a
transaction take no lock and never wait. READ COMMITTED is deliberate: each statement sees
everything committed before it, including the previous lock holder's commit.

A transaction remembers what it read under its locks and what it wrote (nobody else can change
those until COMMIT) and sends its writes pipelined with COMMIT, or before a scan or range
delete of its own; the second time a record name misses for a held subject, it is read for
every held subject at once; a blind write outside subjects takes its lock with the flush that
sends it (:mod:`personakit.storage._postgres_reads`).

One call's domains are locked in ascending order inside a savepoint. A deadlock (two
transactions growing their lock sets in opposite orders) rolls back to it, releasing just that
call's locks so the other transaction finishes, and the call retries with backoff; deadlocks
and serialisation failures of single writes are retried too. Waiting longer than ``timeout``
for a lock or a pooled connection raises :class:`~personakit.exceptions.StorageError`, as does a
statement running past ``statement_timeout``.

Scrub
-----
:meth:`PostgresStore.scrub` VACUUMs the table and checks that no deleted row version is left
(details and limits in :mod:`personakit.storage._postgres_scrub`).

Errors from psycopg become :class:`~personakit.exceptions.StorageError` naming the psycopg
exception type only: messages never carry keys, values or connection strings.

The table and its SQL are in :mod:`personakit.storage._postgres_schema`, the per-thread
connections and their transactions in :mod:`personakit.storage._postgres_sessions`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, TypeVar

from personakit.exceptions import ConfigurationError, StorageConflict, StorageError
from personakit.storage._base import (
    ScrubResult,
    check_key,
    check_value,
    prefix_upper_bound,
)
from personakit.storage._postgres_locks import (
    LockIds,
    domain_of,
    domain_of_prefix,
)
from personakit.storage._postgres_reads import Locking, is_index, pointee
from personakit.storage._postgres_schema import (
    SCAN_PAGE,
    Statements,
    check_options,
    check_text,
    prepare_table,
    range_args,
    render,
    subject_of,
    subject_of_prefix,
)
from personakit.storage._postgres_scrub import scrub_table
from personakit.storage._postgres_sessions import Session, Sessions, send_pending

if TYPE_CHECKING:
    # Annotations only: at run time psycopg is imported inside PostgresStore, on first use.
    import psycopg

__all__ = ["PostgresStore"]

_CONNECT_TIMEOUT_SECONDS: Final = 10
# serialization_failure and deadlock_detected: the transaction that got it can simply rerun.
_RETRYABLE: Final = frozenset({"40001", "40P01"})
_RETRIES: Final = 5
_BACKOFF_SECONDS: Final = 0.02

_T = TypeVar("_T")


class PostgresStore(Locking):
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
        statement_timeout: float = 300.0,
        pool_size: int = 10,
    ) -> None:
        """Connect, create the table if needed and verify its layout and schema version."""
        check_options(table, namespace, dsn, timeout, statement_timeout, pool_size)
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
            dsn,
            options=options,
            settings={
                "lock_timeout": str(max(1, round(timeout * 1000))),
                "statement_timeout": str(max(1, round(statement_timeout * 1000))),
            },
            pool_size=pool_size,
            wait=float(timeout),
        )
        self._error: type[psycopg.Error] = self._sessions.error
        identifier = sql.Identifier(*table.split("."))
        # Setup runs on a connection of its own: the pool opens on first use, so a store that
        # cannot be prepared never starts one.
        conn = self._sessions.connect()
        try:
            info = conn.info
            self.database = f"{info.host}:{info.port}/{info.dbname}"
            canonical, _ = prepare_table(conn, identifier)
            self._sql: Statements = render(conn, identifier)
        except BaseException:
            self.close()
            raise
        finally:
            conn.close()
        self._identifier = identifier
        self._lock_id = LockIds(canonical, namespace)

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
            if getattr(exc, "sqlstate", None) in _RETRYABLE:
                raise StorageConflict(f"{what}: {type(exc).__name__}") from exc
            raise StorageError(f"{what}: {type(exc).__name__}") from exc

    # -- the Store protocol ----------------------------------------------------------------

    def _fetch(self, conn: psycopg.Connection[tuple[Any, ...]], key: str) -> bytes | None:
        row = conn.execute(
            self._sql.get, (self.namespace, key, subject_of(key)), binary=True
        ).fetchone()
        return None if row is None else bytes(row[0])

    def _atomically(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` in the current transaction, or in its own, retried on deadlock."""
        if self._session().depth:
            return work()
        for attempt in range(_RETRIES):
            try:
                with self.transaction():
                    return work()
            except StorageError as exc:
                if attempt + 1 == _RETRIES or not isinstance(exc, StorageConflict):
                    raise
            # Exponential backoff with jitter (not a secret: random is fine), so the
            # transactions that deadlocked do not meet again at once.
            time.sleep(_BACKOFF_SECONDS * 2**attempt * (1 + random.random()))  # noqa: S311
        raise AssertionError  # pragma: no cover (the loop returns or raises)

    def _flush(self, session: Session) -> None:
        send_pending(session, self.namespace, self._sql)

    # -- the Store protocol ----------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """Return the value for ``key``, or None.

        Inside a transaction the read locks the key's domain (its subject, the audit chain or
        the key), like ``SELECT … FOR UPDATE``, so a read-modify-write cannot lose an update.
        """
        check_text(check_key(key))
        session = self._session()
        with self._translated("store operation failed"):
            if not session.depth:
                with self._sessions.connection(session) as conn:
                    return self._fetch(conn, key)
            if key in session.known:  # read under its lock, or written, in this transaction
                return session.known[key]
            if is_index(key):
                return self._lock_keys(session, [key]).get(key)
            lock = self._lock_id(domain_of(key))
            subject = subject_of(key)
            if lock not in session.held:  # first touch: lock and read in one round trip
                value = self._acquire(session, [lock], [key]).get(key)
                if subject:
                    session.subjects.add(subject)
            elif subject:
                return self._read_ahead(session, key, subject)
            else:
                assert session.conn is not None
                value = self._fetch(session.conn, key)
            session.known[key] = value
            return value

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The values of those ``keys`` that exist, in one ``= ANY(…)`` query."""
        for key in keys:
            check_text(check_key(key))
        if not keys:
            return {}
        unique = list(dict.fromkeys(keys))
        session = self._session()
        with self._translated("store operation failed"):
            if session.depth:
                # Locked and read in one round trip, but only what the transaction does not
                # know yet; the rest comes from what it read or wrote.
                known = session.known
                missing = [key for key in unique if key not in known]
                if missing:
                    plain = [key for key in missing if not is_index(key)]
                    self._lock_keys(session, missing, read=plain)
                values: dict[str, bytes] = {}
                for key in unique:
                    value = known[key]
                    if value is not None:
                        values[key] = value
                return values
            with self._sessions.connection(session) as conn:
                rows = conn.execute(
                    self._sql.get_many, (self.namespace, unique), binary=True
                ).fetchall()
        return {str(key): bytes(value) for key, value in rows}

    def put(self, key: str, value: bytes) -> None:
        """Set ``key`` to ``value``."""
        check_text(check_key(key))
        check_value(value)
        session = self._session()
        if session.depth or is_index(key):

            def write() -> None:
                if not (key in session.known or subject_of(key) or is_index(key)):
                    # A blind write outside subjects (a segment index entry): its lock can
                    # wait for the flush that sends it, saving a round trip now.
                    session.later.add(self._lock_id(domain_of(key)))
                else:
                    self._lock_keys(session, [key], pointee(key, value))
                session.known[key] = session.pending[key] = value  # sent at latest with COMMIT

            with self._translated("store operation failed"):
                self._atomically(write)
            return
        # One statement that takes the key's lock while it runs: a single round trip.
        for attempt in range(_RETRIES):
            try:
                with self._translated("store operation failed"):
                    with self._sessions.connection(session) as conn:
                        conn.execute(
                            self._sql.put_locked,
                            (
                                self.namespace,
                                key,
                                subject_of(key),
                                value,
                                self._lock_id(domain_of(key)),
                            ),
                        )
                    return
            except StorageError as exc:
                if attempt + 1 == _RETRIES or not isinstance(exc, StorageConflict):
                    raise
            time.sleep(_BACKOFF_SECONDS * 2**attempt * (1 + random.random()))  # noqa: S311

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Set several keys, all or nothing, in a transaction (written with its COMMIT)."""
        rows = []
        for key, value in items:
            check_text(check_key(key))
            rows.append((key, check_value(value)))
        if not rows:
            return
        session = self._session()

        def write() -> None:
            pointees = [domain for key, value in rows for domain in pointee(key, value)]
            self._lock_keys(session, [key for key, _ in rows], pointees)
            for key, value in rows:  # sent at latest with COMMIT, in one pipelined round trip
                session.known[key] = session.pending[key] = value

        with self._translated("store operation failed"):
            self._atomically(write)

    def delete(self, key: str) -> bool:
        """Delete ``key``; return whether it existed."""
        check_text(check_key(key))
        session = self._session()

        def write() -> bool:
            self._lock_keys(session, [key])
            known = session.known
            if key in known:  # whether it exists is known: the delete can wait for COMMIT
                existed = known[key] is not None
                known[key] = session.pending[key] = None
                return existed
            assert session.conn is not None
            cursor = session.conn.execute(self._sql.delete, (self.namespace, key, subject_of(key)))
            known[key] = None
            return cursor.rowcount > 0

        with self._translated("store operation failed"):
            return self._atomically(write)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix`` (non-empty); return how many.

        A prefix inside one subject (``s/<subject>/…``) or the audit chain locks that domain;
        a broader one relies on the row locks its DELETE takes.
        """
        check_text(check_key(prefix))
        upper = prefix_upper_bound(prefix)
        subject = subject_of_prefix(prefix)
        statement = self._sql.delete_range[upper is not None, subject is not None]
        args = range_args(self.namespace, prefix, upper, subject)
        domain = domain_of_prefix(prefix)
        session = self._session()

        def write() -> int:
            if domain is not None:
                self._lock_keys(session, [], [domain])
            self._flush(session)
            assert session.conn is not None
            count = session.conn.execute(statement, args).rowcount
            known = session.known
            for key in [key for key in known if key.startswith(prefix)]:
                known[key] = None
            return count

        with self._translated("store operation failed"):
            return self._atomically(write)

    def scan(self, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        """Yield ``(key, value)`` for keys starting with ``prefix``, in key order.

        Reads pages of 500 rows (``key > last``), so a large prefix is never loaded at once and
        the caller may write to the store while iterating. Inside a transaction, a prefix
        within one subject (or the audit chain) locks it first, as :meth:`get` does.
        """
        if type(prefix) is not str:
            msg = f"store keys are str, not {type(prefix).__name__}"
            raise TypeError(msg)
        check_text(prefix)
        upper = prefix_upper_bound(prefix)
        subject = subject_of_prefix(prefix)
        domain = domain_of_prefix(prefix)
        session = self._session()
        if session.depth and domain is not None:
            with self._translated("store operation failed"):
                self._lock_keys(session, [], [domain])
        last: str | None = None
        while True:
            statement = self._sql.scan[last is None, upper is not None, subject is not None]
            args = range_args(self.namespace, prefix if last is None else last, upper, subject)
            with (
                self._translated("store operation failed"),
                self._sessions.connection(session) as conn,
            ):
                if session.depth:
                    self._flush(session)  # the scan must see the transaction's writes
                rows = conn.execute(statement, args, binary=True).fetchall()
            for key, value in rows:
                yield str(key), bytes(value)
            if len(rows) < SCAN_PAGE:
                return
            last = str(rows[-1][0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes in one PostgreSQL transaction, locking what it touches as it goes.

        Nested calls join the outermost one; an exception rolls back everything since it began.
        Locks are taken on first touch of a subject, the audit chain or a global key and held
        until the end (see the module documentation); a deadlock between two transactions
        aborts one of them with :class:`~personakit.exceptions.StorageError`.
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
        self._sessions.commit(session, lambda: self._flush(session))

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
        with self._sessions.connection(session) as conn:
            return scrub_table(conn, self._sql, self._error, attempts, wait)

    def migrate(self) -> tuple[int, int]:
        """Apply pending schema migrations (idempotent); return the version before and after.

        Opening a store already does this; ``personakit store migrate`` runs it as a deploy
        step. Safe from several hosts at once: migrations run under one advisory lock, each in
        one transaction with its record in ``personakit_migrations``.
        """
        conn = self._sessions.connect()
        try:
            return prepare_table(conn, self._identifier)[1]
        finally:
            conn.close()

    def close(self) -> None:
        """Drain and close the connection pool. Idempotent; the store is unusable afterwards."""
        self._sessions.close()
