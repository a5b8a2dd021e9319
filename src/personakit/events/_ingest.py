"""Getting data in: one event (:meth:`Ingestor.track`) or many records (:meth:`Ingestor.ingest`).

``personakit ingest`` drives the bulk path.

An event is stored only for the purposes that have a lawful basis for its subject *now*: the
manifest maps each event kind to the purposes that may use it; contract and legal-obligation
purposes always have one, legitimate interest unless the subject objected, consent only when
given. The event keeps that list of purposes, so a purchase kept under the contract basis does
not feed personalization unless personalization was consented to. An event with no basis for
any purpose is not stored: a typed outcome, counted, never an exception in bulk paths.

Bulk ingest applies records in order, in transactions of ``batch_size`` lines. Each line is
accepted whole or rejected whole: it is fully validated before anything is written, and a line
that fails while being applied rolls back alone (the batch is replayed line by line). Within a
batch, identifier resolution and consent verdicts are cached per subject, and events are
buffered per subject and written as one chunk; a subject's buffer is flushed before any consent,
trait or link record of that subject is applied, so a withdrawal later in the file also reaches
events earlier in the file.

Between batches of one :meth:`Ingestor.ingest` call, those caches are kept only while the store
proves that nothing was written in between (:class:`~personakit.storage.ChangeTracking`: a
withdrawal committed by another process, thread or by the caller's own code between two batches
empties them) and no allowed consent has expired since; otherwise the next batch reads afresh.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

from attrs import field, frozen

from personakit._clock import Clock
from personakit._codec import canonical_json, loads
from personakit.audit import AuditLog
from personakit.consent import ConsentManager, Manifest
from personakit.consent._records import to_micros
from personakit.events._lines import ConsentLine, EventLine, Line, LinkLine, TraitsLine, parse_line
from personakit.events._model import (
    CHANNELS,
    Event,
    EventCatalog,
    EventKind,
    event_id_at,
    event_millis,
    parse_timestamp,
)
from personakit.events._store import EventLog
from personakit.exceptions import InvalidInput, PersonakitError, Problem
from personakit.profiles import Identifier, IdentityIndex, parse_identifier
from personakit.profiles._traits import TraitStore
from personakit.storage import Store, bulk_writes, change_token

__all__ = ["IngestError", "IngestSummary", "Ingestor", "TrackResult"]

#: Lines per transaction. A batch holds the store's write lock while it is applied (a median
#: of 50-80 ms for 2,000 lines on the 2-core development machine, up to about 130 ms): larger
#: batches write fewer, larger per-subject chunks; smaller ones make other writers wait less.
DEFAULT_BATCH: Final = 2000
_MAX_ERRORS: Final = 1000
_PREFETCH_MIN: Final = 16  # below this, reading subject by subject is as cheap
_EVENT_KEYS: Final = frozenset(
    {"kind", "subject", "at", "name", "channel", "properties"}
)  # errors listed in a summary; the counts stay exact beyond that

#: Called with (subject, events) after events are stored, in the same transaction; the
#: personalization components update derived data (affinities, co-occurrence) through it.
EventsHook = Callable[[str, Sequence[Event]], None]
#: Links two identifiers inside the caller's transaction: (anonymous, known, at) -> a result
#: that is handed to the finisher once the transaction has committed.
Linker = Callable[[Identifier, Identifier, datetime], Any]
LinkFinisher = Callable[[Any], None]


@frozen(kw_only=True)
class TrackResult:
    """Outcome of :meth:`Ingestor.track`: stored (with the purposes) or dropped for no basis."""

    outcome: Literal["stored", "dropped_no_basis"]
    subject: str | None
    event: Event | None
    purposes: tuple[str, ...] = ()


@frozen(kw_only=True)
class IngestError:
    """A rejected line: its number (from 1) and what was wrong (never the offending value)."""

    line: int
    error: str

    def to_json(self) -> dict[str, Any]:
        """``{"line": L, "error": "..."}``."""
        return {"line": self.line, "error": self.error}


@frozen(kw_only=True)
class IngestSummary:
    """What a bulk ingest did."""

    accepted: int
    rejected: int
    dropped_no_basis: int
    errors: tuple[IngestError, ...] = field(factory=tuple)
    stopped_at: int | None = None
    resumed_after: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary ``personakit ingest`` prints last."""
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "dropped_no_basis": self.dropped_no_basis,
            "errors": [e.to_json() for e in self.errors],
        }
        if self.stopped_at is not None:
            out["stopped_at_line"] = self.stopped_at
        if self.resumed_after is not None:
            out["resumed_after_line"] = self.resumed_after
        return out


