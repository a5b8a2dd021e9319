"""Retention: per category from the manifest, derived at sweep time, reported with counts."""

from __future__ import annotations

from datetime import timedelta

from personakit import FixedClock, Personakit

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01"}


def test_sweep_deletes_only_what_expired(memory_kit: Personakit, clock: FixedClock) -> None:
    """Browsing events go after their longest purpose's period; purchases stay 10 years."""
    subject = memory_kit.identity.resolve("customer:1", create=True)
    memory_kit.consent.grant(subject, ["personalization", "analytics"], source="web", **NOTICE)
    memory_kit.track("customer:1", "product_view", channel="web", properties={"item": "a"})
    memory_kit.track("customer:1", "purchase", channel="web", properties={"item": "a"})
    # browsing: personalization keeps it 730 days after the last activity
    report = memory_kit.retention.sweep(clock.now() + timedelta(days=700))
    assert report.removed["events"] == 0
    report = memory_kit.retention.sweep(clock.now() + timedelta(days=800))
    # Besides the browsing event, the purchase statistics kit.predict derived for
    # personalization go after its 730 days; the purchase itself stays (essential, 10 years).
    # Kinds that removed nothing may be listed with 0 (each capability's sweeper reports).
    # kit.recommend's record of item "a" (last seen 800 days ago) leaves record and model too.
    removed = report.to_json()["removed"]
    assert {kind: n for kind, n in removed.items() if n} == {
        "events": 1,
        "predictive": 1,
        "recommendations": 1,
    }
    assert removed["traits"] == 0
    assert [e.kind for e in memory_kit.events.read(subject)] == ["purchase"]
    assert list(memory_kit.audit.entries())[-1].action == "retention.swept"


def test_registered_sweepers_run(memory_kit: Personakit, clock: FixedClock) -> None:
    """A component's sweeper is called per subject and its counts are reported."""
    memory_kit.identity.resolve("customer:1", create=True)
    memory_kit.identity.resolve("customer:2", create=True)
    memory_kit.retention.register("affinity", lambda subject, now: 2)
    report = memory_kit.retention.sweep(clock.now())
    assert report.removed["affinity"] == 4
    assert report.subjects == 2
