"""The segment membership index: who is in which segment, listable without decrypting anyone.

One empty entry per (segment, subject) at ``x/personalization/segments/<segment>/<subject>``:
shared state keyed by pseudonyms (no plaintext), registered as a shared record kind whose
erasure remover deletes the subject's entries. The subject's own sealed state lists the
segments it was recorded in, so every update is a diff (entered / left) written in the
subject's store transaction: on PostgreSQL that transaction holds the subject's lock and each
entry is its own lock domain, so writers of different subjects never contend, and two writers
of one subject are serial.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from personakit.storage import Store
from personakit.workflows import Hooks, SegmentChange

__all__ = ["INDEX_PREFIX", "SegmentIndex"]

INDEX_PREFIX: Final = "x/personalization/segments/"
_PRESENT: Final = b"1"


class SegmentIndex:
    """Entries per (segment, subject), and the entered / left changes they record."""

    def __init__(self, store: Store, hooks: Hooks) -> None:
        """Keep entries in ``store``; report changes through ``hooks.segment_changed``."""
        self.store = store
        self.hooks = hooks

    def __repr__(self) -> str:
        """Render with the store."""
        return f"SegmentIndex({self.store!r})"

    @staticmethod
    def key(segment: str, subject: str) -> str:
        """The entry of ``subject`` in ``segment``."""
        return f"{INDEX_PREFIX}{segment}/{subject}"

    def update(
        self, subject: str, before: Iterable[str], after: Iterable[str], at: datetime
    ) -> tuple[int, int]:
        """Move ``subject`` from segments ``before`` to ``after``; return (entered, left)."""
        old, new = set(before), set(after)
        entered, left = sorted(new - old), sorted(old - new)
        for segment in entered:
            self.store.put(self.key(segment, subject), _PRESENT)
            self.hooks.segment_changed(
                SegmentChange(subject=subject, segment=segment, change="entered", at=at)
            )
        for segment in left:
            self.store.delete(self.key(segment, subject))
            self.hooks.segment_changed(
                SegmentChange(subject=subject, segment=segment, change="left", at=at)
            )
        return len(entered), len(left)

    def purge(self, subject: str, segments: Iterable[str]) -> int:
        """Delete ``subject``'s entries in ``segments`` (no changes reported); return how many."""
        return sum(self.store.delete(self.key(segment, subject)) for segment in set(segments))

    def members(self, segment: str) -> list[str]:
        """The subjects with an entry in ``segment``, in key order (decrypts nothing)."""
        prefix = f"{INDEX_PREFIX}{segment}/"
        return [key[len(prefix) :] for key, _ in self.store.scan(prefix)]

    def names(self) -> dict[str, int]:
        """Every segment with entries, and how many (one scan of the index)."""
        counts: dict[str, int] = {}
        for key, _ in self.store.scan(INDEX_PREFIX):
            segment = key[len(INDEX_PREFIX) :].partition("/")[0]
            counts[segment] = counts.get(segment, 0) + 1
        return counts

    def drop_segment(self, segment: str) -> int:
        """Delete every entry of a segment nobody defines any more."""
        return self.store.delete_prefix(f"{INDEX_PREFIX}{segment}/")
