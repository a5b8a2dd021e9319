"""What reports read: the parts the facade hands over, and one pass over the store.

Reporting is a capability: it imports no other capability. Base parts (consent, traits,
events, the audit log, the manifest, the registries) are read directly; what only another
capability knows (the request book of rights, the budget ledger of analytics, what rules and
segments read) arrives as a callable the facade wires (see :class:`ReportSources` and
:meth:`~personakit.reporting.Reports.add_section`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from attrs import define, field, frozen

from personakit._clock import Clock
from personakit.audit import AuditLog
from personakit.consent import ConsentManager, ConsentRecord, Manifest
from personakit.events import EventLog
from personakit.exceptions import SubjectNotFound
from personakit.profiles import TraitStore
from personakit.workflows import CategoryRetention, Registries, category_retention

__all__ = ["Census", "ReportSources", "SubjectFacts"]

#: Returns the request log: one mapping per request (see docs/reporting.md for the fields).
RequestSource = Callable[[], Sequence[Mapping[str, Any]]]


@frozen(kw_only=True)
class ReportSources:
    """Everything the reports read, as the facade wires it.

    Attributes:
        manifest: The purposes manifest in force.
        audit: The audit log (verified by the audit report; packs are recorded in it).
        clock: The kit's clock (``generated_at``, "now" for deadlines and retention).
        tenant: The tenant, shown on every report.
        registries: Record kinds, segments and datasets the capabilities registered.
        consent: The consent manager (ledgers are read, never written).
        traits: The trait store (which traits a subject holds; values are not reported).
        events: The event log (which event kinds and properties a subject holds).
        subjects: Every subject with a data key.
        resolve: An identifier or pseudonym to the subject (for the one-subject dossier).
        subject_ref: A subject's keyed reference, as audit entries name it (the dossier).
        requests: The data-subject request log (from rights, through the facade).
        security: The security measures of the running configuration.
        dataset_purpose: The purpose reports read registered datasets under.
    """

    manifest: Manifest
    audit: AuditLog
    clock: Clock
    tenant: str
    registries: Registries
    consent: ConsentManager
    traits: TraitStore
    events: EventLog
    subjects: Callable[[], list[str]]
    resolve: Callable[[str], str]
    subject_ref: Callable[[str], str]
    requests: RequestSource
    security: Callable[[], Mapping[str, Any]]
    dataset_purpose: str


@frozen(kw_only=True)
class SubjectFacts:
    """What one subject holds, as names only: trait names, event kinds and properties."""

    traits: frozenset[str]
    event_kinds: Counter[str]
    event_properties: frozenset[tuple[str, str]]
    ledger: tuple[ConsentRecord, ...]


@define
class Census:
    """One pass over every subject, shared by the reports of one build (read only).

    Besides what each subject holds (names only), the pass counts what the retention sweep
    would delete now: the sweep's rule applied to every event and trait, nothing deleted.
    """

    sources: ReportSources
    rules: Mapping[str, CategoryRetention] = field(init=False)
    _facts: list[SubjectFacts] | None = field(default=None, init=False)
    _due_events: Counter[str] = field(factory=Counter, init=False)
    _due_traits: Counter[str] = field(factory=Counter, init=False)

    def __attrs_post_init__(self) -> None:
        """Read the retention rules once."""
        self.rules = category_retention(
            (p.data_categories, p.retention_days, p.retention_from)
            for p in self.sources.manifest.purposes
        )

    def facts(self) -> list[SubjectFacts]:
        """Per subject, what it holds (computed once)."""
        if self._facts is None:
            self._facts = list(self._scan())
        return self._facts

    def due(self) -> tuple[Counter[str], Counter[str]]:
        """Events and traits due for deletion now, per data category."""
        self.facts()
        return self._due_events, self._due_traits

    def _scan(self) -> Iterator[SubjectFacts]:
        src = self.sources
        now = src.clock.now()
        event_category = {e.kind: e.category for e in src.manifest.events}
        trait_category = {t.name: t.category for t in src.manifest.traits}
        for subject in src.subjects():
            try:
                details = src.traits.details(subject)
                events = src.events.read(subject, compact=False)
                ledger = tuple(src.consent.ledger(subject))
            except SubjectNotFound:
                continue  # erased while we read: it holds nothing any more
            traits = frozenset(details)
            updated = {
                name: datetime.fromisoformat(detail["updated_at"])
                for name, detail in details.items()
            }
            last = max([e.at for e in events] + list(updated.values()), default=None)
            for event in events:
                category = event_category.get(event.kind)
                if self._expired(now, last, category, event.at):
                    self._due_events[category or "(undeclared)"] += 1
            for name, at in updated.items():
                if name in trait_category and self._expired(now, last, trait_category[name], at):
                    self._due_traits[trait_category[name]] += 1
            yield SubjectFacts(
                traits=traits,
                event_kinds=Counter(event.kind for event in events),
                event_properties=frozenset(
                    (event.kind, name) for event in events for name in event.properties
                ),
                ledger=ledger,
            )

    def _expired(
        self, now: datetime, last: datetime | None, category: str | None, collected: datetime
    ) -> bool:
        # The sweep's rule (workflows.RetentionSweeper): no rule for the category means no
        # purpose uses it, so nothing justifies keeping it.
        rule = self.rules.get(category) if category else None
        if rule is None:
            return True
        anchor = (last if rule.since == "last_activity" else None) or collected
        return now - anchor > timedelta(days=rule.days)
