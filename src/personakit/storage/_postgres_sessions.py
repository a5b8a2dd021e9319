"""Pooled connections and each thread's transaction, for the PostgresStore.

Connections come from a ``psycopg_pool.ConnectionPool`` (autocommit, with the store's
``lock_timeout`` and ``statement_timeout``). A call outside a transaction borrows one for the
call; a transaction keeps one from BEGIN to COMMIT or ROLLBACK, with the advisory locks it took
(:mod:`personakit.storage._postgres_locks`). A connection that broke is discarded by the pool,
never silently reused, and never replaced in the middle of a transaction. A forked child builds
its own pool and leaves its parent's sockets alone. :meth:`Sessions.close` drains the pool.

psycopg and psycopg_pool are imported when the store is built, never with this module.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from attrs import define, field

from personakit.exceptions import StorageConflict, StorageError
from personakit.storage._postgres_schema import subject_of

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

    from personakit.storage._postgres_schema import Statements

__all__ = ["Session", "Sessions", "send_pending"]

# How long close() lets borrowed connections come back before closing them anyway.
_DRAIN_SECONDS = 5.0
# serialization_failure and deadlock_detected: the transaction that got it can simply rerun.
_RETRYABLE = frozenset({"40001", "40P01"})


@define
class Session:
    """One thread's transaction: its connection (None outside one), depth and held locks.

    ``known`` holds the values this transaction knows (None: known absent), each read while
    its domain's lock was held or written by the transaction itself: until COMMIT nobody else
    may change them, so they are not read again. ``pending`` holds the writes not sent yet
    (None: a delete), sent in one pipelined round trip before a scan or a range delete reads
    or changes the table, and with COMMIT.
    """

    conn: psycopg.Connection[tuple[Any, ...]] | None = None
    depth: int = 0
    held: set[int] = field(factory=set)
    known: dict[str, bytes | None] = field(factory=dict)
    pending: dict[str, bytes | None] = field(factory=dict)
    #: Subjects whose lock the transaction holds, and how often it missed each record name
    #: (``<kind>/<name>`` of ``s/<subject>/<kind>/<name>``): see PostgresStore.get.
    subjects: set[str] = field(factory=set)
    misses: dict[str, int] = field(factory=dict)
    #: Locks of blind writes, taken when those writes are sent (see PostgresStore.put).
    later: set[int] = field(factory=set)


class Sessions:
    """The pooled connections of one store, and each thread's transaction."""

    def __init__(
        self,
        dsn: str,
        *,
        options: dict[str, Any],
        settings: dict[str, str],
        pool_size: int,
        wait: float,
    ) -> None:
        """Keep what a connection needs; the pool opens on first use (and again after fork)."""
        import psycopg  # noqa: PLC0415 (already loaded by PostgresStore; kept local, see there)

        self._dsn = dsn
        self._options = options
        self._settings = settings
        self._pool_size = pool_size
        self._wait = wait
        #: psycopg's base error (psycopg_pool's PoolTimeout is one too).
        self.error: type[psycopg.Error] = psycopg.Error
        self._in_error = psycopg.pq.TransactionStatus.INERROR
        self._idle = psycopg.pq.TransactionStatus.IDLE
        self._guard = threading.Lock()
        self._local = threading.local()
        self._pool: ConnectionPool[Any] | None = None
        self._pid = os.getpid()
        self._closed = False

    def connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        """A connection outside the pool, configured like the pooled ones (for setup)."""
        import psycopg  # noqa: PLC0415

        try:
            conn = psycopg.connect(self._dsn, autocommit=True, **self._options)
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc
        try:
            self._configure(conn)
        except psycopg.Error as exc:
            conn.close()
            raise StorageError(f"cannot configure connection: {type(exc).__name__}") from exc
        return conn

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        for name, value in self._settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))

    def _current_pool(self) -> ConnectionPool[Any]:
        from psycopg_pool import ConnectionPool  # noqa: PLC0415

        with self._guard:
            if self._closed:
                msg = "store is closed"
                raise RuntimeError(msg)
            if self._pool is None or self._pid != os.getpid():
                # After fork the parent's pool shares its sockets and threads did not survive:
                # leave it unclosed (closing would end the parent's sessions) and start afresh.
                self._pid = os.getpid()
                self._local = threading.local()
                self._pool = ConnectionPool(
                    self._dsn,
                    min_size=1,
                    max_size=self._pool_size,
                    kwargs={"autocommit": True, **self._options},
                    configure=self._configure,
                    name="personakit",
                    timeout=self._wait,
                    open=True,
                )
            return self._pool

    def current(self) -> Session:
        """The calling thread's session."""
        pool = self._current_pool()  # also resets thread state after a fork
        del pool
        session: Session | None = getattr(self._local, "session", None)
        if session is None:
            session = Session()
            self._local.session = session
        return session

    @contextmanager
    def connection(self, session: Session) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """The transaction's connection, or a pooled one borrowed for this call."""
        if session.conn is not None:
            yield session.conn
            return
        with self._current_pool().connection() as conn:
            yield conn

    def begin(self, session: Session, statement: bytes) -> None:
        """Borrow a connection and run ``statement`` (BEGIN); give it back if that fails."""
        pool = self._current_pool()
        try:
            conn = pool.getconn()
        except self.error as exc:
            raise StorageError(f"cannot begin transaction: {type(exc).__name__}") from exc
        session.conn = conn
        try:
            conn.execute(statement)
        except self.error as exc:
            self.rollback(session)
            raise StorageError(f"cannot begin transaction: {type(exc).__name__}") from exc

    def commit(self, session: Session, flush: Callable[[], None]) -> None:
        """``flush()`` the pending writes and COMMIT in one round trip (a pipeline).

        Refuses loudly when a statement inside the transaction had failed. A deadlock or
        serialization failure while flushing raises :class:`StorageConflict` (rerun it).
        """
        conn = session.conn
        assert conn is not None
        try:
            if conn.info.transaction_status == self._in_error:
                # PostgreSQL answers COMMIT of a failed transaction with a silent ROLLBACK.
                conn.execute(b"ROLLBACK")
                raise StorageError(
                    "transaction rolled back: a statement in it failed (the error was caught "
                    "inside the transaction)"
                )
            with conn.pipeline():
                flush()
                conn.execute(b"COMMIT")
        except self.error as exc:
            kind = StorageConflict if exc.sqlstate in _RETRYABLE else StorageError
            raise kind(f"commit failed: {type(exc).__name__}") from exc
        finally:
            self._release(session)

    def rollback(self, session: Session) -> None:
        """ROLLBACK; a connection that cannot is closed (the server rolls back as it goes)."""
        conn = session.conn
        assert conn is not None
        try:
            conn.execute(b"ROLLBACK")
        except self.error:
            # The caller's exception is the one to report. A connection that cannot roll back
            # is broken; the server rolls back its transaction when it goes, and the pool
            # discards a closed connection.
            conn.close()
        finally:
            self._release(session)

    def _release(self, session: Session) -> None:
        conn, session.conn = session.conn, None
        session.held.clear()
        session.known.clear()
        session.pending.clear()
        session.subjects.clear()
        session.misses.clear()
        session.later.clear()
        pool = self._pool
        if conn is None or pool is None or self._pid != os.getpid():
            return
        if conn.info.transaction_status != self._idle:
            conn.close()  # never hand a connection inside a transaction to the next borrower
        pool.putconn(conn)

    def close(self) -> None:
        """Drain and close the pool. Idempotent; no connection opens afterwards."""
        with self._guard:
            self._closed = True
            pool = self._pool if self._pid == os.getpid() else None
            self._pool = None
        if pool is not None:
            pool.close(timeout=_DRAIN_SECONDS)


def send_pending(session: Session, namespace: str, sql: Statements) -> None:
    """Send the transaction's pending writes, pipelined: one round trip for all of them.

    Inside an enclosing pipeline (COMMIT's) they add no round trip at all. The locks of blind
    writes come first, in ascending order, in the same pipeline.
    """
    pending = session.pending
    if not pending:
        return
    session.pending = {}
    conn = session.conn
    assert conn is not None
    locks = sorted(session.later.difference(session.held))
    session.later.clear()
    puts = [(namespace, k, subject_of(k), v) for k, v in pending.items() if v is not None]
    gone = [(namespace, k, subject_of(k)) for k, v in pending.items() if v is None]
    with conn.pipeline():
        if locks:
            # prepare=False, as for every lock statement (see PostgresStore._acquire).
            conn.execute(sql.lock, (locks,), prepare=False)
        cursor = conn.cursor()
        if gone:
            cursor.executemany(sql.delete, gone)
        if puts:
            cursor.executemany(sql.put, puts)
    session.held.update(locks)
