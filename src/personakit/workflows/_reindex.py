"""Rebuilding the identity index after the normalization rules change (``identity reindex``).

Each subject keeps its identifiers, encrypted, as it stored them (``ident`` records). The
rebuild reads them, normalizes each again with today's :func:`~personakit.profiles.parse_identifier`
and, for every spelling that comes out different:

* writes the new index entry and record and drops the old ones, when nobody holds the new
  spelling yet (or the subject itself already does);
* merges the subject into the one that holds the new spelling, through the link workflow
  (:class:`~personakit.workflows.IdentityLinker`: audited, and a refusal or withdrawal is never
  overridden by an older grant), when two subjects turn out to be one person.

Identifiers that today's rules refuse are left as they are and counted. Subjects are visited in
pseudonym order, a batch per transaction; the last one done is kept in the data store
(``m/identity-reindex``) in the same transaction, so a run killed at any point is finished by
running it again. Merged subjects' data keys are shredded after each commit; a run that dies
before shredding leaves them in the checkpoint and the next run shreds them first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from attrs import define, field, frozen

from personakit._codec import canonical_json, loads
from personakit._ids import check_actor
from personakit.exceptions import InvalidInput, Problem
from personakit.profiles import Identifier, parse_identifier
from personakit.workflows._link import IdentityLinker, LinkResult
from personakit.workflows._retention import _SUBJECT_KEYS

__all__ = ["IdentityReindexer", "ReindexReport"]

_CHECKPOINT: Final = "m/identity-reindex"
_COUNTS: Final = ("subjects", "rewritten", "merged", "unparseable", "skipped")
_MAX_BATCH: Final = 10_000


@frozen(kw_only=True)
class ReindexReport:
    """What a reindex did (or, with ``dry_run``, would do); counts add up over resumed runs.

    ``subjects``: subjects visited (those with a data key when the run started);
    ``rewritten``: identifiers now stored in their normalized spelling; ``merged``: subjects
    merged into the subject that held the same identifier; ``unparseable``: identifiers today's
    rules refuse (left as they are); ``skipped``: spellings whose index entry points at another
    subject than the one holding them (left as they are; the store was already inconsistent).
    """

    dry_run: bool
    resumed: bool
    subjects: int
    rewritten: int
    merged: int
    unparseable: int
    skipped: int

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (no pseudonym, no identifier)."""
        return {
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "subjects": self.subjects,
            "rewritten": self.rewritten,
            "merged": self.merged,
            "unparseable": self.unparseable,
            "skipped": self.skipped,
        }


