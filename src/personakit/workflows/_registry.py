"""The registries capabilities plug into, so that they never import one another.

A capability (personalization, recommendations, journeys, analytics, ...) is given
``kit.registries`` and declares there what it keeps and what it offers:

* :class:`RecordKinds`: every kind of record personakit keeps about a subject (or shared
  state a subject contributes to), with its owner, the purposes it serves, its export section,
  its retention sweeper, its withdrawal eraser and, for shared state, its erasure remover.
  Export, erasure, retention and the withdrawal cascade iterate over it, and a property test
  checks that every kind found in a store is registered.
* :class:`Hooks`: called in the same store transaction on every accepted event batch and on
  every merge of two subjects (withdrawal and erasure go through the record kinds).
* :class:`SegmentRegistry`: named segment providers ("is this subject in segment X").
* :class:`DatasetRegistry`: named datasets offered to analytics.

Everything is per kit (no global state) and validated on registration: a bad name, a taken
name, an unknown purpose or a missing handler raise :class:`InvalidInput` listing every
problem.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final, Generic, Literal, Protocol, TypeVar, runtime_checkable

from attrs import field, frozen

from personakit._codec import loads
from personakit.consent import CascadeRegistry, Manifest
from personakit.events import Event
from personakit.exceptions import InvalidInput, Problem

__all__ = [
    "BatchEndHook",
    "ContributionRemover",
    "DatasetProvider",
    "DatasetRegistry",
    "EventsHook",
    "ExportRecord",
    "Hooks",
    "MergeHook",
    "RecordExporter",
    "RecordKind",
    "RecordKinds",
    "Registries",
    "RestrictionHook",
    "RetentionSweep",
    "SegmentChange",
    "SegmentChangeHook",
    "SegmentProvider",
    "SegmentRegistry",
    "TraitsHook",
    "WithdrawalEraser",
]

_KIND_RE: Final = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_SECTION_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")

#: Called with (subject, events) after events are stored, in the same transaction.
EventsHook = Callable[[str, Sequence[Event]], None]
#: Called with (source, target) when ``source`` is merged into ``target`` (same transaction).
MergeHook = Callable[[str, str], None]
#: Called with (subject, names of the traits set or removed), in the profile write transaction.
TraitsHook = Callable[[str, Sequence[str]], None]
#: Called with each change of a segment's members, in the transaction that made it.
SegmentChangeHook = Callable[["SegmentChange"], None]
#: Called with the subject when processing is restricted (GDPR Art. 18) or the restriction is
#: lifted, in the transaction that records it.
RestrictionHook = Callable[[str], None]
#: Called at the end of a batch (:meth:`Hooks.batch`) on the thread that ran it: with
#: ``"commit"`` inside its transaction, before COMMIT, to write what was deferred; with
#: ``"rollback"`` when the batch failed (its transaction rolls back), to drop it.
BatchEndHook = Callable[[Literal["commit", "rollback"]], None]
#: Deletes what of one record kind has outlived its retention: (subject, now) -> items removed.
RetentionSweep = Callable[[str, datetime], int]


@frozen(kw_only=True)
class SegmentChange:
    """A subject entered or left a segment (journeys trigger on these).

    ``at`` is when the change was recorded (the ingest, refresh or withdrawal that made it).
    """

    subject: str
    segment: str
    change: str  # "entered" or "left"
    at: datetime


@frozen(kw_only=True)
class ExportRecord:
    """One decrypted record of the subject being exported: its kind, name and plaintext."""

    kind: str
    name: str
    plaintext: bytes

    def json(self) -> Any:
        """The plaintext decoded as JSON (raises ValueError if it is not JSON)."""
        return loads(self.plaintext)

    def generic(self) -> dict[str, Any]:
        """The record as it appears in ``other_records``: JSON if it decodes, else base64."""
        try:
            content: Any = loads(self.plaintext)
            encoding = "json"
        except (ValueError, UnicodeDecodeError):
            content = base64.b64encode(self.plaintext).decode("ascii")
            encoding = "base64"
        return {"kind": self.kind, "name": self.name, "encoding": encoding, "content": content}


@runtime_checkable
class RecordExporter(Protocol):
    """**Protocol**: turns a subject's records of some kinds into one export section.

    Called with the subject's pseudonym and its decrypted records of the kinds the exporter was
    registered for, sorted by (kind, name). Returns a JSON value (the section's content); it
    must be deterministic (same records, same value) and should order lists by a stable key.
    """

    def __call__(self, subject: str, records: Sequence[ExportRecord], /) -> Any:
        """Build the section."""
        ...


@runtime_checkable
class ContributionRemover(Protocol):
    """**Protocol**: takes one subject's contribution out of data kept outside its prefix.

    Erasure calls every remover once, *before* the subject's data key is shredded (so the
    remover can still read the subject's records to know what it contributed), inside one data
    store transaction that also writes an erasure progress marker: a re-run after a crash does
    not call it twice. It must delete or subtract, not hide, and raise if it cannot (the
    erasure then stops before anything is shredded). Returns how many items it changed.
    """

    def __call__(self, subject: str, /) -> int:
        """Remove ``subject``'s contribution; return how many items were changed or deleted."""
        ...


@runtime_checkable
class WithdrawalEraser(Protocol):
    """**Protocol**: deletes what of one record kind was kept for ``purpose`` about ``subject``.

    Runs inside the transaction that records the withdrawal (or refusal, objection, expiry);
    it must delete, not hide, and raise if it cannot (nothing is then recorded).
    """

    def __call__(self, subject: str, purpose: str, /) -> int:
        """Delete; return how many items were deleted."""
        ...


@frozen(kw_only=True)
class RecordKind:
    """A kind of record personakit keeps, and who answers for it in each workflow.

    Attributes:
        name: The vault record kind (``traits``, ``events``) or, for shared state, its name.
        owner: The component that writes it (``profiles``, ``personalization``...).
        description: One line for auditors: what it holds.
        purposes: The purposes it is kept for. Empty means it is kept for the subject's
            lifetime as proof or identity (consent ledger, identifiers, requests), or that
            each item names its own purposes (events).
        section: Its export section (``traits``, ``derived_data`` name...); None means it is
            exported generically under ``other_records``.
        exporter: Builds its export section, if the kind provides its own.
        retention: Deletes what outlived the manifest's periods (run by every sweep).
        on_withdrawal: Deletes what was kept only for a purpose that lost its lawful basis.
        cascade: The name its withdrawal counts appear under in consent receipts (default:
            the kind's name); kinds sharing a cascade name are counted together.
        shared: Kept outside the subject's own records (model counts, segment lists);
            erasing the subject's records does not reach it, so ``on_erasure`` is required.
        on_erasure: Takes an erased subject's contribution out of shared state.
    """

    name: str
    owner: str
    description: str
    purposes: tuple[str, ...] = ()
    section: str | None = None
    exporter: RecordExporter | None = None
    retention: RetentionSweep | None = None
    on_withdrawal: WithdrawalEraser | None = None
    cascade: str | None = None
    shared: bool = False
    on_erasure: ContributionRemover | None = None

    @property
    def cascade_name(self) -> str:
        """The name withdrawal counts of this kind appear under."""
        return self.cascade or self.name


@frozen
class _CascadeEraser:
    """What the consent cascade calls for one (cascade name, purpose): every kind of it."""

    kinds: RecordKinds
    cascade: str
    purpose: str

    def __call__(self, subject: str) -> int:
        return sum(
            kind.on_withdrawal(subject, self.purpose)
            for kind in self.kinds
            if kind.on_withdrawal is not None
            and kind.cascade_name == self.cascade
            and (not kind.purposes or self.purpose in kind.purposes)
        )


class RecordKinds:
    """The per-kit registry of record kinds; export, erasure and retention iterate over it."""

    def __init__(self, manifest: Manifest, cascade: CascadeRegistry) -> None:
        """Purposes are checked against ``manifest``; withdrawal erasers join ``cascade``."""
        self._manifest = manifest
        self._cascade = cascade
        self._kinds: dict[str, RecordKind] = {}
        self._cascaded: set[tuple[str, str]] = set()

    def __repr__(self) -> str:
        """Render with the registered names."""
        return f"RecordKinds({list(self._kinds)!r})"

    def __iter__(self) -> Iterator[RecordKind]:
        """The kinds, in registration order."""
        return iter(list(self._kinds.values()))

    def __len__(self) -> int:
        """How many kinds are registered."""
        return len(self._kinds)

    def __contains__(self, name: object) -> bool:
        """Whether a kind of that name is registered."""
        return name in self._kinds

    def get(self, name: str) -> RecordKind | None:
        """The kind registered as ``name``, or None."""
        return self._kinds.get(name)

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._kinds)

    def register(self, kind: RecordKind) -> None:
        """Register ``kind``; raises :class:`InvalidInput` listing every problem."""
        problems = self._problems(kind)
        if problems:
            raise InvalidInput("cannot register record kind", problems)
        self._kinds[kind.name] = kind
        if kind.on_withdrawal is not None:
            self._join_cascade(kind)

    def _problems(self, kind: object) -> list[Problem]:
        if not isinstance(kind, RecordKind):
            return [Problem(where="kind", what="must be a RecordKind")]
        problems: list[Problem] = []
        if not isinstance(kind.name, str) or not _KIND_RE.fullmatch(kind.name):
            problems.append(Problem(where="name", what="must match [a-z][a-z0-9_.:-]{0,63}"))
        elif kind.name in self._kinds:
            problems.append(Problem(where="name", what="already registered"))
        for where, value in (("owner", kind.owner), ("cascade", kind.cascade)):
            if value is not None and (not isinstance(value, str) or not _NAME_RE.fullmatch(value)):
                problems.append(Problem(where=where, what="must match [a-z][a-z0-9_.-]{0,63}"))
        if not isinstance(kind.description, str) or not kind.description.strip():
            problems.append(Problem(where="description", what="required"))
        if kind.section is not None and (
            not isinstance(kind.section, str) or not _SECTION_RE.fullmatch(kind.section)
        ):
            problems.append(Problem(where="section", what="must match [a-z][a-z0-9_]{0,63}"))
        problems.extend(
            Problem(where=f"purposes[{index}]", what="not a purpose in the manifest")
            for index, purpose in enumerate(kind.purposes)
            if not isinstance(purpose, str) or self._manifest.get_purpose(purpose) is None
        )
        handlers: tuple[tuple[str, object], ...] = (
            ("exporter", kind.exporter),
            ("retention", kind.retention),
            ("on_withdrawal", kind.on_withdrawal),
            ("on_erasure", kind.on_erasure),
        )
        problems.extend(
            Problem(where=where, what="must be callable")
            for where, handler in handlers
            if handler is not None and not callable(handler)
        )
        if kind.shared and kind.on_erasure is None:
            problems.append(
                Problem(
                    where="on_erasure",
                    what="required for shared state: erasing the subject's records cannot reach it",
                )
            )
        return problems

    def _join_cascade(self, kind: RecordKind) -> None:
        # The consent cascade is keyed by (purpose, name); a kind with no purposes of its own
        # (items name theirs) answers for every purpose whose basis can be withdrawn.
        purposes = kind.purposes or tuple(
            p.id for p in self._manifest.purposes if p.needs_consent or p.objectable
        )
        for purpose in purposes:
            found = self._manifest.get_purpose(purpose)
            if found is None or not (found.needs_consent or found.objectable):
                continue  # a basis that cannot be withdrawn never runs a cascade
            key = (purpose, kind.cascade_name)
            if key not in self._cascaded:
                self._cascade.register(
                    purpose,
                    kind.cascade_name,
                    _CascadeEraser(self, cascade=kind.cascade_name, purpose=purpose),
                )
                self._cascaded.add(key)

    def removers(self) -> list[tuple[str, ContributionRemover]]:
        """``(name, remover)`` of every shared kind, in name order (the order erasure runs)."""
        return sorted((kind.name, kind.on_erasure) for kind in self if kind.on_erasure is not None)

    def exporters(self) -> list[tuple[str, str, RecordExporter]]:
        """``(section, kind, exporter)`` of every kind that exports its own section."""
        return [
            (kind.section, kind.name, kind.exporter)
            for kind in self
            if kind.section is not None and kind.exporter is not None
        ]

    def sweepers(self) -> list[tuple[str, RetentionSweep]]:
        """``(name, sweep)`` of every kind with a retention sweeper, in registration order."""
        return [(kind.name, kind.retention) for kind in self if kind.retention is not None]


