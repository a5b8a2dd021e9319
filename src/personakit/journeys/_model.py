"""The values journeys hands out: outbox actions, run summaries, redemption results."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen

__all__ = ["Action", "Redeemed", "RunSummary"]


@frozen(kw_only=True)
class Action:
    """One message due to send: everything the host (or a sender) needs, nothing more.

    ``id`` is the idempotency key (stable across retries and processes); ``address`` is read
    from the subject's traits when the action is handed out, after consent, restriction and
    the suppression list were checked again; ``headers`` carry the RFC 8058 one-click
    unsubscribe headers for e-mail when an unsubscribe URL is configured.

    For an e-mail with a tracking URL configured, and only while the subject has a basis for
    the engagement events: ``pixel_url`` is the open pixel, ``links`` maps each link of the
    payload (``url`` / ``*_url`` values) to its click-redirect URL, and ``payload`` already
    holds the redirect URLs in their place. Otherwise ``pixel_url`` is None, ``links`` empty.
    """

    id: str
    subject: str
    journey: str
    step: str
    channel: str
    address: str
    template: str
    payload: Mapping[str, Any]
    send_after: datetime
    attempts: int
    unsubscribe_token: str
    headers: Mapping[str, str]
    pixel_url: str | None = None
    links: Mapping[str, str] = field(factory=dict)


@frozen(kw_only=True)
class RunSummary:
    """What one :meth:`~personakit.journeys.Journeys.run_due` did."""

    due: int = 0
    produced: int = 0
    deferred: int = 0
    cancelled: int = 0
    skipped: int = 0
    entered: int = 0
    stale: int = 0

    def as_dict(self) -> dict[str, int]:
        """A JSON summary (the CLI prints it)."""
        return {
            "due": self.due,
            "produced": self.produced,
            "deferred": self.deferred,
            "cancelled": self.cancelled,
            "skipped": self.skipped,
            "entered": self.entered,
            "stale": self.stale,
        }


@frozen(kw_only=True)
class Redeemed:
    """The outcome of redeeming an unsubscribe token (the same on every repeat)."""

    channel: str
    withdrawn: bool
    suppressed: bool