class Ingestor:
    """Validates, checks the basis of, and stores events and bulk records."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        manifest: Manifest,
        catalog: EventCatalog,
        identity: IdentityIndex,
        consent: ConsentManager,
        traits: TraitStore,
        events: EventLog,
        audit: AuditLog,
        linker: Linker,
        finish_link: LinkFinisher,
    ) -> None:
        """Wire the pipeline to the kit's components."""
        self.store = store
        self.clock = clock
        self.manifest = manifest
        self.catalog = catalog
        self.identity = identity
        self.consent = consent
        self.traits = traits
        self.events = events
        self.audit = audit
        self._link = linker
        self._finish_link = finish_link
        self._hooks: list[EventsHook] = []

    def __repr__(self) -> str:
        """Render with the number of event kinds."""
        return f"Ingestor(kinds={len(self.catalog.kinds())})"

    def on_events(self, hook: EventsHook) -> None:
        """Call ``hook(subject, events)`` whenever events are stored (same transaction)."""
        self._hooks.append(hook)

    # -- basis -----------------------------------------------------------------------------

    def _basis_without_consent(self, purposes: Iterable[str]) -> tuple[str, ...]:
        # For a subject with no ledger: contract / legal obligation always, legitimate interest
        # (no objection can exist yet), never consent.
        return tuple(
            p
            for p in purposes
            if (found := self.manifest.get_purpose(p)) is not None and not found.needs_consent
        )

    def _purposes_with_basis(self, subject: str | None, purposes: Iterable[str]) -> tuple[str, ...]:
        if subject is None:
            return self._basis_without_consent(purposes)
        return tuple(p for p in purposes if self.consent.allowed(subject, p))

    def may_store_category(self, subject: str, category: str) -> bool:
        """Whether some purpose using ``category`` has a lawful basis for ``subject`` now."""
        using = [p.id for p in self.manifest.purposes if category in p.data_categories]
        return bool(self._purposes_with_basis(subject, using))

    def erase_for_purpose(self, subject: str, purpose: str) -> int:
        """Withdrawal cascade for ``purpose``: what was kept only for it goes.

        Events lose ``purpose`` from their purposes and are deleted when none is left; traits
        whose category no other purpose with a current basis covers are deleted. Returns how
        many events and traits were deleted. Runs inside the withdrawal's transaction.
        """

        def strip(event: Event) -> Event | None:
            if purpose not in event.purposes:
                return event
            left = tuple(p for p in event.purposes if p != purpose)
            return _with_purposes(event, left) if left else None

        deleted, _ = self.events.transform(subject, strip)
        doomed = []
        for name in self.traits.get(subject):
            category = self.traits.declarations[name].category
            others = [
                p.id
                for p in self.manifest.purposes
                if category in p.data_categories and p.id != purpose
            ]
            if not self._purposes_with_basis(subject, others):
                doomed.append(name)
        return deleted + self.traits.remove(subject, doomed)

    # -- one event -----------------------------------------------------------------------------

    def track(
        self,
        identifier: str | Identifier,
        name: str,
        *,
        channel: str,
        properties: Mapping[str, Any] | None = None,
        at: datetime | str | None = None,
    ) -> TrackResult:
        """Validate and store one event for ``identifier`` (creating the subject if needed).

        Raises :class:`InvalidInput` (every problem at once) for a bad event or identifier;
        returns ``dropped_no_basis`` when no purpose of the kind has a lawful basis.
        """
        ident = identifier if isinstance(identifier, Identifier) else parse_identifier(identifier)
        given: object = {} if properties is None else properties
        # The catalog rejects a non-object with a typed error; mappings are copied so that the
        # caller changing theirs later cannot alter what was validated.
        raw: dict[str, Any] = {
            "name": name,
            "channel": channel,
            "properties": dict(given) if isinstance(given, Mapping) else given,
        }
        if at is not None:
            raw["at"] = at
        event = self.catalog.build(raw, now=self.clock.now())
        kind = self.catalog.get(event.kind)
        subject = self.identity.lookup(ident)
        purposes = self._purposes_with_basis(subject, kind.purposes)
        if not purposes:
            return TrackResult(outcome="dropped_no_basis", subject=subject, event=None)
        stored = _with_purposes(event, purposes)
        with self.store.transaction():
            if subject is None:
                subject = self.identity.resolve(ident, create=True)
            self._store_events(subject, [stored])
        return TrackResult(outcome="stored", subject=subject, event=stored, purposes=purposes)

    def _store_events(self, subject: str, events: Sequence[Event]) -> None:
        self.events.append(subject, events)
        for hook in self._hooks:
            hook(subject, events)

    def _store_docs(self, chunks: list[tuple[str, list[dict[str, Any]], int]]) -> None:
        # Bulk ingest's form of _store_events, for (subject, docs, first_millis) of several
        # subjects: the docs are the stored form already, written in one store call.
        self.events.append_many(chunks)
        for hook in self._hooks:
            for subject, docs, _ in chunks:
                hook(subject, [Event.from_json(doc) for doc in docs])

    # -- bulk ------------------------------------------------------------------------------

    def ingest(
        self,
        records: Iterable[str | bytes | Mapping[str, Any]],
        *,
        strict: bool = False,
        batch_size: int = DEFAULT_BATCH,
        progress: Callable[[int], None] | None = None,
        checkpoint: str | None = None,
    ) -> IngestSummary:
        """Apply records (JSON lines or decoded mappings) in order; see the module docstring.

        With ``strict``, stop at the first rejected line; nothing of that line is written (lines
        before it are). ``progress(lines_done)`` is called after each batch.

        With ``checkpoint`` (a short name), the number of the last line applied is stored in
        the same transaction as each batch, and a later run with the same name skips the lines
        up to it: an import killed half-way resumes exactly where its last commit ended.
        """
        if batch_size < 1:
            raise InvalidInput(
                "invalid batch size", [Problem(where="batch_size", what="must be >= 1")]
            )
        key = None if checkpoint is None else _checkpoint_key(checkpoint)
        done = 0 if key is None else _read_checkpoint(self.store, key)
        tally = _Tally(checkpoint=key, resumed_after=done if key is not None else None)
        with bulk_writes(self.store):
            return self._ingest(
                records, done, tally, strict=strict, batch_size=batch_size, progress=progress
            )

    def _ingest(
        self,
        records: Iterable[str | bytes | Mapping[str, Any]],
        done: int,
        tally: _Tally,
        *,
        strict: bool,
        batch_size: int,
        progress: Callable[[int], None] | None,
    ) -> IngestSummary:
        memo = _Memo()
        batch: list[tuple[int, Line | _Prepared]] = []
        for number, record in _pending(records, done):
            tally.seen = number
            try:
                batch.append(
                    (number, self._fast_event(record) or self._prepare(parse_line(record)))
                )
            except InvalidInput as exc:
                tally.reject(number, exc)
                if strict:
                    self._apply_batch(batch, tally, memo, strict=True, through=number - 1)
                    return tally.summary(stopped_at=number)
            if len(batch) >= batch_size:
                failed = self._apply_batch(batch, tally, memo, strict=strict, through=number)
                batch = []
                if failed is not None:
                    return tally.summary(stopped_at=failed)
                if progress is not None:
                    progress(number)
        failed = self._apply_batch(batch, tally, memo, strict=strict, through=tally.seen)
        if progress is not None and tally.seen:
            progress(tally.seen)
        return tally.summary(stopped_at=failed)

    def _fast_event(self, record: str | bytes | Mapping[str, Any]) -> _Prepared | None:
        """The common case of bulk ingest, a well-formed event line, without duplicate checks.

        Returns None for anything unusual (another kind, a missing or extra field, a bad value):
        the full parser then runs and writes the error messages. Accepts exactly what
        ``_prepare(parse_line(record))`` accepts (a property test checks that).
        """
        if isinstance(record, (str, bytes)):
            try:
                doc, decoded = loads(record), True
            except (ValueError, UnicodeDecodeError):
                return None
        else:
            doc, decoded = record, False
        if (
            not isinstance(doc, dict)
            or doc.get("kind") != "event"
            or not _EVENT_KEYS.issuperset(doc)
        ):
            return None
        kind = self.catalog.kinds_map.get(doc.get("name"))  # type: ignore[arg-type]
        properties = doc.get("properties", {})
        at_text = doc.get("at")
        if (
            kind is None
            or doc.get("channel") not in CHANNELS
            or not isinstance(properties, dict)
            or not isinstance(at_text, str)
            or not kind.validator.is_valid(properties)
        ):
            return None
        try:
            subject = parse_identifier(doc.get("subject"), where="$.subject")
            at = parse_timestamp(at_text, where="$.at")
        except InvalidInput:
            return None
        millis = event_millis(at)
        # The stored form (Event.to_json without the purposes), built directly: an Event
        # object per line costs more than the rest of the line's preparation.
        stored = {
            "id": event_id_at(millis),
            "kind": kind.name,
            "channel": doc["channel"],
            "at": at.isoformat(),
            # A caller's mapping is copied, so changing it later cannot alter what was checked.
            "properties": properties if decoded else dict(properties),
        }
        return _Prepared(subject, at, kind, millis, stored)

    def _prepare(self, line: Line) -> Line:
        """Check everything that does not depend on the store, before the batch is applied.

        A batch that fails while being applied is rolled back and replayed line by line;
        catching what we can here keeps that rare.
        """
        if isinstance(line, EventLine):
            event = self.catalog.build(line.raw, now=line.at)
            return EventLine(subject=line.subject, at=line.at, raw=line.raw, event=event)
        if isinstance(line, TraitsLine):
            self.traits.validate(dict(line.traits))
        elif isinstance(line, ConsentLine) and line.status != "withdrawn":
            assert line.notice is not None
            assert line.notice_version is not None
            self.consent.validate_decision(
                line.status,
                line.purpose,
                notice=line.notice,
                notice_version=line.notice_version,
                source=line.source,
                method=line.method,
                jurisdiction=line.jurisdiction,
                occurred_at=line.at,
            )
        elif isinstance(line, ConsentLine) and line.purpose != "all":
            self.manifest.purpose(line.purpose, where="$.purpose")
        return line

    def _apply_batch(
        self,
        batch: list[tuple[int, Line | _Prepared]],
        tally: _Tally,
        memo: _Memo,
        *,
        strict: bool,
        through: int,
    ) -> int | None:
        """Apply a batch; return the number of the line that stopped a strict run, if any.

        ``through`` is the number of the last line the batch accounts for (rejected lines
        included); with a checkpoint it is recorded in the batch's own transaction.
        """
        if not batch:
            if tally.checkpoint is not None and through > 0:
                _write_checkpoint(self.store, tally.checkpoint, through)
            return None
        # Subjects created by a first attempt that rolled back keep their pseudonyms on replay,
        # so the data keys already made for them in the key store are used, not orphaned.
        assigned: dict[Identifier, str] = {}
        applied = _Batch(self, assigned)
        try:
            with self.store.transaction():
                # Both tokens are taken under the write lock: nobody can commit between the
                # check and the batch's writes, nor between its last write and the token.
                memo.lend(applied, change_token(self.store), to_micros(self.clock.now()))
                counts = applied.run(batch)
                if tally.checkpoint is not None:
                    _write_checkpoint(self.store, tally.checkpoint, through)
                token = change_token(self.store)
        except _LineFailed:
            # A line failed while being applied and the whole batch rolled back. Replay it one
            # line per transaction so that exactly that line is rejected and the others land.
            for number, line in batch:
                single = _Batch(self, assigned)
                try:
                    with self.store.transaction():
                        tally.add(single.run([(number, line)]))
                        if tally.checkpoint is not None:
                            _write_checkpoint(self.store, tally.checkpoint, number)
                    self._finished(single)
                except _LineFailed as failed:
                    tally.reject(failed.number, failed.error)
                    if strict:
                        return failed.number
            if tally.checkpoint is not None:
                _write_checkpoint(self.store, tally.checkpoint, through)
            return None
        memo.keep(applied, token)
        tally.add(counts)
        self._finished(applied)
        return None

    def _finished(self, applied: _Batch) -> None:
        # Only now, after the commit, may merged subjects' keys be shredded.
        for result in applied.links:
            self._finish_link(result)