class Hooks:
    """Callbacks run in the same store transaction as the workflow step that triggers them."""

    def __init__(self) -> None:
        """Start with no hooks."""
        self._events: dict[str, EventsHook] = {}
        self._merge: dict[str, MergeHook] = {}
        self._segment_changes: dict[str, SegmentChangeHook] = {}
        self._restriction: dict[str, RestrictionHook] = {}
        self._lifted: dict[str, RestrictionHook] = {}
        self._traits: dict[str, TraitsHook] = {}
        self._batch_end: dict[str, BatchEndHook] = {}
        # Per thread: how deeply batches are nested (each thread runs its own transaction).
        self._local = threading.local()

    def __repr__(self) -> str:
        """Render with the registered names."""
        return (
            f"Hooks(events={list(self._events)!r}, merge={list(self._merge)!r}, "
            f"segment_changes={list(self._segment_changes)!r}, traits={list(self._traits)!r}, "
            f"restriction={list(self._restriction)!r}, lifted={list(self._lifted)!r})"
        )

    def on_restriction(self, name: str, hook: RestrictionHook) -> None:
        """Call ``hook(subject)`` when processing of ``subject`` is restricted (Art. 18).

        Fired by every restriction (``kit.rights.restrict``, restriction requests,
        ``kit.consent.restrict``) in the transaction that records it, once per change: not
        when the subject was already restricted. Shared state (sums over subjects) takes the
        subject's part out here.
        """
        _register(self._restriction, "restriction hook", name, hook)

    def on_restriction_lifted(self, name: str, hook: RestrictionHook) -> None:
        """Call ``hook(subject)`` when a restriction is lifted (same transaction, once)."""
        _register(self._lifted, "restriction lifted hook", name, hook)

    def restricted(self, subject: str) -> None:
        """Run every restriction hook (registration order)."""
        for hook in self._restriction.values():
            hook(subject)

    def restriction_lifted(self, subject: str) -> None:
        """Run every restriction lifted hook (registration order)."""
        for hook in self._lifted.values():
            hook(subject)

    def on_events(self, name: str, hook: EventsHook) -> None:
        """Call ``hook(subject, events)`` whenever events are stored (``track``, ``ingest``)."""
        _register(self._events, "events hook", name, hook)

    def on_merge(self, name: str, hook: MergeHook) -> None:
        """Call ``hook(source, target)`` when ``source`` is merged into ``target``."""
        _register(self._merge, "merge hook", name, hook)

    def events(self, subject: str, events: Sequence[Event]) -> None:
        """Run every events hook (registration order)."""
        for hook in self._events.values():
            hook(subject, events)

    def merged(self, source: str, target: str) -> None:
        """Run every merge hook (registration order)."""
        for hook in self._merge.values():
            hook(source, target)

    def on_traits_change(self, name: str, hook: TraitsHook) -> None:
        """Call ``hook(subject, names)`` whenever a subject's traits are set or removed.

        It runs in the profile write transaction (``traits.update``: the API, bulk ingest,
        rectification), after the new values are written, so what it reads is the update and
        what it writes commits or rolls back with it.
        """
        _register(self._traits, "traits hook", name, hook)

    def traits_changed(self, subject: str, names: Sequence[str]) -> None:
        """Run every traits hook (registration order)."""
        for hook in self._traits.values():
            hook(subject, names)

    def on_segment_change(self, name: str, hook: SegmentChangeHook) -> None:
        """Call ``hook(change)`` whenever a subject enters or leaves a segment.

        It runs in the store transaction that recorded the change (so an outbox written by
        the hook commits or rolls back with it); it must not raise for a change it ignores.
        """
        _register(self._segment_changes, "segment change hook", name, hook)

    def segment_changed(self, change: SegmentChange) -> None:
        """Run every segment change hook (registration order)."""
        for hook in self._segment_changes.values():
            hook(change)

    @property
    def has_events_hooks(self) -> bool:
        """Whether any events hook is registered (bulk ingest skips decoding otherwise)."""
        return bool(self._events)

    def on_batch_end(self, name: str, hook: BatchEndHook) -> None:
        """Call ``hook(outcome)`` at the end of every batch (see :meth:`batch`).

        A hook that keeps shared state (sums over subjects) may defer its writes while
        :attr:`in_batch` is true and write them once here, so rows many subjects of a batch
        touch are read and written once per transaction rather than once per subject.
        """
        _register(self._batch_end, "batch end hook", name, hook)

    @property
    def in_batch(self) -> bool:
        """Whether this thread is inside :meth:`batch` (deferred writes are flushed at its end)."""
        return bool(getattr(self._local, "depth", 0))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Mark a batch of hook calls run inside one store transaction (bulk ingest's batches).

        Must be entered inside the transaction: on a normal exit the batch end hooks run with
        ``"commit"`` while it is still open, so what they write commits with the batch; on an
        exception with ``"rollback"`` (nothing deferred survives a rollback), and it propagates.
        Nested batches end with the outermost one.
        """
        local = self._local
        depth = getattr(local, "depth", 0)
        local.depth = depth + 1
        try:
            yield
            if depth == 0:
                for hook in self._batch_end.values():
                    hook("commit")
        except BaseException:
            if depth == 0:
                for hook in self._batch_end.values():
                    hook("rollback")
            raise
        finally:
            local.depth = depth


@runtime_checkable
class SegmentProvider(Protocol):
    """**Protocol**: answers whether a subject is in one segment now."""

    def __call__(self, subject: str, now: datetime, /) -> bool:
        """Membership of ``subject`` at ``now``."""
        ...


@runtime_checkable
class DatasetProvider(Protocol):
    """**Protocol**: one dataset offered to analytics: rows of the subjects who may be counted.

    Yields ``(subject, row)`` pairs; analytics bounds each subject's contribution. ``purpose``
    is the purpose the analysis runs under: only subjects with a basis for it are yielded.
    """

    def __call__(self, purpose: str, /) -> Iterator[tuple[str, dict[str, Any]]]:
        """The rows."""
        ...


#: The provider type a named registry holds.
P = TypeVar("P")


@frozen(kw_only=True)
class _Provided(Generic[P]):
    owner: str
    description: str
    provider: P


class _Named(Generic[P]):
    """A registry of named providers with an owner and a description."""

    what = "provider"

    def __init__(self) -> None:
        self._entries: dict[str, _Provided[P]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({sorted(self._entries)!r})"

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def describe(self) -> dict[str, dict[str, str]]:
        """``{name: {"owner": …, "description": …}}`` for reports."""
        return {
            name: {"owner": entry.owner, "description": entry.description}
            for name, entry in sorted(self._entries.items())
        }

    def register(self, name: str, provider: P, *, owner: str, description: str) -> None:
        """Offer ``provider`` as ``name``; raises :class:`InvalidInput` listing every problem."""
        problems = []
        if not isinstance(owner, str) or not _NAME_RE.fullmatch(owner):
            problems.append(Problem(where="owner", what="must match [a-z][a-z0-9_.-]{0,63}"))
        if not isinstance(description, str) or not description.strip():
            problems.append(Problem(where="description", what="required"))
        try:
            _register(self._entries, self.what, name, provider, check_only=True)
        except InvalidInput as exc:
            problems.extend(exc.problems)
        if problems:
            raise InvalidInput(f"cannot register {self.what}", problems)
        self._entries[name] = _Provided(owner=owner, description=description, provider=provider)

    def unregister(self, name: str, *, owner: str) -> bool:
        """Withdraw ``name`` if ``owner`` offered it; False when it did not (nothing changed).

        For definitions that can be removed at run time (personalization's stored segments):
        an owner can only withdraw what it registered itself.
        """
        entry = self._entries.get(name) if isinstance(name, str) else None
        if entry is None or entry.owner != owner:
            return False
        del self._entries[name]
        return True

    def _get(self, name: str) -> P:
        entry = self._entries.get(name) if isinstance(name, str) else None
        if entry is None:
            raise InvalidInput(
                f"unknown {self.what}", [Problem(where="name", what="not registered")]
            )
        return entry.provider


class SegmentRegistry(_Named[SegmentProvider]):
    """Named segments that capabilities offer (journeys and reports read them by name)."""

    what = "segment"

    def member(self, name: str, subject: str, now: datetime) -> bool:
        """Whether ``subject`` is in segment ``name`` at ``now`` (unknown name: InvalidInput)."""
        return bool(self._get(name)(subject, now))


class DatasetRegistry(_Named[DatasetProvider]):
    """Named datasets that capabilities offer to analytics (which never imports them)."""

    what = "dataset"

    def rows(self, name: str, purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The rows of dataset ``name`` for an analysis under ``purpose``."""
        return self._get(name)(purpose)


@frozen(kw_only=True)
class Registries:
    """Everything a capability registers with, as ``kit.registries``."""

    record_kinds: RecordKinds
    hooks: Hooks = field(factory=Hooks)
    segments: SegmentRegistry = field(factory=SegmentRegistry)
    datasets: DatasetRegistry = field(factory=DatasetRegistry)


def _register(
    table: dict[str, Any], what: str, name: object, hook: object, *, check_only: bool = False
) -> None:
    problems: list[Problem] = []
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        problems.append(Problem(where="name", what="must match [a-z][a-z0-9_.-]{0,63}"))
    elif name in table:
        problems.append(Problem(where="name", what="already registered"))
    if not callable(hook):
        problems.append(Problem(where=what.rsplit(maxsplit=1)[-1], what="must be callable"))
    if problems:
        raise InvalidInput(f"cannot register {what}", problems)
    if not check_only:
        assert isinstance(name, str)
        table[name] = hook
