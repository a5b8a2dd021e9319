"""Per-subject event chunks: append in O(1), read, rewrite and erase in O(that subject).

A subject's events live in sealed records ``s/<subject>/events/<chunk>``. Each append writes one
new chunk holding the events given together (one event from ``track()``, all of a subject's
events in a bulk-ingest batch), so appending never reads or re-encrypts older events. Chunk names
start with the first event's time, so a prefix scan returns chunks roughly in time order.
Reading a subject whose events are spread over many small chunks compacts them into a few large
ones, which keeps reads cheap without making appends pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from personakit._codec import canonical_json, loads
from personakit._vault import Vault
from personakit.events._model import Event, event_millis

__all__ = ["EventLog"]

_KIND = "events"
#: Above this many chunks, reading a subject compacts them.
COMPACT_ABOVE = 32
#: Events per chunk after compaction.
CHUNK_EVENTS = 512


class EventLog:
    """Encrypted, chunked storage of each subject's events."""

    def __init__(self, vault: Vault) -> None:
        """Store chunks through ``vault`` (sealed with each subject's data key)."""
        self.vault = vault

    def __repr__(self) -> str:
        """Render with the vault."""
        return f"EventLog({self.vault!r})"

    def append(self, subject: str, events: Sequence[Event]) -> None:
        """Write ``events`` as one new chunk of ``subject`` (nothing if empty)."""
        if not events:
            return
        first = event_millis(min(event.at for event in events))
        self.append_many([(subject, [e.to_json() for e in events], first)])

    def append_many(self, chunks: Iterable[tuple[str, list[dict[str, Any]], int]]) -> None:
        """Write one new chunk per ``(subject, docs, first_millis)``, all in one store write.

        ``docs`` are events in their stored form (:meth:`Event.to_json`; bulk ingest builds it
        directly from validated lines); ``first_millis`` is the earliest event's
        :func:`event_millis`, which names the chunk. Empty ``docs`` write nothing.
        """
        self.vault.put_many(
            [
                (subject, _KIND, chunk_name(first), canonical_json(docs))
                for subject, docs, first in chunks
                if docs
            ]
        )

    def read(self, subject: str, *, compact: bool = True) -> list[Event]:
        """Every event of ``subject``, oldest first (ties by id)."""
        chunks = [(name, loads(raw)) for _, name, raw in self.vault.scan(subject, _KIND)]
        events = sorted(
            (Event.from_json(doc) for _, docs in chunks for doc in docs),
            key=lambda e: (e.at, e.id),
        )
        if compact and len(chunks) > COMPACT_ABOVE:
            with self.vault.store.transaction():
                self._rewrite(subject, [name for name, _ in chunks], events)
        return events

    def count(self, subject: str) -> int:
        """How many events ``subject`` has (decrypts the chunks)."""
        return sum(len(loads(raw)) for _, _, raw in self.vault.scan(subject, _KIND))

    def remove_where(self, subject: str, doomed: Callable[[Event], bool]) -> int:
        """Delete the events for which ``doomed`` is true; return how many. O(subject)."""
        return self.transform(subject, lambda e: None if doomed(e) else e)[0]

    def transform(self, subject: str, change: Callable[[Event], Event | None]) -> tuple[int, int]:
        """Replace each event by ``change(event)`` (None deletes it); return (deleted, changed).

        Rewrites the subject's chunks only if something changed, in one transaction.
        """
        with self.vault.store.transaction():
            chunks = [(name, loads(raw)) for _, name, raw in self.vault.scan(subject, _KIND)]
            kept: list[Event] = []
            deleted = changed = 0
            for _, docs in chunks:
                for doc in docs:
                    event = Event.from_json(doc)
                    new = change(event)
                    if new is None:
                        deleted += 1
                    else:
                        changed += new != event
                        kept.append(new)
            if deleted or changed:
                kept.sort(key=lambda e: (e.at, e.id))
                self._rewrite(subject, [name for name, _ in chunks], kept)
        return deleted, changed

    def move(self, source: str, target: str) -> int:
        """Move every event of ``source`` to ``target`` (identity merge); return how many."""
        with self.vault.store.transaction():
            events = self.read(source, compact=False)
            for batch in _batches(events, CHUNK_EVENTS):
                self.append(target, batch)
            self.delete_all(source)
        return len(events)

    def delete_all(self, subject: str) -> int:
        """Delete every event chunk of ``subject``; return how many chunks."""
        names = [name for _, name, _ in self.vault.scan(subject, _KIND)]
        with self.vault.store.transaction():
            for name in names:
                self.vault.delete(subject, _KIND, name)
        return len(names)

    def _rewrite(self, subject: str, old_names: Iterable[str], events: list[Event]) -> None:
        for name in old_names:
            self.vault.delete(subject, _KIND, name)
        for batch in _batches(events, CHUNK_EVENTS):
            self.append(subject, batch)


def chunk_name(first_millis: int) -> str:
    """A new chunk's name: its earliest event's time, then 40 random bits."""
    return f"{first_millis:013d}-{os.urandom(5).hex()}"


def _batches(events: Sequence[Event], size: int) -> Iterable[Sequence[Event]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]
