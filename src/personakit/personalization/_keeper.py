"""Keeping the state: the hooks, the withdrawal and erasure handlers, export, rebuild, refresh.

Everything here runs inside a store transaction of the subject it concerns (ingest's, a
link's, a withdrawal's, an erasure's, or one of its own), so the sealed state, the index
entries and the entered / left changes commit or roll back together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from personakit._clock import Clock, from_micros, to_micros
from personakit._codec import canonical_json, loads
from personakit._vault import Vault
from personakit.consent import ConsentManager, Manifest
from personakit.events import Event, EventLog
from personakit.exceptions import (
    ConfigurationError,
    InvalidInput,
    PersonakitError,
    Problem,
    SubjectNotFound,
)
from personakit.personalization._index import SegmentIndex
from personakit.personalization._segments import Segment
from personakit.personalization._state import Folder, SubjectState
from personakit.personalization._view import SubjectFacts
from personakit.profiles import TraitStore
from personakit.storage import Store
from personakit.workflows import ExportRecord

__all__ = ["KIND", "NAME", "PURPOSE", "RFM_KEY", "StateKeeper", "answer"]

#: The vault record kind of the per-subject state, and its one record's name.
KIND: Final = "aggregates"
NAME: Final = "state"
_NAME: Final = NAME
PURPOSE: Final = "personalization"
#: Where quintile cut points live (population statistics, no subject in them).
RFM_KEY: Final = "x/personalization/rfm"
#: How long a process trusts the cut points it read (another process's refresh may change them).
_CUTS_TTL_S: Final = 60.0


def answer(segment: Segment, facts: SubjectFacts) -> bool:
    """The segment's predicate on ``facts``: a bool, or :class:`ConfigurationError`.

    A predicate is host or compiled code run inside ingest's transaction: anything but a
    bool or a PersonakitError is a broken definition, reported by type only (its message
    could hold a value it read).
    """
    try:
        result = segment.predicate(facts)
    except PersonakitError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"the predicate of segment {segment.name} failed: {type(exc).__name__}"
        ) from exc
    if not isinstance(result, bool):
        raise ConfigurationError(f"the predicate of segment {segment.name} did not answer a bool")
    return result


class StateKeeper:
    """Loads, folds, indexes and saves per-subject state; the handlers the registries call."""

    def __init__(
        self,
        *,
        store: Store,
        vault: Vault,
        clock: Clock,
        manifest: Manifest,
        consent: ConsentManager,
        traits: TraitStore,
        events: EventLog,
        folder: Folder,
        index: SegmentIndex,
        segments: dict[str, Segment],
        external: Callable[[str, str, datetime], bool],
        has_external: Callable[[str], bool],
    ) -> None:
        """Wire to the base parts; ``segments`` is the service's own (shared, growing) table."""
        self.store = store
        self.vault = vault
        self.clock = clock
        self.manifest = manifest
        self.consent = consent
        self.traits = traits
        self.events = events
        self.folder = folder
        self.index = index
        self.segments = segments
        self._external = external
        self._has_external = has_external
        purpose = manifest.get_purpose(PURPOSE)
        self._categories = frozenset(purpose.data_categories if purpose else ())
        self._cuts: tuple[float, Mapping[str, Sequence[int]] | None] | None = None

    def __repr__(self) -> str:
        """Render with the number of segments."""
        return f"StateKeeper(segments={len(self.segments)})"

    # -- records ----------------------------------------------------------------------------

    def load(self, subject: str) -> SubjectState | None:
        """The subject's state, or None."""
        raw = self.vault.get(subject, KIND, _NAME)
        return None if raw is None else SubjectState.from_bytes(raw)

    def save(self, subject: str, state: SubjectState) -> None:
        """Seal and store the subject's state."""
        self.vault.put(subject, KIND, _NAME, state.to_bytes())

    def allowed(self, subject: str) -> bool:
        """Whether personalization may use the subject's data now (consent, not restricted)."""
        return self.consent.allowed(subject, PURPOSE)

    # -- facts and memberships --------------------------------------------------------------

    def facts(
        self,
        subject: str | None,
        state: SubjectState | None,
        now: datetime,
        *,
        known: bool,
        context: Mapping[str, Any] | None = None,
        given: Mapping[str, Any] | None = None,
    ) -> SubjectFacts:
        """The view of ``subject`` at ``now`` (``known`` decided by the caller).

        ``given`` are the subject's trait values if the caller read them already (else
        they are read when a condition first names one).
        """
        real = subject if known and subject is not None else None

        def segment(name: str, facts: SubjectFacts) -> bool:
            return self.in_segment(real, name, facts)

        def consent(purpose: str) -> bool:
            return real is not None and self.consent.allowed(real, purpose)

        def traits() -> Mapping[str, Any]:
            if real is None:
                return {}
            declared = self.traits.declarations
            values = self.traits.get(real) if given is None else given
            return {
                name: value
                for name, value in values.items()
                if name in declared and declared[name].category in self._categories
            }

        return SubjectFacts(
            now=now,
            known=real is not None,
            state=state,
            context=context or {},
            folder=self.folder,
            traits=traits,
            segment=segment,
            consent=consent,
            check_purpose=self.check_purpose,
            rfm_cuts=self.cuts,
        )

    def check_purpose(self, purpose: object) -> None:
        """:class:`InvalidInput` unless ``purpose`` is in the manifest."""
        if not isinstance(purpose, str) or self.manifest.get_purpose(purpose) is None:
            raise InvalidInput(
                "unknown purpose", [Problem(where="purpose", what="not a purpose in the manifest")]
            )

    def in_segment(self, subject: str | None, name: str, facts: SubjectFacts) -> bool:
        """Membership of a known subject in segment ``name`` (ours or another capability's)."""
        segment = self.segments.get(name) if isinstance(name, str) else None
        if segment is None and not (isinstance(name, str) and self._has_external(name)):
            raise InvalidInput("unknown segment", [Problem(where="segment", what="not defined")])
        if subject is None or not facts.known:
            return False
        if segment is None:
            return self._external(name, subject, facts.now)
        if name in facts.evaluating:
            raise InvalidInput(
                "segment refers to itself", [Problem(where="segment", what="cycle of segments")]
            )
        facts.evaluating.append(name)
        try:
            return answer(segment, facts)
        finally:
            facts.evaluating.pop()

    def memberships(
        self,
        subject: str,
        state: SubjectState,
        now: datetime,
        *,
        known: bool,
        only_event_driven: bool = False,
    ) -> list[str]:
        """The segments ``subject`` is in at ``now`` (none unless ``known``).

        With ``only_event_driven``, segments that read only traits and context keep what the
        state recorded (an event cannot change them; :meth:`refresh_one` re-evaluates them).
        """
        if not known:
            return []
        facts = self.facts(subject, state, now, known=True)
        kept = set(state.segments)
        found = []
        evaluating = facts.evaluating
        for name, segment in list(self.segments.items()):
            if only_event_driven and not segment.event_driven:
                if name in kept:
                    found.append(name)
                continue
            evaluating.append(name)  # as in_segment does: a segment reading itself is a cycle
            try:
                if answer(segment, facts):
                    found.append(name)
            finally:
                evaluating.pop()
        return sorted(found)

    def record(self, subject: str, state: SubjectState, segments: list[str], now: datetime) -> None:
        """Write the membership diff to the index, then the state (or delete an empty one)."""
        self.index.update(subject, state.segments, segments, now)
        state.segments = segments
        if state.empty and not segments:
            self.vault.delete(subject, KIND, _NAME)
        else:
            self.save(subject, state)

    # -- RFM cut points -------------------------------------------------------------------

    def cuts(self) -> Mapping[str, Sequence[int]] | None:
        """The RFM cut points in force: configured, or the last refresh's quintiles."""
        fixed = self.folder.config.rfm
        if fixed is not None:
            return fixed.to_json()
        now = time.monotonic()
        if self._cuts is None or now - self._cuts[0] > _CUTS_TTL_S:
            raw = self.store.get(RFM_KEY)
            doc = None if raw is None else loads(raw)
            self._cuts = (now, None if doc is None else doc["cuts"])
        return self._cuts[1]

    def set_cuts(self, cuts: Mapping[str, Sequence[int]] | None, population: int) -> None:
        """Store new quintile cut points, or none (and use them in this process at once)."""
        stored = None if cuts is None else {k: list(v) for k, v in cuts.items()}
        self.store.put(RFM_KEY, canonical_json({"cuts": stored, "population": population}))
        self._cuts = (time.monotonic(), stored)

    # -- hooks ----------------------------------------------------------------------------

    def on_events(self, subject: str, events: Sequence[Event]) -> None:
        """Fold the personalization events of a stored batch into the subject's state."""
        if not any(PURPOSE in event.purposes for event in events):
            return
        state = self.load(subject) or SubjectState()
        self.folder.fold(state, events)
        now = self.clock.now()
        # The events were stored for personalization just now: its basis holds.
        segments = self.memberships(subject, state, now, known=True, only_event_driven=True)
        self.record(subject, state, segments, now)

    def on_merge(self, source: str, target: str) -> None:
        """Fold ``source``'s state into ``target``'s (the link's transaction deletes source's)."""
        merged = self.load(source)
        if merged is None:
            return
        now = self.clock.now()
        self.index.update(source, merged.segments, [], now)
        state = self.load(target) or SubjectState()
        self.folder.merge(state, merged)
        known = self.allowed(target)
        self.record(target, state, self.memberships(target, state, now, known=known), now)

    def withdraw(self, subject: str, purpose: str) -> int:
        """Delete the state kept for ``purpose`` and leave every segment; return items deleted."""
        if purpose != PURPOSE:
            return 0
        state = self.load(subject)
        if state is None:
            return 0
        self.index.update(subject, state.segments, [], self.clock.now())
        self.vault.delete(subject, KIND, _NAME)
        return 1

    def erase_contribution(self, subject: str) -> int:
        """Delete the subject's index entries (before its key is shredded)."""
        try:
            state = self.load(subject)
        except PersonakitError:
            state = None  # the key is gone already: every defined segment is tried below
        recorded = state.segments if state is not None else []
        return self.index.purge(subject, [*recorded, *self.segments])

    def export(self, subject: str, records: Sequence[ExportRecord]) -> Any:  # noqa: ARG002
        """The ``personalization`` export section: aggregates, affinities, segments."""
        sections = []
        for record in records:
            state = SubjectState.from_bytes(record.plaintext)
            sections.append(
                {
                    "aggregates": self.folder.view(state).to_json(),
                    "affinities": {
                        dim: {
                            value: {"score": score, "as_of": from_micros(at).isoformat()}
                            for value, (score, at) in sorted(values.items())
                        }
                        for dim, values in sorted(state.affinities.items())
                    },
                    "affinity_half_life_days": self.folder.config.half_life_days,
                    "segments": sorted(state.segments),
                }
            )
        if not sections:
            return None  # nothing kept: no section (the export's convention)
        return sections[0] if len(sections) == 1 else sections

    def sweep(self, subject: str, now: datetime) -> int:
        """Retention: once events may have been swept, rebuild the state from those left."""
        state = self.load(subject)
        if state is None or state.first_seen is None:
            return 0
        shortest = min((p.retention_days for p in self.manifest.purposes), default=0)
        if to_micros(now) - state.first_seen < shortest * 86_400_000_000:
            return 0
        return int(self.rebuild_one(subject, now))

    # -- repair ---------------------------------------------------------------------------

    def replay(self, events: Iterable[Event]) -> SubjectState:
        """A fresh state from ``events``, folded in time order."""
        state = SubjectState()
        self.folder.fold(state, sorted(events, key=lambda e: (e.at, e.id)))
        return state

    def rebuild_one(self, subject: str, now: datetime) -> bool:
        """Recompute the subject's state from its stored events; whether anything changed."""
        with self.store.transaction():
            old = self.load(subject)
            fresh = self.replay(self.events.read(subject))
            if old is not None:
                fresh.segments = old.segments
            known = self.allowed(subject)
            segments = self.memberships(subject, fresh, now, known=known)
            changed = old is None or not old.same_aggregates(fresh) or old.segments != segments
            if old is None and fresh.empty and not segments:
                return False
            self.record(subject, fresh, segments, now)
            return changed

    def on_restriction(self, subject: str) -> None:
        """The restriction hook (set or lifted): re-evaluate the memberships in that transaction.

        Restricted, it leaves every segment (index entries deleted, "left" reported); lifted,
        it enters those it is in now.
        """
        # The verdict read inside the transaction says whether the subject is restricted now.
        self.refresh_one(subject, self.clock.now())

    def refresh_one(self, subject: str, now: datetime) -> tuple[int, int]:
        """Re-evaluate every segment of one subject at ``now``; return (entered, left)."""
        with self.store.transaction():
            try:
                state = self.load(subject)
            except SubjectNotFound:
                return 0, 0  # erased or merged away meanwhile: nothing to refresh
            known = self.allowed(subject)
            if state is None and not known:
                return 0, 0
            current = state or SubjectState()
            segments = self.memberships(subject, current, now, known=known)
            if segments == current.segments:
                return 0, 0
            before = set(current.segments)
            self.record(subject, current, segments, now)
            return len(set(segments) - before), len(before - set(segments))
