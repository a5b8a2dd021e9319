"""``kit.personalization``: per-subject aggregates, affinities and segments of one kit.

State is kept on ingest (see :mod:`personakit.personalization._state` and ``_keeper``) and
read in O(1) per subject. Arguments named ``subject`` take a pseudonym (``sub_…``) or a host
identifier (``customer:42``); a subject that does not exist, has no current basis for the
``personalization`` purpose, or is restricted is answered as unknown (None, empty, no
segments), never with an error. ``now`` defaults to the kit's clock.

Time-driven transitions (a customer lapses after N days, a cart is abandoned after an hour,
a birthday month begins, RFM quintiles move) change :meth:`Personalization.segments_of` at
once, and the membership index at the next :meth:`Personalization.refresh` (run it daily:
``personakit segments refresh``, from cron). Every entered / left change of the index is
reported to the ``kit.registries.hooks.on_segment_change`` hooks, in the transaction that
made it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from personakit._args import check_callable, check_moment, raise_problems
from personakit._clock import Clock, as_utc, from_micros
from personakit._codec import check_value
from personakit._vault import Vault
from personakit.audit import AuditLog
from personakit.consent import ConsentGate, ConsentManager, Manifest
from personakit.crypto import Keyring
from personakit.events import EventLog
from personakit.exceptions import (
    ConfigurationError,
    InvalidInput,
    PersonakitError,
    Problem,
    SubjectNotFound,
)
from personakit.personalization._config import PersonalizationConfig
from personakit.personalization._decide import (
    aggregate_fields,
    as_segment,
    event_categories,
    segment_categories,
)
from personakit.personalization._decider import Rules
from personakit.personalization._decision import Decision
from personakit.personalization._defined import DefinedSegments
from personakit.personalization._index import SegmentIndex
from personakit.personalization._keeper import KIND, PURPOSE, StateKeeper, answer
from personakit.personalization._reader import SubjectReader
from personakit.personalization._reports import RefreshReport
from personakit.personalization._rules import RuleSet
from personakit.personalization._segments import (
    Predicate,
    Segment,
    builtin_segments,
    quintile_cuts,
    rfm_values,
)
from personakit.personalization._state import Aggregates, Folder, SubjectState
from personakit.personalization._view import SubjectFacts, check_dimension_k
from personakit.profiles import IdentityIndex, TraitStore
from personakit.storage import Store
from personakit.workflows import RecordKind, Registries

__all__ = ["Personalization"]

_OWNER: Final = "personalization"
_INDEX_KIND: Final = "segment-index"
_SEGMENTS_DATASET: Final = "personalization.segments"
_CHUNK: Final = 1000
#: Subjects per refresh transaction.
_REFRESH_CHUNK: Final = 256
#: Quintile cut points are values of real customers: below this many, none are computed (a
#: handful of customers would each be identifiable from them), and RFM needs fixed cut points.
RFM_MIN_POPULATION: Final = 100


class Personalization:
    """The personalization service of one kit (``kit.personalization``); see the module doc."""

    def __init__(
        self,
        *,
        store: Store,
        vault: Vault,
        clock: Clock,
        manifest: Manifest,
        identity: IdentityIndex,
        consent: ConsentManager,
        traits: TraitStore,
        events: EventLog,
        registries: Registries,
        subjects: Callable[[], list[str]],
        audit: AuditLog,
        keyring: Keyring,
        config: PersonalizationConfig | None = None,
    ) -> None:
        """Wire the service and register its record kinds, hooks and built-in segments.

        ``subjects`` lists every subject (the retention sweeper's list); ``config`` defaults
        to :class:`PersonalizationConfig` (a bad one: :class:`InvalidInput`, nothing
        registered). A manifest without a ``personalization`` purpose, or ``enabled=False``,
        leaves the service inert: nothing is kept, every subject is unknown.

        ``self.rules`` is the decision half (:class:`Rules`), its vocabulary fed from this
        service: its segments, the other capabilities' ones, the configured affinity
        dimensions and the aggregates :class:`Facts` documents.
        """
        chosen = config if config is not None else PersonalizationConfig()
        if not isinstance(chosen, PersonalizationConfig):
            raise InvalidInput(
                "invalid personalization configuration",
                [Problem(where="config", what="must be a PersonalizationConfig")],
            )
        self.config = chosen.checked()
        self.clock = clock
        self.identity = identity
        self.registries = registries
        self._subjects = subjects
        self.enabled = self.config.enabled and manifest.get_purpose(PURPOSE) is not None
        self.folder = Folder(self.config)
        self._segments: dict[str, Segment] = {}
        self.index = SegmentIndex(store, registries.hooks)
        self.keeper = StateKeeper(
            store=store,
            vault=vault,
            clock=clock,
            manifest=manifest,
            consent=consent,
            traits=traits,
            events=events,
            folder=self.folder,
            index=self.index,
            segments=self._segments,
            external=registries.segments.member,
            has_external=registries.segments.__contains__,
        )
        # Anything not known to read less counts as reading every personalization event.
        self._every_event = event_categories(manifest)
        self.rules = Rules(
            manifest=manifest,
            audit=audit,
            keyring=keyring,
            vault=vault,
            allowed=consent.allowed,
            subjects=subjects,
            dimensions=list(self.config.all_dimensions),
            aggregates=aggregate_fields(manifest),
            last_purchase=self._last_purchase,
        )
        # Stored definitions (``personakit segments define``): read when the kit has wired
        # every capability (their segments may be read), at refresh and at load_rules.
        self.defined = DefinedSegments(
            store=store,
            audit=audit,
            vocabulary=lambda: self.rules.vocabulary,
            taken=self._taken,
            install=self._install,
            uninstall=self._uninstall,
            probe=self._probe,
            in_use=self._in_use,
        )
        self._reader = (
            SubjectReader(
                identity, ConsentGate(vault=vault, manifest=manifest, clock=clock, purpose=PURPOSE)
            )
            if self.enabled
            else SubjectReader(identity, None)
        )
        if self.enabled:
            self._register()
            self.rules.register(registries)
        self._sync_segments()

    def __repr__(self) -> str:
        """Render with the segment names."""
        return f"Personalization(segments={len(self._segments)})"

    def _register(self) -> None:
        kinds = self.registries.record_kinds
        kinds.register(
            RecordKind(
                name=KIND,
                owner=_OWNER,
                description=(
                    "aggregates derived from consented events: first / last seen, orders, "
                    "spend, open cart, recent items, decaying affinities, segments"
                ),
                purposes=(PURPOSE,),
                section="personalization",
                exporter=self.keeper.export,
                retention=self.keeper.sweep,
                on_withdrawal=self.keeper.withdraw,
                cascade=_OWNER,
            )
        )
        kinds.register(
            RecordKind(
                name=_INDEX_KIND,
                owner=_OWNER,
                description="segment members by pseudonym (shared index, nothing decrypted)",
                purposes=(PURPOSE,),
                shared=True,
                on_erasure=self.keeper.erase_contribution,
            )
        )
        self.registries.datasets.register(
            _SEGMENTS_DATASET,
            self.segment_rows,
            owner=_OWNER,
            description="one row per segment membership in the index: segment (for sizes)",
        )
        self.registries.hooks.on_events(_OWNER, self.keeper.on_events)
        self.registries.hooks.on_merge(_OWNER, self.keeper.on_merge)
        # Restriction stops the use of the index at once (sizes, members, datasets): through
        # the workflows' restriction hooks, which every restriction change runs.
        self.registries.hooks.on_restriction(_OWNER, self.keeper.on_restriction)
        self.registries.hooks.on_restriction_lifted(_OWNER, self.keeper.on_restriction)
        for segment in builtin_segments(self.config):
            self.add_segment(segment, probe=False)

    # -- segments ---------------------------------------------------------------------------

    def add_segment(self, segment: Segment, *, probe: bool = True) -> None:
        """Define ``segment`` and offer it through ``kit.registries.segments``.

        Raises :class:`InvalidInput` listing every problem (a bad definition, a taken name):
        nothing is then defined. Index entries follow at the next change or refresh. The
        predicate is first tried on an unknown and on an empty subject (``probe``): one that
        raises or answers something else than a bool is refused.
        """
        self._prepare([segment], probe=probe)
        self._install(segment)

    def _prepare(self, segments: Sequence[object], *, probe: bool) -> None:
        """Check (and probe) ``segments`` before any is defined: every problem at once."""
        problems: list[Problem] = []
        names: set[str] = set()
        for index, segment in enumerate(segments):
            where = "" if len(segments) == 1 else f"segments[{index}]."
            if not isinstance(segment, Segment):
                problems.append(Problem(where=f"{where}segment", what="must be a Segment"))
                continue
            found = segment.problems()
            if not found and (
                segment.name in self._segments
                or segment.name in self.registries.segments
                or segment.name in names
            ):
                found.append(Problem(where="name", what="already defined"))
            if not found:  # a valid name (a bad one may be anything, even unhashable)
                names.add(segment.name)
            problems.extend(Problem(where=f"{where}{p.where}", what=p.what) for p in found)
        raise_problems("invalid segment", problems)
        if probe:
            for segment in segments:
                assert isinstance(segment, Segment)  # checked above
                self._probe(segment)

    def _install(self, segment: Segment) -> None:
        """Define ``segment``, or replace the one of that name (a stored definition changed)."""
        name = segment.name

        def provider(subject: str, now: datetime) -> bool:
            return self.member(name, subject, now)

        if name not in self._segments:  # a replaced definition keeps its provider
            self.registries.segments.register(
                name, provider, owner=_OWNER, description=segment.description or name
            )
        self._segments[name] = segment
        categories = segment_categories(
            segment.reads, self.rules.vocabulary, fallback=self._every_event
        )
        self.rules.add_segments({name: categories})

    def _uninstall(self, name: str) -> None:
        """Forget a stored definition (removed); its index entries went with the removal."""
        self._segments.pop(name, None)
        self.registries.segments.unregister(name, owner=_OWNER)
        self.rules.remove_segments([name])

    def _taken(self, name: str) -> bool:
        """Whether another part of the kit than the stored definitions defines ``name``."""
        ours = name in self._segments or name in self.registries.segments
        return ours and name not in self.defined.names()

    def _in_use(self, name: str) -> bool:
        current = self.rules.current
        return current is not None and any(name in r.reads.segments for r in current.rules)

    def _probe(self, segment: Segment) -> None:
        """Refuse a predicate that fails on an unknown or an empty subject (before any ingest)."""
        moment = self.clock.now()
        # An unknown subject, then a known one with nothing yet (zeros and MISSING): a
        # pseudonym nobody has, so nothing real is read.
        for subject in (None, "sub_" + "a" * 26):
            facts = self.keeper.facts(subject, SubjectState(), moment, known=subject is not None)
            try:
                answer(segment, facts)
            except ConfigurationError as exc:
                raise InvalidInput(
                    "invalid segment", [Problem(where="predicate", what=str(exc))]
                ) from None
            except PersonakitError:
                continue  # e.g. it reads a segment not defined yet: decided when evaluated

    def define(
        self, name: str, predicate: Predicate, *, reads: Iterable[str] = (), description: str = ""
    ) -> Segment:
        """Define a segment from a predicate over :class:`Facts`; see :meth:`add_segment`."""
        listed: object = reads
        if isinstance(listed, (str, bytes)) or not isinstance(listed, Iterable):
            raise InvalidInput(
                "invalid segment", [Problem(where="reads", what="must be a list of field paths")]
            )
        segment = Segment(
            name=name, predicate=predicate, reads=tuple(listed), description=description
        )
        self.add_segment(segment)
        return segment

    def segments(self) -> list[Segment]:
        """Every segment this service defines, by name."""
        return [self._segments[name] for name in sorted(self._segments)]

    def member(self, segment: str, subject: str, now: datetime | None = None) -> bool:
        """Whether ``subject`` is in ``segment`` at ``now`` (computed, not read from the index)."""
        facts = self.facts(subject, now=now)
        return facts.in_segment(segment)

    def segments_of(self, subject: str, now: datetime | None = None) -> list[str]:
        """The segments ``subject`` is in at ``now``: O(1) reads, then one predicate each."""
        moment = self._now(now)
        found, state = self._known(subject)
        if found is None:
            return []
        return self.keeper.memberships(found, state or SubjectState(), moment, known=True)

    def members(self, segment: str) -> list[str]:
        """The pseudonyms in ``segment``'s index whose data may be used now, sorted.

        Reads the index (nothing decrypted) and the members' consent verdicts; the index is
        as of the last change or :meth:`refresh`.
        """
        self._check_segment(segment)
        listed = self.index.members(segment)
        allowed: list[str] = []
        for start in range(0, len(listed), _CHUNK):
            chunk = listed[start : start + _CHUNK]
            verdicts = self.keeper.consent.verdicts_many(chunk, [PURPOSE])
            allowed.extend(s for s in chunk if verdicts[(s, PURPOSE)])
        return sorted(allowed)

    def sizes(self) -> dict[str, int]:
        """Index entries per defined segment (as of the last change or refresh)."""
        counts = self.index.names()
        return {name: counts.get(name, 0) for name in sorted(self._segments)}

    def segment_rows(self, purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The ``personalization.segments`` dataset: a row per membership in the index.

        Only members whose data may be used for ``purpose`` now; the index is as of the last
        change or :meth:`refresh`. Segment sizes are a group-by count over public keys.
        """
        allowed = self.keeper.consent.allowed
        for segment, subject in self.index.entries():
            if allowed(subject, purpose):
                yield subject, {"segment": segment}

    def _last_purchase(self, subject: str) -> datetime | None:
        state = self.keeper.load(subject)
        stamp = None if state is None else state.last_purchase
        return None if stamp is None else from_micros(stamp)

    def refresh(
        self,
        now: datetime | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> RefreshReport:
        """Apply time-driven transitions to the index: every subject, every segment, at ``now``.

        Without fixed RFM cut points, first computes quintiles over the consenting customers
        with a purchase (only from ``RFM_MIN_POPULATION`` of them; below, no RFM segment has
        members). Cut points are recomputed by every refresh, so an erased customer's share
        in them is gone after the next one. Drops index entries of segments no longer defined.
        Subjects are updated in transactions of 256; ``progress(done, total)`` after each.
        """
        problems: list[Problem] = []
        moment = now if now is None else check_moment(now, "now", problems)
        check_callable(progress, "progress", problems)
        raise_problems("invalid refresh", problems)
        at = self._now(moment)
        self.defined.reload()
        subjects = self._subjects() if self.enabled else []
        population = None
        if self.enabled and self.config.rfm is None:
            population = self._quintiles(subjects, at)
        entered = left = 0
        for start in range(0, len(subjects), _REFRESH_CHUNK):
            chunk = subjects[start : start + _REFRESH_CHUNK]
            # Subjects in groups, one commit (one fsync) per group rather than per subject;
            # each subject's state and index entries still change in the same transaction.
            with self.keeper.store.transaction():
                for subject in chunk:
                    came, went = self.keeper.refresh_one(subject, at)
                    entered, left = entered + came, left + went
            if progress is not None:
                progress(start + len(chunk), len(subjects))
        stale = tuple(sorted(set(self.index.names()) - set(self._segments)))
        for name in stale:
            self.index.drop_segment(name)
        return RefreshReport(
            subjects=len(subjects),
            entered=entered,
            left=left,
            rfm_population=population,
            dropped_segments=stale,
        )

    def _quintiles(self, subjects: list[str], at: datetime) -> int:
        values: list[tuple[int, int, int]] = []
        for start in range(0, len(subjects), _CHUNK):
            chunk = subjects[start : start + _CHUNK]
            verdicts = self.keeper.consent.verdicts_many(chunk, [PURPOSE])
            for subject in chunk:
                if not verdicts[(subject, PURPOSE)]:
                    continue
                try:
                    state = self.keeper.load(subject)
                except SubjectNotFound:
                    continue  # erased or merged away meanwhile
                found = None if state is None else rfm_values(state, at)
                if found is not None:
                    values.append(found)
        if len(values) < RFM_MIN_POPULATION:
            self.keeper.set_cuts(None, len(values))
            return len(values)
        cuts = {
            "r": quintile_cuts([v[0] for v in values]),
            "f": quintile_cuts([v[1] for v in values]),
            "m": quintile_cuts([v[2] for v in values]),
        }
        self.keeper.set_cuts(cuts, len(values))
        return len(values)

    # -- reads ------------------------------------------------------------------------------

    def aggregates(self, subject: str, now: datetime | None = None) -> Aggregates | None:
        """The subject's aggregates, or None for an unknown subject (see the module doc)."""
        self._now(now)
        found, state = self._known(subject)
        if found is None:
            return None
        return self.folder.view(state or SubjectState())

    def affinities(
        self, subject: str, dimension: str, k: int = 10, now: datetime | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` best values of ``dimension`` with their decayed scores at ``now``."""
        check_dimension_k(self.config.all_dimensions, dimension, k)
        moment = self._now(now)
        found, state = self._known(subject)
        if found is None or state is None:
            return []
        return [
            (value, score)
            for value, score in self.folder.top(state, dimension, k, moment)
            if math.isfinite(score)
        ]

    def facts(
        self,
        subject: str,
        context: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> SubjectFacts:
        """The :class:`Facts` of ``subject`` at ``now`` with the caller's ``context``.

        ``context`` is a mapping of names to JSON values (channel, page, locale...).
        """
        problems: list[Problem] = []
        if context is not None:
            if not isinstance(context, Mapping) or not all(
                isinstance(key, str) and key.isprintable() and 0 < len(key) <= 64  # noqa: PLR2004
                for key in context
            ):
                problems.append(Problem(where="context", what="must map short names to values"))
            else:
                try:
                    check_value(dict(context), where="context")
                except InvalidInput as exc:
                    problems.extend(exc.problems)
        raise_problems("invalid facts query", problems)
        moment = self._now(now)
        found, state = self._known(subject)
        return self.keeper.facts(found, state, moment, known=found is not None, context=context)

    def rebuild(self, subject: str | None = None, now: datetime | None = None) -> int:
        """Recompute state and memberships from the stored consented events (a repair).

        One subject, or every subject when ``subject`` is None; returns how many changed.
        """
        moment = self._now(now)
        if not self.enabled:
            return 0
        if subject is None:
            changed = 0
            for each in self._subjects():
                try:
                    changed += self.keeper.rebuild_one(each, moment)
                except SubjectNotFound:
                    continue  # erased or merged away meanwhile
            return changed
        found = self.identity.lookup(subject)
        if found is None:
            return 0
        return int(self.keeper.rebuild_one(found, moment))

    # -- decisions --------------------------------------------------------------------------

    def load_rules(self, document: Any, *, actor: str = "system") -> RuleSet:
        """Check, compile, audit-log (with its SHA-256) and make current a rule set.

        Rules may name every segment offered now (ours, defined ones, other capabilities'),
        the configured affinity dimensions and the documented aggregates. An invalid document
        raises :class:`InvalidInput` listing every problem; nothing is loaded or logged.
        """
        self.defined.reload()
        self._sync_segments()
        return self.rules.load(document, actor=actor)

    def decide(
        self,
        subject: str,
        placement: str,
        context: Mapping[str, Any] | None = None,
        *,
        unit: str | None = None,
        explain: bool = False,
        now: datetime | None = None,
    ) -> Decision:
        """Decide ``placement`` for ``subject`` (a pseudonym or a host identifier).

        A subject that does not exist gets exactly the decision of an unknown subject; one
        without a current ``personalization`` consent, or restricted, gets that same decision
        (the placement's default, reason ``personalization_off``): nothing of its data is
        read. ``unit`` is what experiments bucket on (default: the subject's pseudonym);
        ``explain`` adds the developer trace. Exposures are recorded under the pseudonym. No
        rule set loaded, an unknown placement or context field: :class:`InvalidInput`.
        """
        moment = self._now(now)
        current = self.rules.current  # a bad placement: Rules.decide lists every problem
        traits = type(placement) is str and placement in getattr(current, "trait_placements", ())
        found, allowed, state, values = self._reader.read(subject, traits=traits)
        # The context goes into the facts themselves (checked as Rules.decide would), not
        # into a wrapper every field read would go through.
        try:
            self.rules.check_context(context)
        except InvalidInput:  # every problem at once: Rules.decide lists the call's too
            facts = self.keeper.facts(None, None, moment, known=False)
            return self.rules.decide(facts, placement, context, unit=unit, explain=explain)
        # Traits come with the aggregates when the placement's rules read one (one store read
        # for all); else they are read if a rule names one (a rule set without traits: never).
        facts = self.keeper.facts(
            found, state, moment, known=allowed, context=context, given=values
        )
        return self.rules.decide(facts, placement, subject=found, unit=unit, explain=explain)

    def define_segments(self, documents: Any) -> list[Segment]:
        """Define JSON segment definitions (the shipped schema), all or none.

        Compiles them with the rules' vocabulary, then defines each as :meth:`define` does;
        :class:`InvalidInput` lists every problem (a bad definition, a taken name) and then
        nothing is defined.
        """
        self._sync_segments()
        compiled = [as_segment(d) for d in self.rules.compile_segments(documents)]
        self._prepare(compiled, probe=True)
        for segment in compiled:
            self._install(segment)
        return compiled

    def _sync_segments(self) -> None:
        """Make segments other capabilities registered since known to the rules."""
        vocabulary = self.rules.vocabulary
        missing = [n for n in self.registries.segments.names() if n not in vocabulary.segments]
        if missing:
            # Another capability's segment: what it reads is not declared to us, so it
            # counts as reading every event personalization reads (never less than it may).
            self.rules.add_segments(dict.fromkeys(missing, self._every_event))

    # -- helpers ----------------------------------------------------------------------------

    def _now(self, now: datetime | None) -> datetime:
        if now is None:
            return self.clock.now()
        problems: list[Problem] = []
        moment = check_moment(now, "now", problems)
        raise_problems("invalid time", problems)
        assert moment is not None
        try:
            return as_utc(moment)
        except OverflowError:
            raise InvalidInput(
                "invalid time", [Problem(where="now", what="outside the supported range")]
            ) from None

    def _known(self, subject: str) -> tuple[str | None, SubjectState | None]:
        """(pseudonym, state) of a subject whose data may be used now, else (None, None)."""
        found, allowed, state, _ = self._reader.read(subject)
        return (found, state) if allowed else (None, None)

    def _check_segment(self, segment: object) -> None:
        if not isinstance(segment, str) or segment not in self._segments:
            raise InvalidInput("unknown segment", [Problem(where="segment", what="not defined")])
