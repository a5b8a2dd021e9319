"""The storage contract every backend fulfils: a transactional map from ``str`` keys to bytes."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Literal, Protocol, runtime_checkable

from attrs import frozen

__all__ = [
    "BulkWrites",
    "ChangeTracking",
    "ScrubResult",
    "Store",
    "bulk_writes",
    "change_token",
    "check_key",
    "check_value",
    "prefix_upper_bound",
]

#: Longest key a backend must accept. Keys are built by personakit from pseudonyms and blind
#: indexes, never from host input, so this is generous.
MAX_KEY_LENGTH = 512
_MAX_CODE_POINT = 0x10FFFF


@frozen(kw_only=True)
class ScrubResult:
    """Outcome of :meth:`Store.scrub`: whether deleted bytes are physically gone.

    ``status`` is ``"done"`` when no deleted content can remain in the backend's files (or the
    backend keeps no files), ``"pending"`` when something (typically a concurrent reader holding
    an old snapshot) prevents it for now; ``detail`` says what, for the operator.
    """

    status: Literal["done", "pending"]
    detail: str = ""

    @property
    def done(self) -> bool:
        """True when the scrub completed."""
        return self.status == "done"


@runtime_checkable
class Store(Protocol):
    """**Protocol**: a transactional key-value store of opaque bytes.

    Keys are non-empty ``str`` of at most :data:`MAX_KEY_LENGTH` characters; :meth:`scan`
    returns them in code-point order. Values are ``bytes``; a store never interprets them.
    personakit encrypts every subject value before it reaches a store, so a store needs no
    confidentiality of its own, only durability and atomicity.

    :meth:`transaction` groups writes: all or nothing, also across a crash. Transactions nest:
    an inner one joins the outer. Reads inside a transaction see its writes.
    """

    def get(self, key: str) -> bytes | None:
        """Return the value for ``key``, or None."""
        ...

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The values of those ``keys`` that exist (absent keys are simply missing).

        One round trip for many keys: bulk paths read a whole batch's records at once.
        """
        ...

    def put(self, key: str, value: bytes) -> None:
        """Set ``key`` to ``value``."""
        ...

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Set several keys, all or nothing (joining the current transaction, if any).

        Every key and value is checked before anything is written; a key given twice ends
        with its last value. Bulk paths write a whole batch's records in one call.
        """
        ...

    def delete(self, key: str) -> bool:
        """Delete ``key``; return whether it existed."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix`` (non-empty); return how many."""
        ...

    def scan(self, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        """Yield ``(key, value)`` for keys starting with ``prefix``, in key order."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Return a context manager: its writes commit together or not at all."""
        ...

    def scrub(self) -> ScrubResult:
        """Make deleted data physically unrecoverable from the backend's files, if possible."""
        ...

    def close(self) -> None:
        """Release files and connections. Idempotent."""
        ...


@runtime_checkable
class ChangeTracking(Protocol):
    """**Optional protocol** of a store that can tell whether anything changed since a moment.

    Bulk paths use it to keep what they read (identities, consent verdicts) from one
    transaction to the next *only* while provably nothing else was written in between; a store
    without it simply makes them read again.
    """

    def change_token(self) -> Hashable:
        """An opaque value; two calls return equal values only if no write committed between them.

        "Any write" means from this or any other connection, thread or process. Taken inside a
        transaction (after its writes), it equals the value taken at the start of the next
        transaction of the same thread exactly when no other writer committed in between. A
        false "changed" is allowed (it only costs a re-read), a false "unchanged" never is.
        """
        ...


@runtime_checkable
class BulkWrites(Protocol):
    """**Optional protocol** of a store that can be tuned for a long run of large transactions."""

    def bulk_writes(self) -> AbstractContextManager[None]:
        """A context in which this thread's writes may defer background upkeep to its end.

        Each transaction stays exactly as durable and atomic as outside it; only upkeep that
        no transaction needs (SQLite's WAL checkpoints, say) is batched.
        """
        ...


def bulk_writes(store: Store) -> AbstractContextManager[None]:
    """``store.bulk_writes()`` if the store supports it, else a context that does nothing."""
    if isinstance(store, BulkWrites):
        return store.bulk_writes()
    return nullcontext()


def change_token(store: Store) -> Hashable | None:
    """``store.change_token()`` if the store tracks changes, else None (meaning: unknown)."""
    if isinstance(store, ChangeTracking):
        return store.change_token()
    return None


def check_key(key: object) -> str:
    """Return ``key`` if it is a valid store key, else raise TypeError / ValueError."""
    if type(key) is not str:
        msg = f"store keys are str, not {type(key).__name__}"
        raise TypeError(msg)
    if not key or len(key) > MAX_KEY_LENGTH:
        msg = f"store keys are 1 to {MAX_KEY_LENGTH} characters"
        raise ValueError(msg)
    return key


def check_value(value: object) -> bytes:
    """Return ``value`` if it is bytes, else raise TypeError (stores hold bytes only)."""
    if type(value) is not bytes:
        msg = f"store values are bytes, not {type(value).__name__}"
        raise TypeError(msg)
    return value


def prefix_upper_bound(prefix: str) -> str | None:
    """Smallest string greater than every string that starts with ``prefix`` (None: unbounded).

    Code-point order equals UTF-8 byte order, which is how SQLite (BINARY collation) and
    PostgreSQL (``COLLATE "C"``) compare our keys, so ``prefix <= key < bound`` is a prefix match.
    """
    stripped = prefix
    while stripped and ord(stripped[-1]) == _MAX_CODE_POINT:
        stripped = stripped[:-1]
    if not stripped:
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)
