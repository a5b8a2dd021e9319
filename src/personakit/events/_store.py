"""Per-subject event chunks: append in O(1), read, rewrite and erase in O(that subject).

A subject's events live in sealed records ``s/<subject>/events/<chunk>``. Each append writes one
new chunk holding the events given together (one event from ``track()``, all of a subject's
events in a bulk-ingest batch), so appending never reads or re-encrypts older events.

Left alone, ``track()`` would leave one chunk per event, and erasing or exporting a subject
would cost O(number of writes) rather than O(its bytes). So chunks are kept in levels, told
apart by their name (compaction on write, like a small log-structured merge tree):

* ``a.<time>-<rand>``: written by :meth:`EventLog.append` (one call, usually one event);
* ``b.<time>-<rand>``: more than ``MERGE_ABOVE`` level-a chunks merged, on the append that
  passed the limit, in its transaction;
* ``<time>-<rand>``: final chunks (up to ``CHUNK_EVENTS`` events): more than ``MERGE_ABOVE``
  level-b chunks merged, bulk-ingest chunks, and every chunk written by earlier versions, which
  used this name for all chunks (so their stores read unchanged).

An append reads only the subject's level-a chunks (few and small) to decide; each event is
re-encrypted at most twice on its way to a final chunk. Chunks of earlier versions are merged by
:meth:`EventLog.compact` (``personakit store compact``) and by reads of subjects with more than
``COMPACT_ABOVE`` chunks. Every merge writes the merged chunk and deletes the old ones in one
transaction, so a crash leaves either the old chunks or the merged one, never both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
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
#: More than this many chunks of one level are merged into the next level on append.
MERGE_ABOVE = 16
_APPENDED = "a."
_MERGED = "b."


class EventLog:
    """Encrypted, chunked storage of each subject's events."""

    def __init__(self, vault: Vault) -> None:
        """Store chunks through ``vault`` (sealed with each subject's data key)."""
        self.vault = vault

    def __repr__(self) -> str:
        """Render with the vault."""
        return f"EventLog({self.vault!r})"

    def append(self, subject: str, events: Sequence[Event]) -> None:
        """Write ``events`` as one new chunk of ``subject`` (nothing if empty).

        Merges the subject's small chunks when there are more than ``MERGE_ABOVE`` of a level
        (see the module docstring), in the same transaction as the write.
        """
        if not events:
            return
        first = event_millis(min(event.at for event in events))
        with self.vault.store.transaction():
            self.vault.put(
                subject,
                _KIND,
                _APPENDED + chunk_name(first),
                canonical_json([e.to_json() for e in events]),
            )
            self._merge_level(subject, _APPENDED, _MERGED)

    def _merge_level(self, subject: str, level: str, into: str) -> None:
        names = self.vault.names(subject, _KIND, prefix=level)
        if len(names) <= MERGE_ABOVE:
            return
        docs = [
            doc for _, _, raw in self.vault.scan(subject, _KIND, prefix=level) for doc in loads(raw)
        ]
        for name in names:
            self.vault.delete(subject, _KIND, name)
        if into == _MERGED:
            first = min(_doc_millis(doc) for doc in docs)
            self.vault.put(subject, _KIND, into + chunk_name(first), canonical_json(docs))
            self._merge_level(subject, _MERGED, "")
        else:
            self._put_final(subject, _by_time(docs))

    def _put_final(self, subject: str, docs: Sequence[dict[str, Any]]) -> None:
        self.append_many(
            (subject, list(docs[start : start + CHUNK_EVENTS]), _doc_millis(docs[start]))
            for start in range(0, len(docs), CHUNK_EVENTS)
        )

    def compact(self, subject: str) -> tuple[int, int]:
        """Merge all of ``subject``'s chunks into as few as hold its events; return (before, after).

        A maintenance pass (``personakit store compact``) for stores written by earlier
        versions, whose ``track()`` left one chunk per event. One transaction: the merged chunks
        are written and the old ones deleted together. Nothing is rewritten when the chunks
        are already as few as they can be.
        """
        with self.vault.store.transaction():
            chunks = [(name, loads(raw)) for _, name, raw in self.vault.scan(subject, _KIND)]
            total = sum(len(docs) for _, docs in chunks)
            needed = -(-total // CHUNK_EVENTS)
            if len(chunks) <= needed:
                return len(chunks), len(chunks)
            docs = _by_time(doc for _, chunk in chunks for doc in chunk)
            for name, _ in chunks:
                self.vault.delete(subject, _KIND, name)
            self._put_final(subject, docs)
        return len(chunks), needed

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
            self._put_final(target, [e.to_json() for e in events])
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
        self._put_final(subject, [e.to_json() for e in events])


def chunk_name(first_millis: int) -> str:
    """A new chunk's name: its earliest event's time, then 40 random bits."""
    return f"{first_millis:013d}-{os.urandom(5).hex()}"


def _doc_millis(doc: dict[str, Any]) -> int:
    return event_millis(_doc_at(doc))


def _doc_at(doc: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(doc["at"])


def _by_time(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(docs, key=lambda doc: (_doc_at(doc), doc["id"]))
