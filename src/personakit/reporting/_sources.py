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
from typing import Any

from attrs import define, field, frozen

from personakit._clock import Clock
from personakit.audit import AuditLog
from personakit.consent import ConsentManager, ConsentRecord, Manifest
from personakit.events import EventLog
from personakit.exceptions import SubjectNotFound
from personakit.profiles import TraitStore
from personakit.storage import Store
from personakit.workflows import Registries

__all__ = ["Census", "ReportSources", "SubjectFacts"]

#: Returns the request log: one mapping per request (see docs/reporting.md for the fields).
RequestSource = Callable[[], Sequence[Mapping[str, Any]]]


@frozen(kw_only=True)
class ReportSources:
    """Everything the reports read, as the facade wires it.

    Attributes:
        manifest: The purposes manifest in force.
        store: The data store (its type and settings are security measures).
        audit: The audit log (verified by the audit report; packs are recorded in it).
        clock: The kit's clock (``generated_at``, "now" for deadlines and retention).
        tenant: The tenant, shown on every report.
        registries: Record kinds, segments and datasets the capabilities registered.
        consent: The consent manager (ledgers are read, never written).
        traits: The trait store (which traits a subject holds; values are not reported).
        events: The event log (which event kinds and properties a subject holds).
        subjects: Every subject with a data key.
        resolve: An identifier or pseudonym to the subject (for the one-subject dossier).
        requests: The data-subject request log (from rights, through the facade).
        security: The security measures of the running configuration.
        dataset_purpose: The purpose reports read registered datasets under.
    """

    manifest: Manifest
    store: Store
    audit: AuditLog
    clock: Clock
    tenant: str
    registries: Registries
    consent: ConsentManager
    traits: TraitStore
    events: EventLog
    subjects: Callable[[], list[str]]
    resolve: Callable[[str], str]
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
    """One pass over every subject, shared by the reports of one build (read only)."""

    sources: ReportSources
    _facts: list[SubjectFacts] | None = field(default=None, init=False)

    def facts(self) -> list[SubjectFacts]:
        """Per subject, what it holds (computed once)."""
        if self._facts is None:
            self._facts = list(self._scan())
        return self._facts

    def _scan(self) -> Iterator[SubjectFacts]:
        src = self.sources
        for subject in src.subjects():
            try:
                traits = frozenset(src.traits.details(subject))
                events = src.events.read(subject, compact=False)
                ledger = tuple(src.consent.ledger(subject))
            except SubjectNotFound:
                continue  # erased while we read: it holds nothing any more
            yield SubjectFacts(
                traits=traits,
                event_kinds=Counter(event.kind for event in events),
                event_properties=frozenset(
                    (event.kind, name) for event in events for name in event.properties
                ),
                ledger=ledger,
            )
