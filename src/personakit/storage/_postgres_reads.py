"""How a PostgresStore transaction locks what it touches and reads under those locks.

See :mod:`personakit.storage._postgres_locks` for the domains and
:mod:`personakit.storage._postgres_sessions` for what a transaction remembers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from personakit.exceptions import StorageError
from personakit.storage._postgres_locks import INDEX_PREFIX, LockIds, domain_of, index_domain

if TYPE_CHECKING:
    import psycopg

    from personakit.storage._postgres_schema import Statements
    from personakit.storage._postgres_sessions import Session

__all__ = ["Locking", "is_index", "pointee"]

_DEADLOCK: Final = "40P01"
_RETRIES: Final = 5
_BACKOFF_SECONDS: Final = 0.02
# Rounds of "read an index entry, lock what it points to" (each: the entry moved meanwhile).
_INDEX_ROUNDS: Final = 8


class Locking:
    """The locking reads of :class:`~personakit.storage.PostgresStore` (a mixin)."""

    namespace: str
    _sql: Statements
    _lock_id: LockIds
    _error: type[psycopg.Error]

    def _lock_keys(
        self,
        session: Session,
        keys: Sequence[str],
        extra: Iterable[str] = (),
        read: Sequence[str] = (),
    ) -> dict[str, bytes]:
        """Lock the domains of ``keys`` (and ``extra`` domains); return index entries' values.

        An index entry's domain depends on its value, so it is read, its domain locked, and
        read again under the lock until the domain it names is one we hold (whoever could
        change it then waits for us). The values returned are those final reads (or what the
        transaction knows already). ``read`` (keys that are not index entries, among ``keys``)
        are read in the same round trip as the locks, and returned too. Everything read is
        remembered in ``session.known``.
        """
        conn = session.conn
        assert conn is not None
        known = session.known
        index = sorted({key for key in keys if is_index(key)})
        unknown = [key for key in index if key not in known]
        domains = {domain_of(key) for key in keys if not is_index(key)}.union(extra)
        current = {key: value for key in index if (value := known.get(key)) is not None}
        if unknown:  # a first look, unlocked: it only says which domain to lock
            current.update(self._read_index(conn, unknown))
        domains.update(index_domain(key, current.get(key)) for key in index)
        wanted = sorted({self._lock_id(domain) for domain in domains}.difference(session.held))
        found = self._read_index(conn, list(read)) if read and not wanted else {}
        reading, rounds = [*unknown, *read], 0
        while wanted:
            if rounds == _INDEX_ROUNDS:
                raise StorageError("an index entry kept changing while it was being locked; retry")
            rounds += 1
            fresh = self._acquire(session, wanted, reading)
            for key in unknown:
                if key in fresh:
                    current[key] = fresh[key]
                else:
                    current.pop(key, None)
            if rounds == 1:  # ``read`` keys' domains are all held from the first round on
                found = {key: fresh[key] for key in read if key in fresh}
            reading = unknown
            moved = {self._lock_id(index_domain(key, current.get(key))) for key in unknown}
            wanted = sorted(moved.difference(session.held))
        for key in unknown:
            known[key] = current.get(key)
        for key in read:
            known[key] = found.get(key)
        domains.update(index_domain(key, current.get(key)) for key in unknown)
        session.subjects.update(domain[2:] for domain in domains if domain.startswith("s\x00"))
        return {**current, **found}

    def _read_index(
        self, conn: psycopg.Connection[tuple[Any, ...]], keys: list[str]
    ) -> dict[str, bytes]:
        rows = conn.execute(self._sql.get_many, (self.namespace, keys), binary=True).fetchall()
        return {str(key): bytes(value) for key, value in rows}

    def _acquire(self, session: Session, wanted: list[int], read: list[str]) -> dict[str, bytes]:
        """Take ``wanted`` locks in ascending order, then read the keys ``read``: one round trip.

        Inside a savepoint unless this is the transaction's only lock (a single wait by a
        transaction holding nothing cannot close a cycle): on a deadlock, rolling back to it
        releases just this call's locks, so the other transaction finishes, and the call
        retries with backoff instead of failing the whole transaction.
        """
        conn = session.conn
        assert conn is not None
        guarded = bool(session.held) or len(wanted) > 1
        for attempt in range(_RETRIES):
            try:
                # prepare=False: a deadlock makes the pipeline skip Parses that psycopg still
                # records as done, so the retry would name an unknown prepared statement.
                with conn.pipeline():
                    if guarded:
                        conn.execute(b"SAVEPOINT personakit_lock", prepare=False)
                    conn.execute(self._sql.lock, (wanted,), prepare=False)
                    cursor = (
                        conn.execute(
                            self._sql.get_many, (self.namespace, read), binary=True, prepare=False
                        )
                        if read
                        else None
                    )
                    if guarded:
                        conn.execute(b"RELEASE SAVEPOINT personakit_lock", prepare=False)
            except self._error as exc:
                if not guarded or exc.sqlstate != _DEADLOCK or attempt + 1 == _RETRIES:
                    raise
                conn.execute(b"ROLLBACK TO SAVEPOINT personakit_lock")
                time.sleep(_BACKOFF_SECONDS * 2**attempt * (1 + random.random()))  # noqa: S311
                continue
            session.held.update(wanted)
            if cursor is None:
                return {}
            return {str(key): bytes(value) for key, value in cursor.fetchall()}
        raise AssertionError  # pragma: no cover (the loop returns or raises)

    def _read_ahead(self, session: Session, key: str, subject: str) -> bytes | None:
        """Read ``key`` of a held subject; the second time its record name misses, read ahead.

        Hooks read one record per subject in turn (a batch's aggregates, model records): on
        the second subject missing the same ``<kind>/<name>``, that record is read for every
        subject the transaction holds, in one round trip, so the next subjects find it known.
        Their locks are held, so what is read stays valid until COMMIT.
        """
        conn = session.conn
        assert conn is not None
        known = session.known
        name = key[len(subject) + 3 :]  # after "s/<subject>/"
        seen = session.misses.get(name, 0)
        session.misses[name] = seen + 1
        wanted = [key]
        if seen:
            wanted.extend(
                other
                for held in session.subjects
                if (other := f"s/{held}/{name}") not in known and held != subject
            )
        values = self._read_index(conn, wanted)
        for wanted_key in wanted:
            known[wanted_key] = values.get(wanted_key)
        return known[key]


def pointee(key: str, value: bytes) -> list[str]:
    """The subject domain an index entry will point to once ``value`` is written."""
    return [index_domain(key, value)] if is_index(key) else []


def is_index(key: str) -> bool:
    return key.startswith(INDEX_PREFIX)
