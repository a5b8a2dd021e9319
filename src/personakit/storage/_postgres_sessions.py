"""Each thread's PostgreSQL connection for :class:`~personakit.storage.PostgresStore`.

A connection is opened per thread on first use, in autocommit mode with the store's
``lock_timeout``; a thread that died gives its connection back, a forked child starts afresh
without closing its parent's sockets, and a connection lost inside a transaction is an error,
never a silent reconnect. :class:`Sessions` also begins, commits and rolls back a thread's
transaction (the locking rules are in :mod:`personakit.storage._postgres`).

psycopg is imported when the first connection opens, never with this module.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from attrs import define

from personakit.exceptions import StorageError

if TYPE_CHECKING:
    import psycopg

__all__ = ["Session", "Sessions"]


@define
class Session:
    """One thread's connection, and how deep that thread is in ``transaction()`` blocks."""

    conn: psycopg.Connection[tuple[Any, ...]]
    depth: int = 0


class Sessions:
    """The connections of one store, one per thread (and per process, after a fork)."""

    def __init__(self, dsn: str, *, options: dict[str, Any], lock_timeout_ms: str) -> None:
        """Keep what a connection needs; nothing connects until :meth:`current`."""
        import psycopg  # noqa: PLC0415 (already loaded by PostgresStore; kept local, see there)

        self._dsn = dsn
        self._options = options
        self._lock_timeout_ms = lock_timeout_ms
        #: psycopg's base error, for callers that translate errors on their hottest paths.
        self.error: type[psycopg.Error] = psycopg.Error
        self._in_error = psycopg.pq.TransactionStatus.INERROR
        self._guard = threading.Lock()
        self._local = threading.local()
        self._sessions: dict[threading.Thread, Session] = {}
        self._inherited: list[Session] = []
        self._pid = os.getpid()
        self._closed = False

    def current(self) -> Session:
        """The calling thread's session, connecting (or reconnecting) if needed."""
        session: Session | None = getattr(self._local, "session", None)
        if session is not None and not session.conn.closed and self._pid == os.getpid():
            return session
        return self._new_session(session)

    def _new_session(self, old: Session | None) -> Session:
        if self._closed:
            msg = "store is closed"
            raise RuntimeError(msg)
        if self._pid != os.getpid():
            self._forget_parent_connections()
        elif old is not None and old.depth:
            # Never reconnect silently in the middle of a transaction: the writes before the
            # break are gone, and the rest would autocommit on their own.
            raise StorageError("connection lost inside a transaction; it was rolled back")
        session = Session(self._connect())
        with self._guard:
            for thread in [t for t in self._sessions if not t.is_alive()]:
                self._sessions.pop(thread).conn.close()
            self._sessions[threading.current_thread()] = session
        self._local.session = session
        return session

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg  # noqa: PLC0415 (already loaded by PostgresStore; kept local, see there)

        try:
            conn = psycopg.connect(self._dsn, autocommit=True, **self._options)
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

    def begin(self, session: Session, statement: bytes) -> None:
        """Run ``statement`` (BEGIN and take the store's lock); roll back if it fails."""
        try:
            session.conn.execute(statement)
        except self.error as exc:
            self.rollback(session)
            raise StorageError(f"cannot begin transaction: {type(exc).__name__}") from exc

    def commit(self, session: Session) -> None:
        """COMMIT, or refuse loudly when a statement inside the transaction had failed."""
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
        except self.error as exc:
            raise StorageError(f"commit failed: {type(exc).__name__}") from exc

    def rollback(self, session: Session) -> None:
        """ROLLBACK; a connection that cannot is closed (the server rolls back as it goes)."""
        try:
            session.conn.execute(b"ROLLBACK")
        except self.error:
            # The caller's exception is the one to report. A connection that cannot roll back
            # is broken; the server rolls back its transaction when it goes, so close it and
            # let the next call connect afresh.
            session.conn.close()

    def close(self) -> None:
        """Close every thread's connection. Idempotent; no session opens afterwards."""
        with self._guard:
            self._closed = True
            sessions = list(self._sessions.values()) if self._pid == os.getpid() else []
            self._sessions = {}
        for session in sessions:
            session.conn.close()
