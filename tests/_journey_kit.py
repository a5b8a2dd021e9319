"""Helpers for the journeys tests: a customer with traits and marketing consent."""

from __future__ import annotations

from typing import Any

from _shared import PRIVACY
from personakit import Personakit

MARKETING = ["marketing.email", "marketing.sms", "marketing.push"]
NOTICE = {"notice": "marketing_notice", "notice_version": "2026-01", "source": "web"}


def customer(
    kit: Personakit,
    name: str,
    *,
    consent: list[str] | None = None,
    **traits: Any,
) -> str:
    """A customer ``customer:<name>`` with ``traits`` and consent to ``consent`` (default: all)."""
    subject = kit.identity.resolve(f"customer:{name}", create=True)
    purposes = MARKETING if consent is None else consent
    if purposes:
        kit.consent.grant(subject, purposes, **NOTICE)
    kit.consent.grant(subject, "personalization", **PRIVACY)
    values = {"email": f"{name}@shop.example", "first_name": name.title(), **traits}
    kit.traits.update(subject, {k: v for k, v in values.items() if v is not None})
    return subject
