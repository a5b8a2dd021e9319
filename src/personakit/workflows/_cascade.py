"""The withdrawal cascade for the core record kinds: events and traits.

When a purpose loses its lawful basis for a subject (withdrawal, refusal, objection, expiry),
what was kept only for it goes, inside the transaction that records the change: events lose
the purpose from their purposes and are deleted when none is left; traits whose category no
other purpose with a current basis covers are deleted. Both are registered as the
``withdrawal`` handlers of their record kinds, counted together under ``profile`` in consent
receipts.
"""

from __future__ import annotations

from attrs import evolve

from personakit.consent import BasisRule
from personakit.events import Event, EventLog
from personakit.profiles import TraitStore

__all__ = ["ProfileWithdrawal"]


class ProfileWithdrawal:
    """Deletes a subject's events and traits kept only for a purpose that lost its basis."""

    def __init__(self, *, events: EventLog, traits: TraitStore, basis: BasisRule) -> None:
        """Wire to the event log, the trait store and the lawful-basis rule."""
        self.events = events
        self.traits = traits
        self.basis = basis

    def __repr__(self) -> str:
        """Render plainly (nothing to show)."""
        return "ProfileWithdrawal()"

    def erase_events(self, subject: str, purpose: str) -> int:
        """Strip ``purpose`` from ``subject``'s events; delete those left with none."""

        def strip(event: Event) -> Event | None:
            if purpose not in event.purposes:
                return event
            left = tuple(p for p in event.purposes if p != purpose)
            return evolve(event, purposes=left) if left else None

        deleted, _ = self.events.transform(subject, strip)
        return deleted

    def erase_traits(self, subject: str, purpose: str) -> int:
        """Delete ``subject``'s traits whose category has no basis left without ``purpose``."""
        doomed = [
            name
            for name in self.traits.get(subject)
            if not self.basis.covered_without(
                subject, self.traits.declarations[name].category, purpose
            )
        ]
        return self.traits.remove(subject, doomed)