class _Prepared:
    """An event line, fully validated: its stored form without the purposes, and its subject.

    A plain class with slots rather than an attrs one: bulk ingest makes one per line.
    """

    __slots__ = ("at", "doc", "kind", "millis", "subject")

    def __init__(
        self, subject: Identifier, at: datetime, kind: EventKind, millis: int, doc: dict[str, Any]
    ) -> None:
        self.subject = subject
        self.at = at
        self.kind = kind
        self.millis = millis
        self.doc = doc


class _LineFailed(Exception):
    """A line could not be applied (rolls the transaction back)."""

    def __init__(self, number: int, error: PersonakitError) -> None:
        self.number = number
        self.error = error


class _Tally:
    def __init__(self, *, checkpoint: str | None = None, resumed_after: int | None = None) -> None:
        self.checkpoint = checkpoint
        self.resumed_after = resumed_after
        self.accepted = 0
        self.rejected = 0
        self.dropped = 0
        self.errors: list[IngestError] = []
        self.seen = 0

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


class _Memo:
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
        self.verdicts: dict[tuple[str | None, str], bool] = {}
        self.allowed: dict[tuple[str | None, str], tuple[str, ...]] = {}

    def _reset(self) -> None:
        self.token, self.horizon = None, None
        self.subjects, self.verdicts, self.allowed = {}, {}, {}

    def lend(self, batch: _Batch, token: object | None, now_us: int) -> None:
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

    def keep(self, batch: _Batch, token: object | None) -> None:
        if token is not None:
            self.token, self.horizon = token, batch.horizon
            self.subjects, self.verdicts, self.allowed = (
                batch.subjects,
                batch.verdicts,
                batch.allowed,
            )