@define(kw_only=True, repr=False)
class IdentityReindexer:
    """Re-normalizes every stored identifier and merges subjects that turn out to be one.

    Built over the kit's linker, which holds every part a merge needs:
    ``IdentityReindexer(linker=kit.linker).run()``.
    """

    linker: IdentityLinker
    # dry run only: new spelling's index key -> who would hold it, subject -> merged into
    _planned: dict[str, str] = field(factory=dict, init=False)
    _merged_into: dict[str, str] = field(factory=dict, init=False)

    def __repr__(self) -> str:
        """Render with the linker."""
        return f"IdentityReindexer({self.linker!r})"

    def run(
        self,
        *,
        dry_run: bool = False,
        batch: int = 200,
        actor: str = "system",
        progress: Callable[[int, int], None] | None = None,
    ) -> ReindexReport:
        """Rebuild the index; ``progress(done, total)`` after each batch.

        With ``dry_run`` nothing is written (not even the checkpoint) and the report says what
        a run would do. ``batch`` is how many subjects share one transaction (1 to 10,000).
        Raises :class:`~personakit.exceptions.InvalidInput` for a bad ``batch`` or ``actor``.
        """
        # Checked before anything is written: a bad actor found by the first merge's audit
        # entry would stop the run after some batches had committed.
        problems: list[Problem] = []
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= _MAX_BATCH:
            problems.append(Problem(where="batch", what=f"an integer 1 to {_MAX_BATCH}"))
        check_actor(actor, problems)
        if problems:
            raise InvalidInput("invalid reindex", problems)
        store = self.linker.vault.store
        state = {} if dry_run else _read_state(store.get(_CHECKPOINT))
        resumed = bool(state)
        counts = {name: int(state.get(name, 0)) for name in _COUNTS}
        self._shred(list(state.get("pending", [])))
        after = str(state.get("after", ""))
        subjects = [
            key[len(_SUBJECT_KEYS) :]
            for key, _ in self.linker.keyring.store.scan(_SUBJECT_KEYS)
            if key[len(_SUBJECT_KEYS) :] > after
        ]
        self._planned.clear()
        self._merged_into.clear()
        for start in range(0, len(subjects), batch):
            chunk = subjects[start : start + batch]
            merges: list[LinkResult] = []
            with store.transaction():
                counts["subjects"] += len(chunk)
                for subject in chunk:
                    # A subject merged away earlier in this run is gone: nothing left to do.
                    if self.linker.identity.exists(subject):
                        self._subject(subject, counts, merges, dry_run=dry_run, actor=actor)
                if not dry_run:
                    pending = [m.merged_from for m in merges if m.merged_from is not None]
                    store.put(
                        _CHECKPOINT,
                        canonical_json({**counts, "after": chunk[-1], "pending": pending}),
                    )
            for merge in merges:
                self.linker.finish(merge)
            if progress is not None:
                progress(start + len(chunk), len(subjects))
        report = ReindexReport(dry_run=dry_run, resumed=resumed, **counts)
        if not dry_run:
            with store.transaction():
                self.linker.audit.append("identity.reindexed", actor=actor, data=report.to_json())
                store.delete(_CHECKPOINT)
        return report

    def _subject(
        self,
        subject: str,
        counts: dict[str, int],
        merges: list[LinkResult],
        *,
        dry_run: bool,
        actor: str,
    ) -> None:
        identity = self.linker.identity
        holder = self._root(subject)
        for stored in identity.identifiers(subject):
            try:
                normal = parse_identifier(f"{stored.kind}:{stored.value}")
            except InvalidInput:
                counts["unparseable"] += 1
                continue
            if normal == stored:
                continue
            indexed = identity.lookup(stored)
            if indexed not in {subject, None}:
                counts["skipped"] += 1
                continue
            key = identity.index_key(normal)
            owner = self._owner(key, normal, dry_run=dry_run)
            if owner is None or owner in {subject, holder}:
                counts["rewritten"] += 1
                if dry_run:
                    self._planned[key] = holder
                else:
                    if owner is None:
                        identity.attach(subject, normal)
                    identity.retire(subject, stored)
                continue
            if indexed is None and not dry_run:
                # The link workflow finds the subject to merge by this spelling's index entry.
                counts["skipped"] += 1
                continue
            counts["merged"] += 1
            if dry_run:
                counts["rewritten"] += 1  # as the real run does, going over the holder
                self._merged_into[holder] = owner
                holder = owner
                continue
            # One person, two subjects: merge this one into the holder of the normal spelling,
            # then go over the holder, which now also holds this subject's old spellings.
            merges.append(self.linker.link(stored, normal, actor=actor, shred_now=False))
            self._subject(owner, counts, merges, dry_run=dry_run, actor=actor)
            return

    def _owner(self, key: str, normal: Identifier, *, dry_run: bool) -> str | None:
        owner = (self._planned.get(key) if dry_run else None) or self.linker.identity.lookup(normal)
        return None if owner is None else self._root(owner)

    def _root(self, subject: str) -> str:
        # dry run: where a subject planned to be merged would be by now
        while subject in self._merged_into:
            subject = self._merged_into[subject]
        return subject

    def _shred(self, pending: list[object]) -> None:
        for subject in pending:
            if isinstance(subject, str):
                self.linker.keyring.shred(subject)


def _read_state(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {}
    state = loads(raw)
    return state if isinstance(state, dict) else {}
