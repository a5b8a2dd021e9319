"""The bulk ingest engine: one batch of lines applied in one transaction, and its bookkeeping.

:class:`Batch` applies parsed lines with per-batch caches (identities, consent verdicts) and
per-subject event buffers; :class:`Memo` carries those caches from one committed batch to the
next while the store proves nothing changed in between; :class:`Tally` counts; the checkpoint
helpers make a killed import resume where its last commit ended. The
:class:`~personakit.workflows.Ingestor` drives them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from attrs import define, field

from personakit._codec import canonical_json, loads
from personakit._vault import new_subject_id
from personakit.events import EventKind, event_millis
from personakit.exceptions import InvalidInput, PersonakitError, Problem
from personakit.profiles import Identifier
from personakit.storage import Store
from personakit.workflows._lines import ConsentLine, EventLine, Line, LinkLine, TraitsLine
from personakit.workflows._results import IngestError, IngestSummary

if TYPE_CHECKING:
    from personakit.workflows._ingest import Ingestor

__all__ = [
    "Batch",
    "LineFailed",
    "Memo",
    "Prepared",
    "Tally",
    "checkpoint_key",
    "pending",
    "read_checkpoint",
    "write_checkpoint",
]

_MAX_ERRORS: Final = 1000  # errors listed in a summary; the counts stay exact beyond that
_PREFETCH_MIN: Final = 16  # below this, reading subject by subject is as cheap

# Caches keyed by subject first (None: an identifier with no subject yet), so that forgetting
# one subject after its consent line is one pop, not a pass over every subject of the import.
#: subject -> purpose -> basis now.
Verdicts = dict[str | None, dict[str, bool]]
#: subject -> event kind -> the kind's purposes with a basis (derived from the verdicts).
Allowed = dict[str | None, dict[str, tuple[str, ...]]]


@define(eq=False)
class Prepared:
    """An event line, fully validated: its stored form without the purposes, and its subject.

    Slotted, with attrs' plain generated constructor: bulk ingest makes one per line.
    """

    subject: Identifier
    at: datetime
    kind: EventKind
    millis: int
    doc: dict[str, Any]


class LineFailed(Exception):
    """A line could not be applied (rolls the transaction back)."""

    def __init__(self, number: int, error: PersonakitError) -> None:
        self.number = number
        self.error = error


@define(kw_only=True)
class Tally:
    """What one ingest call has counted so far, and where its checkpoint is."""

    checkpoint: str | None = None
    resumed_after: int | None = None
    accepted: int = 0
    rejected: int = 0
    dropped: int = 0
    errors: list[IngestError] = field(factory=list)
    seen: int = 0

    def reject(self, number: int, error: PersonakitError) -> None:
        self.rejected += 1
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(IngestError(line=number, error=str(error)))

    def add(self, counts: tuple[int, int]) -> None:
        self.accepted += counts[0]
        self.dropped += counts[1]

    def summary(self, *, stopped_at: int | None) -> IngestSummary:
        self.errors.sort(key=lambda e: e.line)
        return IngestSummary(
            accepted=self.accepted,
            rejected=self.rejected,
            dropped_no_basis=self.dropped,
            errors=tuple(self.errors),
            stopped_at=stopped_at,
            resumed_after=self.resumed_after,
        )


class Memo:
    """Identities and verdicts one ingest call carries from a committed batch to the next.

    They are lent to the next batch only if the store's change token, taken inside that
    batch's transaction, equals the one taken after the last write of the previous batch
    (nothing was written in between, by anyone) and no allowed verdict has expired since
    (``horizon``). A store without change tracking, another writer, or a rolled-back batch
    means the next batch starts from nothing.
    """

    def __init__(self) -> None:
        self.token: object | None = None
        self.horizon: int | None = None
        self.subjects: dict[Identifier, str | None] = {}
        self.verdicts: Verdicts = {}
        self.allowed: Allowed = {}

    def _reset(self) -> None:
        self.token, self.horizon = None, None
        self.subjects, self.verdicts, self.allowed = {}, {}, {}

    def lend(self, batch: Batch, token: object | None, now_us: int) -> None:
        fresh = token is not None and token == self.token
        if fresh and (self.horizon is None or now_us < self.horizon):
            batch.subjects, batch.verdicts, batch.allowed = (
                self.subjects,
                self.verdicts,
                self.allowed,
            )
            batch.horizon = self.horizon
        # The batch owns them now; a batch that fails leaves the memo empty.
        self._reset()

    def keep(self, batch: Batch, token: object | None) -> None:
        if token is not None:
            self.token, self.horizon = token, batch.horizon
            self.subjects, self.verdicts, self.allowed = (
                batch.subjects,
                batch.verdicts,
                batch.allowed,
            )


class Batch:
    """Applies parsed lines inside one transaction, with per-batch caches and buffers."""

    def __init__(self, ingestor: Ingestor, assigned: dict[Identifier, str]) -> None:
        self.ing = ingestor
        self.assigned = assigned
        self.accepted = 0
        self.dropped = 0
        self.subjects: dict[Identifier, str | None] = {}
        # subject -> purpose -> basis now. Sound for the whole batch: its transaction holds the
        # store's write lock, so no other process can change consent meanwhile.
        self.verdicts: Verdicts = {}
        # Earliest expiry (µs) of an allowed verdict in ``verdicts``: see Memo.
        self.horizon: int | None = None
        # subject -> kind -> the kind's purposes with a basis; derived from ``verdicts``.
        self.allowed: Allowed = {}
        # Per subject: stored forms of its buffered events, its first line, earliest time.
        self.buffers: dict[str, list[dict[str, Any]]] = {}
        self.first_line: dict[str, int] = {}
        self.first_millis: dict[str, int] = {}
        self.links: list[Any] = []
        # Consent lines decide through this: each subject's ledger writes wait for one
        # sealed write at the end of the batch (see personakit.consent._bulk).
        self.decisions = ingestor.consent.bulk()
        # Subjects this batch created before their first line, that no consent or link line
        # has touched yet: they have no ledger, so their basis is that of a subject not yet
        # created (no store read), as it was when they were created line by line.
        self.created: set[str] = set()

    def run(self, lines: list[tuple[int, Line | Prepared]]) -> tuple[int, int]:
        """Apply the lines; return (accepted, dropped). Raises LineFailed on the first failure.

        The lines run as one hooks batch: hooks that defer writes to shared rows write them
        once, at its end, still inside the caller's transaction; a failure there is the last
        line's (the batch rolls back and is replayed line by line).
        """
        applied = False
        try:
            with self.ing.hooks.batch():
                counts = self._run(lines)
                applied = True
        except PersonakitError as exc:
            if not applied:
                raise
            raise LineFailed(lines[-1][0], exc) from exc
        return counts

    def _run(self, lines: list[tuple[int, Line | Prepared]]) -> tuple[int, int]:
        self._prefetch(lines)
        for number, line in lines:
            try:
                self._apply(number, line)
            except PersonakitError as exc:
                raise LineFailed(number, exc) from exc
        try:
            self.decisions.flush()
        except PersonakitError as exc:
            raise LineFailed(lines[-1][0], exc) from exc
        self._flush_all()
        return self.accepted, self.dropped

    def _prefetch(self, lines: list[tuple[int, Line | Prepared]]) -> None:
        """Warm the caches for the batch: a few store reads instead of a few per subject.

        Only fills the caches the lines would fill one by one, with the state before the
        batch; a consent or link line later in the batch invalidates them as usual.
        """
        if len(lines) < _PREFETCH_MIN:
            return
        events = [line for _, line in lines if isinstance(line, (EventLine, Prepared))]
        creating = [
            line.subject for _, line in lines if isinstance(line, (ConsentLine, TraitsLine))
        ]
        idents = {line.subject for line in events}
        unknown = [ident for ident in idents.union(creating) if ident not in self.subjects]
        if unknown:
            found = self.ing.identity.lookup_many(unknown)
            for ident in unknown:
                self.subjects[ident] = found.get(ident)
        # The known subjects' data keys in one key-store read: their consent lines, verdicts
        # and event chunks would otherwise each miss the key cache one subject at a time.
        self.ing.events.vault.keyring.load_keys(
            {s for ident in idents.union(creating) if (s := self.subjects[ident]) is not None}
        )
        kinds: dict[str, EventKind] = {}
        for line in events:
            kind = line.kind if isinstance(line, Prepared) else self._kind_of(line)
            if kind is not None:
                kinds[kind.name] = kind
        purposes = {p for kind in kinds.values() for p in kind.purposes}
        verdicts = self.verdicts
        subjects = {
            subject
            for ident in idents
            if (subject := self.subjects[ident]) is not None
            and not purposes.issubset(verdicts.get(subject, ()))
        }
        if subjects and purposes:
            fresh, horizon = self.decisions.verdicts_until(subjects, purposes)
            for (subject, purpose), verdict in fresh.items():
                verdicts.setdefault(subject, {})[purpose] = verdict
            self._extend(horizon)
        if not any(isinstance(line, LinkLine) for _, line in lines):
            self._new_keys(events, creating)

    def _kind_of(self, line: EventLine) -> EventKind | None:
        return None if line.event is None else self.ing.catalog.get(line.event.kind)

    def _new_keys(self, events: list[EventLine | Prepared], creating: list[Identifier]) -> None:
        """Pseudonyms and data keys for the subjects this batch will create, made at once.

        Creating a subject's key one by one costs a key-store transaction (an fsync) each; here
        the batch's new subjects get theirs in one. A subject is created by its first consent
        or traits line, or by an event with a basis that needs no consent. The pseudonyms go to
        ``assigned``, which the batch and a replay after a rollback use, so no key is orphaned
        (a link line can re-point identifiers: batches with one skip this).
        """
        subjects = self.subjects
        new = {ident for ident in creating if subjects.get(ident) is None}
        for line in events:
            ident = line.subject
            if subjects.get(ident) is None and ident not in new:
                kind = line.kind if isinstance(line, Prepared) else self._kind_of(line)
                if kind is not None and self._basis(None, kind.purposes):
                    new.add(ident)
        if new:
            pairs = [(ident, self.assigned.setdefault(ident, new_subject_id())) for ident in new]
            self.ing.events.vault.keyring.load_keys([p for _, p in pairs], create=True)
            # Created now, all at once (one read, two writes), rather than by their first line
            # each: the same subjects end up created, since every identifier in ``new`` is
            # created by one of the batch's lines, and a batch that fails rolls back whole
            # (its line-by-line replay creates them one by one again).
            made = self.ing.identity.create_many(pairs)
            for ident, subject in made.items():
                subjects[ident] = subject
                if subject == self.assigned[ident]:
                    self.created.add(subject)
            self.decisions.created(self.created)

    def _extend(self, horizon: int | None) -> None:
        if horizon is not None and (self.horizon is None or horizon < self.horizon):
            self.horizon = horizon

    def _subject(self, ident: Identifier, *, create: bool) -> str | None:
        if ident in self.subjects:
            known = self.subjects[ident]
            if known is not None or not create:
                return known
        if create:
            found: str | None = self.ing.identity.resolve(
                ident, create=True, new_subject=self.assigned.get(ident)
            )
            assert found is not None
            self.assigned.setdefault(ident, found)
        else:
            found = self.ing.identity.lookup(ident)
        self.subjects[ident] = found
        return found

    def _flush(self, subject: str | None) -> None:
        """Write ``subject``'s buffered events now (before a record that concerns it)."""
        if subject is None or subject not in self.buffers:
            return
        chunk = (subject, self.buffers.pop(subject), self.first_millis.pop(subject))
        self._write([chunk], self.first_line.pop(subject))

    def _flush_all(self) -> None:
        chunks = [(s, docs, self.first_millis[s]) for s, docs in self.buffers.items()]
        if chunks:
            self._write(chunks, min(self.first_line.values()))
        self.buffers, self.first_line, self.first_millis = {}, {}, {}

    def _write(self, chunks: list[tuple[str, list[dict[str, Any]], int]], line: int) -> None:
        try:
            if self.ing.hooks.has_events_hooks:
                # A hook may ask for consent: let it read the batch's decisions so far.
                self.decisions.flush()
            self.ing._store_docs(chunks)  # noqa: SLF001 (the batch is the ingestor's)
        except PersonakitError as exc:
            # Rolls the batch back; the line-by-line replay then finds the culprit, if any.
            raise LineFailed(line, exc) from exc

    def _basis(self, subject: str | None, purposes: tuple[str, ...]) -> tuple[str, ...]:
        known = self.verdicts.setdefault(subject, {})
        missing = [p for p in purposes if p not in known]
        if missing:
            if subject is None or subject in self.created:
                allowed = set(self.ing.basis.without_consent(missing))
                fresh = {p: p in allowed for p in missing}
            else:
                # One read for every purpose of the kind, not one per purpose.
                # Through the batch's decisions: they see its pending consent writes.
                verdicts, horizon = self.decisions.verdicts_until([subject], missing)
                fresh = {p: verdict for (_, p), verdict in verdicts.items()}
                self._extend(horizon)
            known.update(fresh)
        return tuple(p for p in purposes if known[p])

    def _forget(self, subject: str | None) -> None:
        self.verdicts.pop(subject, None)
        self.allowed.pop(subject, None)

    def _apply(self, number: int, line: Line | Prepared) -> None:
        if isinstance(line, Prepared):
            self._prepared(number, line)
        elif isinstance(line, EventLine):
            self._event(number, line)
        elif isinstance(line, ConsentLine):
            self._consent(line)
        elif isinstance(line, TraitsLine):
            subject = self._subject(line.subject, create=True)
            assert subject is not None
            self._flush(subject)
            self.ing.traits.update(subject, line.traits, source=line.source, at=line.at)
            self.accepted += 1
        else:
            self._link(line)

    def _event(self, number: int, line: EventLine) -> None:
        event = line.event or self.ing.catalog.build(line.raw, now=line.at)
        doc = event.to_json()
        doc.pop("purposes")
        stored = Prepared(
            line.subject, event.at, self.ing.catalog.get(event.kind), event_millis(event.at), doc
        )
        self._prepared(number, stored)

    def _prepared(self, number: int, line: Prepared) -> None:
        """Buffer one validated event for the purposes of its kind that have a basis now."""
        subjects = self.subjects
        ident = line.subject
        subject = subjects[ident] if ident in subjects else self._subject(ident, create=False)
        kind = line.kind
        by_kind = self.allowed.get(subject)
        if by_kind is None:
            by_kind = self.allowed[subject] = {}
        purposes = by_kind.get(kind.name)
        if purposes is None:
            purposes = by_kind[kind.name] = self._basis(subject, kind.purposes)
        if not purposes:
            self.dropped += 1
            return
        if subject is None:
            subject = self._subject(ident, create=True)
            assert subject is not None
        # In place: a replay after a rollback sets the purposes afresh, and a line is
        # buffered once per attempt.
        doc = line.doc
        doc["purposes"] = list(purposes)
        docs = self.buffers.get(subject)
        if docs is None:
            self.buffers[subject] = [doc]
            self.first_line[subject] = number
            self.first_millis[subject] = line.millis
        else:
            docs.append(doc)
            self.first_millis[subject] = min(self.first_millis[subject], line.millis)
        self.accepted += 1

    def _consent(self, line: ConsentLine) -> None:
        subject = self._subject(line.subject, create=True)
        assert subject is not None
        self._flush(subject)
        common: dict[str, Any] = {"occurred_at": line.at, "context": line.context()}
        consent = self.decisions
        notice, version = line.notice, line.notice_version
        if line.status == "withdrawn":
            consent.withdraw(subject, line.purpose, notice=notice, notice_version=version, **common)
        else:
            # parse_line guarantees the notice of a grant or refusal.
            assert notice is not None
            assert version is not None
            decide = consent.grant if line.status == "given" else consent.refuse
            decide(subject, line.purpose, notice=notice, notice_version=version, **common)
        self._forget(subject)
        self.created.discard(subject)
        self.accepted += 1

    def _link(self, line: LinkLine) -> None:
        source = self._subject(line.subject, create=False)
        target = self._subject(line.to, create=False)
        for subject in (source, target):
            self._flush(subject)
            self._forget(subject)
        # The merge reads and writes ledgers through the kit's own consent manager.
        self.decisions.settle()
        self.created.clear()
        self.links.append(self.ing.linker(line.subject, line.to, line.at))
        # Identifiers may now point elsewhere: resolve every one afresh.
        self.subjects.clear()
        self.allowed.clear()
        self.accepted += 1


def pending(
    records: Iterable[str | bytes | Mapping[str, Any]], done: int
) -> Iterator[tuple[int, str | bytes | Mapping[str, Any]]]:
    """Numbered records (from 1), without those up to ``done`` and without blank lines."""
    for number, record in enumerate(records, start=1):
        if number <= done:
            continue  # applied by an earlier run with this checkpoint
        if isinstance(record, (str, bytes)) and not record.strip():
            continue  # blank lines (a trailing newline, say) are not records
        yield number, record


_CHECKPOINT_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def checkpoint_key(name: object) -> str:
    if not isinstance(name, str) or not _CHECKPOINT_RE.fullmatch(name):
        raise InvalidInput(
            "invalid checkpoint name",
            [
                Problem(
                    where="checkpoint", what="1 to 64 of a-z, 0-9, _ . - (starting alphanumeric)"
                )
            ],
        )
    return f"m/ingest/{name}"


def read_checkpoint(store: Store, key: str) -> int:
    raw = store.get(key)
    if raw is None:
        return 0
    line = loads(raw).get("line")
    return line if isinstance(line, int) and line >= 0 else 0


def write_checkpoint(store: Store, key: str, line: int) -> None:
    store.put(key, canonical_json({"line": line}))