class _Batch:
    """Applies parsed lines inside one transaction, with per-batch caches and buffers."""

    def __init__(self, ingestor: Ingestor, assigned: dict[Identifier, str]) -> None:
        self.ing = ingestor
        self.assigned = assigned
        self.accepted = 0
        self.dropped = 0
        self.subjects: dict[Identifier, str | None] = {}
        # (subject, purpose) -> basis now. Sound for the whole batch: its transaction holds the
        # store's write lock, so no other process can change consent meanwhile.
        self.verdicts: dict[tuple[str | None, str], bool] = {}
        # Earliest expiry (µs) of an allowed verdict in ``verdicts``: see _Memo.
        self.horizon: int | None = None
        # (subject, kind) -> the kind's purposes with a basis; derived from ``verdicts``.
        self.allowed: dict[tuple[str | None, str], tuple[str, ...]] = {}
        # Per subject: stored forms of its buffered events, its first line, earliest time.
        self.buffers: dict[str, list[dict[str, Any]]] = {}
        self.first_line: dict[str, int] = {}
        self.first_millis: dict[str, int] = {}
        self.links: list[Any] = []

    def run(self, lines: list[tuple[int, Line | _Prepared]]) -> tuple[int, int]:
        """Apply the lines; return (accepted, dropped). Raises _LineFailed on the first failure."""
        self._prefetch(lines)
        for number, line in lines:
            try:
                self._apply(number, line)
            except PersonakitError as exc:
                raise _LineFailed(number, exc) from exc
        self._flush_all()
        return self.accepted, self.dropped

    def _prefetch(self, lines: list[tuple[int, Line | _Prepared]]) -> None:
        """Warm the caches for the batch's events: two store reads instead of two per subject.

        Only fills the caches the lines would fill one by one, with the state before the
        batch; a consent or link line later in the batch invalidates them as usual.
        """
        events = [line for _, line in lines if isinstance(line, (EventLine, _Prepared))]
        if len(events) < _PREFETCH_MIN:
            return
        idents = {line.subject for line in events}
        unknown = [ident for ident in idents if ident not in self.subjects]
        if unknown:
            found = self.ing.identity.lookup_many(unknown)
            for ident in unknown:
                self.subjects[ident] = found.get(ident)
        kinds: set[str] = set()
        for line in events:
            if isinstance(line, _Prepared):
                kinds.add(line.kind.name)
            elif line.event is not None:
                kinds.add(line.event.kind)
        purposes = {p for kind in kinds for p in self.ing.catalog.get(kind).purposes}
        verdicts = self.verdicts
        subjects = {
            subject
            for ident in idents
            if (subject := self.subjects[ident]) is not None
            and any((subject, p) not in verdicts for p in purposes)
        }
        if subjects and purposes:
            fresh, horizon = self.ing.consent.verdicts_until(subjects, purposes)
            for pair, verdict in fresh.items():
                verdicts[pair] = verdict
            self._extend(horizon)

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
            self.ing._store_docs(chunks)  # noqa: SLF001 (the batch is the ingestor's)
        except PersonakitError as exc:
            # Rolls the batch back; the line-by-line replay then finds the culprit, if any.
            raise _LineFailed(line, exc) from exc

    def _basis(self, subject: str | None, purposes: tuple[str, ...]) -> tuple[str, ...]:
        missing = [p for p in purposes if (subject, p) not in self.verdicts]
        if missing:
            if subject is None:
                allowed = set(self.ing._basis_without_consent(missing))  # noqa: SLF001
                fresh = {p: p in allowed for p in missing}
            else:
                # One read for every purpose of the kind, not one per purpose.
                verdicts, horizon = self.ing.consent.verdicts_until([subject], missing)
                fresh = {p: verdict for (_, p), verdict in verdicts.items()}
                self._extend(horizon)
            for purpose, verdict in fresh.items():
                self.verdicts[(subject, purpose)] = verdict
        return tuple(p for p in purposes if self.verdicts[(subject, p)])

    def _forget(self, subject: str | None) -> None:
        self.verdicts = {k: v for k, v in self.verdicts.items() if k[0] != subject}
        self.allowed = {k: v for k, v in self.allowed.items() if k[0] != subject}

    def _apply(self, number: int, line: Line | _Prepared) -> None:
        if isinstance(line, _Prepared):
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
        stored = _Prepared(
            line.subject, event.at, self.ing.catalog.get(event.kind), event_millis(event.at), doc
        )
        self._prepared(number, stored)

    def _prepared(self, number: int, line: _Prepared) -> None:
        """Buffer one validated event for the purposes of its kind that have a basis now."""
        subjects = self.subjects
        ident = line.subject
        subject = subjects[ident] if ident in subjects else self._subject(ident, create=False)
        kind = line.kind
        purposes = self.allowed.get((subject, kind.name))
        if purposes is None:
            purposes = self.allowed[(subject, kind.name)] = self._basis(subject, kind.purposes)
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
        common: dict[str, Any] = {
            "source": line.source,
            "method": line.method,
            "jurisdiction": line.jurisdiction,
            "occurred_at": line.at,
            "actor": "ingest",
        }
        consent = self.ing.consent
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
        self.accepted += 1

    def _link(self, line: LinkLine) -> None:
        source = self._subject(line.subject, create=False)
        target = self._subject(line.to, create=False)
        for subject in (source, target):
            self._flush(subject)
            self._forget(subject)
        self.links.append(self.ing._link(line.subject, line.to, line.at))  # noqa: SLF001
        # Identifiers may now point elsewhere: resolve every one afresh.
        self.subjects.clear()
        self.allowed.clear()
        self.accepted += 1


def _with_purposes(event: Event, purposes: tuple[str, ...]) -> Event:
    return Event(
        id=event.id,
        kind=event.kind,
        channel=event.channel,
        at=event.at,
        properties=event.properties,
        purposes=purposes,
    )


def _pending(
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


def _checkpoint_key(name: object) -> str:
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


def _read_checkpoint(store: Store, key: str) -> int:
    raw = store.get(key)
    if raw is None:
        return 0
    line = loads(raw).get("line")
    return line if isinstance(line, int) and line >= 0 else 0


def _write_checkpoint(store: Store, key: str, line: int) -> None:
    store.put(key, canonical_json({"line": line}))
