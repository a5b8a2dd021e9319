"""Getting data in: one event (:meth:`Ingestor.track`) or many records (:meth:`Ingestor.ingest`).

``personakit ingest`` drives the bulk path.

An event is stored only for the purposes that have a lawful basis for its subject *now*: the
manifest maps each event kind to the purposes that may use it; contract and legal-obligation
purposes always have one, legitimate interest unless the subject objected, consent only when
given. The event keeps that list of purposes, so a purchase kept under the contract basis does
not feed personalization unless personalization was consented to. An event with no basis for
any purpose is not stored: a typed outcome, counted, never an exception in bulk paths. The
rule itself is the consent package's :class:`~personakit.consent.BasisRule`.

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

import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from attrs import define, evolve

from personakit._args import check_callable, check_flag, raise_problems
from personakit._clock import Clock, to_micros
from personakit._codec import check_value, loads_input
from personakit.audit import AuditLog
from personakit.consent import BasisRule, ConsentManager, Manifest
from personakit.events import (
    CHANNELS,
    Event,
    EventCatalog,
    EventLog,
    event_millis,
    parse_timestamp,
)
from personakit.exceptions import InvalidInput, Problem, StorageConflict
from personakit.profiles import Identifier, IdentityIndex, TraitStore, parse_identifier
from personakit.storage import Store, bulk_writes, change_token
from personakit.workflows._batch import (
    Batch,
    LineFailed,
    Memo,
    Prepared,
    Tally,
    checkpoint_key,
    pending,
    read_checkpoint,
    write_checkpoint,
)
from personakit.workflows._lines import (
    ConsentLine,
    EventLine,
    Line,
    TraitsLine,
    parse_line,
    too_long,
)
from personakit.workflows._registry import Hooks
from personakit.workflows._results import IngestSummary, TrackResult

__all__ = ["DEFAULT_BATCH", "Ingestor"]

#: Lines per transaction. A batch holds the store's write lock while it is applied (a median
#: of 50-80 ms for 2,000 lines on the 2-core development machine, up to about 130 ms): larger
#: batches write fewer, larger per-subject chunks; smaller ones make other writers wait less.
DEFAULT_BATCH: Final = 2000
#: Whole-batch attempts when the store reports a lost deadlock, and the first pause (seconds).
_CONFLICT_ATTEMPTS: Final = 6
_CONFLICT_PAUSE: Final = 0.05
_EVENT_KEYS: Final = frozenset({"kind", "subject", "at", "name", "channel", "properties"})

_IDS_PER_READ: Final = 2048


class _EventIds(threading.local):
    """Event ids for the lean path, with one ``os.urandom`` per 2,048 ids instead of one each.

    Each id still carries 48 bits read from the operating system's CSPRNG, used once: the
    block is per thread and is dropped in a forked child (which would otherwise hand out the
    parent's next ids), so ids are exactly as unguessable as :func:`event_id_at`'s, for a tenth
    of the cost (a random read is a system call).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.block = ""
        self.used = 0

    def at(self, millis: int) -> str:
        if self.used >= len(self.block):
            self.block, self.used = os.urandom(6 * _IDS_PER_READ).hex(), 0
        start = self.used
        self.used += 12
        return f"evt_{millis:011x}{self.block[start : start + 12]}"


_EVENT_IDS: Final = _EventIds()
os.register_at_fork(after_in_child=_EVENT_IDS.reset)

#: Links two identifiers inside the caller's transaction: (anonymous, known, at) -> a result
#: that is handed to the finisher once the transaction has committed.
Linker = Callable[[Identifier, Identifier, datetime], Any]
LinkFinisher = Callable[[Any], None]


def _decoded(record: str | bytes | Mapping[str, Any]) -> object:
    """A line decoded, a caller's mapping checked; None where only the full parser can say."""
    try:
        if isinstance(record, (str, bytes)):
            return None if too_long(record) else loads_input(record)
        check_value(record)  # decoded text is checked by loads_input already
    except InvalidInput:
        return None
    return record


@define(kw_only=True, repr=False)
class Ingestor:
    """Validates, checks the basis of, and stores events and bulk records.

    ``linker`` links two identifiers inside bulk ingest's transaction; ``finish_link`` is
    handed its result after the commit (a merge shreds the merged subject's key only then).
    """

    store: Store
    clock: Clock
    manifest: Manifest
    catalog: EventCatalog
    identity: IdentityIndex
    consent: ConsentManager
    basis: BasisRule
    traits: TraitStore
    events: EventLog
    audit: AuditLog
    hooks: Hooks
    linker: Linker
    finish_link: LinkFinisher

    def __repr__(self) -> str:
        """Render with the number of event kinds."""
        return f"Ingestor(kinds={len(self.catalog.kinds())})"

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

        Raises :class:`InvalidInput` (every problem at once) for a bad event or identifier,
        properties that are not plain JSON (nested deeper than 64 levels, a number that is not
        finite, a lone surrogate, a type JSON lacks) or a time out of range; returns
        ``dropped_no_basis`` when no purpose of the kind has a lawful basis.
        """
        if isinstance(identifier, str):
            check_value(identifier, where="identifier")
        ident = identifier if isinstance(identifier, Identifier) else parse_identifier(identifier)
        given: object = {} if properties is None else properties
        if isinstance(given, Mapping):
            check_value(dict(given), where="$.properties")
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
        for attempt in range(_CONFLICT_ATTEMPTS):
            try:
                return self._track_once(ident, event, kind.purposes)
            except StorageConflict:
                # A lost deadlock rolled the whole transaction back (PostgreSQL: per-key
                # locks taken in different orders by concurrent writers): run it again, as
                # bulk ingest reruns a batch.
                if attempt + 1 == _CONFLICT_ATTEMPTS:
                    raise
                time.sleep(_CONFLICT_PAUSE * 2**attempt * (1 + random.random()))  # noqa: S311
        raise AssertionError  # pragma: no cover (the loop returns or raises)

    def _track_once(
        self, ident: Identifier, event: Event, kind_purposes: Sequence[str]
    ) -> TrackResult:
        with self.store.transaction():
            # Looked up inside the transaction that writes: the read locks the subject the
            # identifier names (PostgreSQL) or the store (SQLite), so a link or an erasure
            # that commits first is seen (the identifier then names the link's target, or
            # nothing and a fresh subject is made) and one that comes later waits for us.
            subject = self.identity.lookup(ident)
            purposes = self.basis.purposes_with_basis(subject, kind_purposes)
            if not purposes:
                return TrackResult(outcome="dropped_no_basis", subject=subject, event=None)
            stored = evolve(event, purposes=purposes)
            if subject is None:
                subject = self.identity.resolve(ident, create=True)
            self._store_events(subject, [stored])
        return TrackResult(outcome="stored", subject=subject, event=stored, purposes=purposes)

    def has_basis(self, subject: str, kind: str) -> bool:
        """Whether an event of ``kind`` would be stored for ``subject`` now (a known kind)."""
        if kind not in self.catalog or not self.identity.exists(subject):
            return False
        return bool(self.basis.purposes_with_basis(subject, self.catalog.get(kind).purposes))

    def track_subject(
        self,
        subject: str,
        name: str,
        *,
        channel: str,
        properties: Mapping[str, Any],
        at: datetime,
    ) -> bool:
        """Store one event for an existing subject pseudonym (engagement feedback).

        For events a capability observes about a subject it already knows (an e-mail
        opened, a link clicked): the subject is never created, and the event is stored only
        under the purposes of its kind that have a lawful basis now. Returns whether it was
        stored. Joins the caller's transaction; :class:`InvalidInput` for a bad event.
        """
        event = self.catalog.build(
            {"name": name, "channel": channel, "properties": dict(properties), "at": at},
            now=self.clock.now(),
        )
        with self.store.transaction():
            if not self.identity.exists(subject):
                return False  # erased (or merged away) since: nothing is recorded
            purposes = self.basis.purposes_with_basis(subject, self.catalog.get(name).purposes)
            if not purposes:
                return False
            self._store_events(subject, [evolve(event, purposes=purposes)])
        return True

    def _store_events(self, subject: str, events: Sequence[Event]) -> None:
        self.events.append(subject, events)
        self.hooks.events(subject, events)

    def _store_docs(self, chunks: list[tuple[str, list[dict[str, Any]], int]]) -> None:
        # Bulk ingest's form of _store_events, for (subject, docs, first_millis) of several
        # subjects: the docs are the stored form already, written in one store call.
        self.events.append_many(chunks)
        if self.hooks.has_events_hooks:  # decoding the chunks back costs; skip it when unheard
            for subject, docs, _ in chunks:
                self.hooks.events(subject, [Event.from_json(doc) for doc in docs])

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
        problems: list[Problem] = []
        if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
            problems.append(Problem(where="records", what="must be an iterable of records"))
        check_flag(strict, "strict", problems)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            problems.append(Problem(where="batch_size", what="must be an int >= 1"))
        check_callable(progress, "progress", problems)
        raise_problems("invalid ingest", problems)
        key = None if checkpoint is None else checkpoint_key(checkpoint)
        done = 0 if key is None else read_checkpoint(self.store, key)
        tally = Tally(checkpoint=key, resumed_after=done if key is not None else None)
        with bulk_writes(self.store):
            return self._ingest(
                records, done, tally, strict=strict, batch_size=batch_size, progress=progress
            )

    def _ingest(
        self,
        records: Iterable[str | bytes | Mapping[str, Any]],
        done: int,
        tally: Tally,
        *,
        strict: bool,
        batch_size: int,
        progress: Callable[[int], None] | None,
    ) -> IngestSummary:
        memo = Memo()
        batch: list[tuple[int, Line | Prepared]] = []
        # The batch's identifiers by their text, so that an e-mail address or phone number
        # seen again in the batch is not normalized again (about 135 µs each). Emptied with
        # each batch: it keeps nothing the batch's own lines do not hold anyway, where the
        # process-wide memo of parse_identifier must never hold personal identifiers.
        names: dict[str, Identifier] = {}
        for number, record in pending(records, done):
            tally.seen = number
            try:
                batch.append(
                    (number, self._fast_event(record, names) or self._prepare(parse_line(record)))
                )
            except InvalidInput as exc:
                tally.reject(number, exc)
                if strict:
                    self._apply_batch(batch, tally, memo, strict=True, through=number - 1)
                    return tally.summary(stopped_at=number)
            if len(batch) >= batch_size:
                failed = self._apply_batch(batch, tally, memo, strict=strict, through=number)
                batch = []
                names.clear()
                if failed is not None:
                    return tally.summary(stopped_at=failed)
                if progress is not None:
                    progress(number)
        failed = self._apply_batch(batch, tally, memo, strict=strict, through=tally.seen)
        if progress is not None and tally.seen:
            progress(tally.seen)
        return tally.summary(stopped_at=failed)

    def _fast_event(
        self,
        record: str | bytes | Mapping[str, Any],
        names: dict[str, Identifier] | None = None,
    ) -> Prepared | None:
        """The common case of bulk ingest, a well-formed event line, without error reporting.

        Returns None for anything unusual (another kind, a missing or extra field, a bad value):
        the full parser then runs and writes the error messages. Accepts exactly what
        ``_prepare(parse_line(record))`` accepts (a property test checks that). ``names``
        memoizes the batch's parsed identifiers by their text (valid ones only).
        """
        decoded = isinstance(record, (str, bytes))
        doc = _decoded(record)
        if (
            not isinstance(doc, dict)
            or doc.get("kind") != "event"
            or not _EVENT_KEYS.issuperset(doc)
        ):
            return None
        name = doc.get("name")
        kind = self.catalog.kinds_map.get(name) if isinstance(name, str) else None
        properties = doc.get("properties", {})
        at_text = doc.get("at")
        if (
            kind is None
            or doc.get("channel") not in CHANNELS
            or not isinstance(properties, dict)
            or not isinstance(at_text, str)
            # _decoded refused lone surrogates already (loads_input or check_value).
            or not kind.validator.is_valid(properties, surrogates_checked=True)
        ):
            return None
        text = doc.get("subject")
        known = names.get(text) if names is not None and isinstance(text, str) else None
        try:
            subject = known or parse_identifier(text, where="$.subject")
            at = parse_timestamp(at_text, where="$.at")
        except InvalidInput:
            return None
        if known is None and names is not None and isinstance(text, str):
            names[text] = subject
        millis = event_millis(at)
        # The stored form (Event.to_json without the purposes), built directly: an Event
        # object per line costs more than the rest of the line's preparation.
        stored = {
            "id": _EVENT_IDS.at(millis),
            "kind": kind.name,
            "channel": doc["channel"],
            "at": at.isoformat(),
            # A caller's mapping is copied, so changing it later cannot alter what was checked.
            "properties": properties if decoded else dict(properties),
        }
        return Prepared(subject, at, kind, millis, stored)

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
                occurred_at=line.at,
                context=line.context(),
            )
        elif isinstance(line, ConsentLine):
            if line.purpose != "all":
                self.manifest.purpose(line.purpose, where="$.purpose")
            # Checked before the batch: a withdrawal refused while applied would leave the
            # data key made for a new subject behind in the key store.
            self.consent.validate_withdrawal(
                line.purpose,
                notice=line.notice,
                notice_version=line.notice_version,
                occurred_at=line.at,
                context=line.context(),
            )
        return line

    def _apply_batch(
        self,
        batch: list[tuple[int, Line | Prepared]],
        tally: Tally,
        memo: Memo,
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
                write_checkpoint(self.store, tally.checkpoint, through)
            return None
        # Subjects created by a first attempt that rolled back keep their pseudonyms on replay,
        # so the data keys already made for them in the key store are used, not orphaned.
        assigned: dict[Identifier, str] = {}
        for attempt in range(_CONFLICT_ATTEMPTS):
            applied = Batch(self, assigned)
            try:
                with self.store.transaction():
                    # Both tokens are taken under the write lock: nobody can commit between
                    # the check and the batch's writes, nor between its last write and the token.
                    memo.lend(applied, change_token(self.store), to_micros(self.clock.now()))
                    counts = applied.run(batch)
                    if tally.checkpoint is not None:
                        write_checkpoint(self.store, tally.checkpoint, through)
                    token = change_token(self.store)
            except (LineFailed, StorageConflict) as failed:
                # A conflict while the batch prefetches comes bare; one while a line applies
                # comes as that line's failure.
                error = failed.error if isinstance(failed, LineFailed) else failed
                if isinstance(error, StorageConflict) and attempt + 1 < _CONFLICT_ATTEMPTS:
                    # Another writer won a deadlock against this batch (PostgreSQL, locks by
                    # subject) and the batch rolled back whole, its locks with it: run it
                    # again after a random pause rather than reject its lines.
                    time.sleep(_CONFLICT_PAUSE * 2**attempt * (1 + random.random()))  # noqa: S311
                    continue
                return self._replay(batch, assigned, tally, strict=strict, through=through)
            memo.keep(applied, token)
            tally.add(counts)
            self._finished(applied)
            return None
        raise AssertionError  # pragma: no cover (the loop returns)

    def _replay(
        self,
        batch: list[tuple[int, Line | Prepared]],
        assigned: dict[Identifier, str],
        tally: Tally,
        *,
        strict: bool,
        through: int,
    ) -> int | None:
        # A line failed while being applied and the whole batch rolled back. Replay it one
        # line per transaction so that exactly that line is rejected and the others land.
        for number, line in batch:
            single = Batch(self, assigned)
            try:
                with self.store.transaction():
                    tally.add(single.run([(number, line)]))
                    if tally.checkpoint is not None:
                        write_checkpoint(self.store, tally.checkpoint, number)
                self._finished(single)
            except LineFailed as failed:
                tally.reject(failed.number, failed.error)
                if strict:
                    return failed.number
        if tally.checkpoint is not None:
            write_checkpoint(self.store, tally.checkpoint, through)
        return None

    def _finished(self, applied: Batch) -> None:
        # Only now, after the commit, may merged subjects' keys be shredded.
        for result in applied.links:
            self.finish_link(result)
