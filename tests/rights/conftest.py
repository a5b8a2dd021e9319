"""Fixtures for the rights tests: kits, and a helper that records a bit of everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from _shared import PRIVACY
from personakit import Personakit
from personakit.events import Event

MARKETING = {"notice": "marketing_notice", "notice_version": "2026-01", "source": "web"}


@pytest.fixture
def populate():
    """``populate(kit, ident, email=…, first_name=…, events=3)``: see :func:`_populate`."""
    return _populate


def _populate(kit: Personakit, ident: str, *, email: str, first_name: str, events: int = 3) -> str:
    """Give a subject identifiers, consent history, traits and events; return its pseudonym."""
    subject = kit.identity.resolve(ident, create=True)
    kit.identity.attach(subject, f"email:{email}")
    kit.consent.grant(subject, ["personalization", "analytics"], **PRIVACY)
    kit.consent.grant(subject, "marketing.email", **MARKETING)
    kit.consent.withdraw(subject, "analytics", source="web")
    traits = {"email": email, "first_name": first_name, "city": f"{first_name}ville"}
    kit.traits.update(subject, traits, source="checkout")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    docs = [
        {
            "id": f"evt_{first_name.lower()}{i:04d}",
            "kind": "product_view",
            "channel": "web",
            "at": (start + timedelta(minutes=i)).isoformat(),
            "properties": {"item": f"{first_name}-sku-{i}", "category": "bread"},
            "purposes": ["personalization"],
        }
        for i in range(events)
    ]
    kit.events.append(subject, [Event.from_json(doc) for doc in docs])
    return subject
