"""An in-process store for tests and ephemeral use."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from personakit.storage._base import (
    ScrubResult,
    check_key,
    check_value,
    prefix_upper_bound,
)

__all__ = ["MemoryStore"]

_MISSING = object()


class MemoryStore:
    """A :class:`~personakit.storage.Store` held in memory; gone when the process ends.

    Thread-safe: a transaction holds the store's lock until it ends, so other threads see
    either none or all of its writes.
    """

    def __init__(self) -> None:
        """Create an empty store."""
        self._data: dict[str, bytes] = {}
        self._keys: list[str] = []  # sorted, for prefix scans without sorting every time
        self._lock = threading.RLock()
        self._local = threading.local()
        self._closed = False
        self._writes = 0  # every put / delete, undone ones included: see change_token()

    def __repr__(self) -> str:
        """Render with the number of keys."""
        return f"MemoryStore(keys={len(self._data)})"

    def get(self, key: str) -> bytes | None:
        """Return the value for ``key``, or None."""
        check_key(key)
        with self._lock:
            self._check_open()
            return self._data.get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The values of those ``keys`` that exist."""
        for key in keys:
            check_key(key)
        with self._lock:
            self._check_open()
            return {key: self._data[key] for key in keys if key in self._data}

    def put(self, key: str, value: bytes) -> None:
        """Set ``key`` to ``value``."""
        check_key(key)
        check_value(value)
        with self._lock:
            self._check_open()
            self._remember(key)
            if key not in self._data:
                bisect.insort(self._keys, key)
            self._data[key] = value

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Set several keys, all or nothing."""
        checked = [(check_key(key), check_value(value)) for key, value in items]
        with self.transaction():
            for key, value in checked:
                self.put(key, value)

    def delete(self, key: str) -> bool:
        """Delete ``key``; return whether it existed."""
        check_key(key)
        with self._lock:
            self._check_open()
            if key not in self._data:
                return False
            self._remember(key)
            del self._data[key]
            del self._keys[bisect.bisect_left(self._keys, key)]
            return True

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key starting with ``prefix``; return how many."""
        check_key(prefix)
        with self._lock:
            doomed = [key for key, _ in self._range(prefix)]
            for key in doomed:
                self.delete(key)
            return len(doomed)

    def scan(self, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        """Yield ``(key, value)`` for keys starting with ``prefix``, in key order."""
        with self._lock:
            self._check_open()
            # A snapshot, so callers may write while they iterate (as with the disk stores).
            items = list(self._range(prefix))
        yield from items

    def _range(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        start = bisect.bisect_left(self._keys, prefix)
        bound = prefix_upper_bound(prefix)
        end = len(self._keys) if bound is None else bisect.bisect_left(self._keys, bound)
        for key in self._keys[start:end]:
            yield key, self._data[key]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: on an exception every write since the outermost start is undone."""
        with self._lock:
            self._check_open()
            undo: list[tuple[str, object]] | None = getattr(self._local, "undo", None)
            if undo is not None:
                yield  # nested: the outermost transaction decides
                return
            self._local.undo = undo = []
            try:
                yield
            except BaseException:
                self._local.undo = None
                for key, old in reversed(undo):
                    if old is _MISSING:
                        self.delete(key)
                    else:
                        assert isinstance(old, bytes)
                        self.put(key, old)
                raise
            finally:
                self._local.undo = None

    def change_token(self) -> int:
        """How many writes this store has seen (a rollback's undo writes count too)."""
        with self._lock:
            return self._writes

    def _remember(self, key: str) -> None:
        self._writes += 1
        undo: list[tuple[str, object]] | None = getattr(self._local, "undo", None)
        if undo is not None:
            undo.append((key, self._data.get(key, _MISSING)))

    def scrub(self) -> ScrubResult:
        """Nothing to scrub: deleted values are unreachable once dropped."""
        return ScrubResult(status="done", detail="memory store keeps no files")

    def close(self) -> None:
        """Drop everything."""
        with self._lock:
            self._closed = True
            self._data.clear()
            self._keys.clear()

    def _check_open(self) -> None:
        if self._closed:
            msg = "store is closed"
            raise RuntimeError(msg)
