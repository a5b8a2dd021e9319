"""A seeded shop for the report tests: a manifest with an older notice version and a transfer,
subjects with known consent histories, requests answered on time and late, DP releases."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from personakit import FixedClock, LocalKeyProvider, Personakit, generate_master_key
from personakit.consent import Manifest
from personakit.rights import OperatorAttestation

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
OLD_VERSION = "2025-06"
#: What one subject did about personalization: the actions the truth model knows.
ACTIONS = ("none", "grant", "refuse", "withdraw", "stale", "expired")


def manifest() -> Manifest:
    """The default manifest plus an older privacy notice version and one transfer."""
    doc = Manifest.default().to_json()
    current = next(n for n in doc["notices"] if n["id"] == "privacy_notice")
    older = {**current, "version": OLD_VERSION, "text_sha256": "ab" * 32}
    doc["notices"].insert(doc["notices"].index(current), older)
    doc["transfers"] = [
        {
            "recipient": "push_service",
            "country": "US",
            "safeguards": "EU standard contractual clauses",
            "purposes": ["marketing.push"],
        }
    ]
    return Manifest.from_json(doc)


def open_kit(
    location: str = "memory:", *, clock: FixedClock | None = None, key: str | None = None
) -> Personakit:
    """A kit on ``location`` with the scenario manifest, at :data:`NOW` (``key``: a new one)."""
    return Personakit.open(
        location,
        keys=LocalKeyProvider(key or generate_master_key()),
        clock=clock or FixedClock(NOW),
        manifest=manifest(),
    )


def apply_consents(kit: Personakit, people: Sequence[tuple[str, bool]]) -> list[str]:
    """Give subject ``customer:i`` the personalization ``action`` and a GPC signal if asked."""
    now = kit.clock.now()
    purpose = "personalization"
    notice = kit.manifest.purpose(purpose).notice
    assert notice == "privacy_notice"
    current = kit.manifest.current_notice_version(notice)
    assert current is not None
    subjects = []
    for index, (action, gpc) in enumerate(people):
        subject = kit.identity.resolve(f"customer:{index}", create=True)
        subjects.append(subject)
        shown: dict[str, Any] = {"notice": notice, "notice_version": current, "source": "web"}
        if action == "grant":
            kit.consent.grant(subject, purpose, **shown)
        elif action == "refuse":
            kit.consent.refuse(subject, purpose, **shown)
        elif action == "withdraw":
            kit.consent.grant(subject, purpose, **shown)
            kit.consent.withdraw(subject, purpose, source="web")
        elif action == "stale":
            kit.consent.grant(subject, purpose, **{**shown, "notice_version": OLD_VERSION})
        elif action == "expired":
            kit.consent.grant(subject, purpose, **shown, occurred_at=now - timedelta(days=400))
        if gpc:
            kit.consent.record_gpc(subject, "1")
    return subjects


def dsr_requests(kit: Personakit, clock: FixedClock) -> dict[str, Any]:
    """Five requests: on time, late, denied, open within and past the deadline; the truth."""
    book = kit.rights.requests
    verifier = OperatorAttestation(method="test")
    start = clock.now()
    made = []
    for offset, identifier in enumerate(["email:a@example.com", "email:b@example.com"]):
        made.append(
            book.open(
                "access",
                identifier,
                jurisdiction="gdpr",
                channel="email",
                received_at=start - timedelta(days=60 - offset),
            )
        )
    on_time, late = made
    denied = book.open(
        "erasure",
        "email:c@example.com",
        jurisdiction="ccpa",
        channel="web_form",
        received_at=start - timedelta(days=20),
    )
    overdue = book.open(
        "access",
        "email:d@example.com",
        jurisdiction="gdpr",
        channel="email",
        received_at=start - timedelta(days=45),
    )
    still_open = book.open("access", "email:e@example.com", jurisdiction="gdpr", channel="email")
    clock.set(on_time.received_at + timedelta(days=10))
    book.verify(on_time.id, verifier=verifier)
    book.start(on_time.id)
    book.complete(on_time.id, {"note": "sent"})
    clock.set(late.received_at + timedelta(days=50))
    book.verify(late.id, verifier=verifier)
    book.start(late.id)
    book.complete(late.id, {"note": "sent"})
    clock.set(denied.received_at + timedelta(days=3))
    book.deny(denied.id, basis="identity could not be verified")
    clock.set(start)
    return {
        "on_time": on_time.id,
        "late": late.id,
        "denied": denied.id,
        "overdue": overdue.id,
        "open": still_open.id,
        "days": [10, 50, 3],
    }


def releases(kit: Personakit) -> Iterator[float]:
    """Two DP releases on ``customers``; yields each epsilon spent."""
    kit.analytics.set_budget("customers", epsilon=2.0, actor="dpo", reason="quarterly")
    for reason in ("weekly count", "monthly count"):
        result = kit.analytics.count(
            "customers", epsilon=0.25, actor="analyst", reason=reason, reuse=False
        )
        yield result.loss.epsilon
