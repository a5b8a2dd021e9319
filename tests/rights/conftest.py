"""Fixtures for the rights tests: kits, and a helper that records a bit of everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from personakit import Personakit
from personakit._codec import canonical_json
from personakit.events import Event

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "web"}
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
    if hasattr(kit, "traits"):
        kit.traits.update(subject, traits, source="checkout")
    else:  # before the traits component exists: the record format it writes
        at = kit.clock.now().isoformat()
        kit.vault.put_json(
            subject,
            "traits",
            "current",
            {k: {"value": v, "updated_at": at, "source": "checkout"} for k, v in traits.items()},
        )
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
    if hasattr(kit, "events"):
        kit.events.append(subject, [Event.from_json(doc) for doc in docs])
    else:
        kit.vault.put(subject, "events", "0000000000000-aaaaaaaaaa", canonical_json(docs))
    return subject
