"""Segment, browse and merge behaviour of journeys, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime

from _journey_kit import customer
from personakit import testing
from personakit._clock import FixedClock

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_segment_trigger_fires_on_entering_not_on_staying() -> None:
    kit, clock = testing.memory_kit(clock=FixedClock(START))
    members: set[str] = set()
    kit.registries.segments.register(
        "test.vip", lambda subject, now: subject in members, owner="tests", description="d"
    )
    kit.journeys.load(
        [
            {
                "id": "vip_welcome",
                "trigger": {"type": "segment", "segment": "test.vip", "on": "entered"},
                "steps": [{"id": "hello", "template": "welcome"}],
                "reentry": {"mode": "after_exit"},
            }
        ]
    )
    subject = customer(kit, "vic")
    kit.track("customer:vic", "page_view", channel="web")
    assert kit.journeys.run_due().produced == 0
    members.add(subject)
    assert kit.journeys.refresh(subject) == 1
    assert kit.journeys.refresh(subject) == 0  # still a member: no new entry
    assert kit.journeys.run_due().produced == 1
    members.discard(subject)
    kit.track("customer:vic", "page_view", channel="web")  # left: remembered, nothing sent
    clock.advance(days=1)
    members.add(subject)
    assert kit.journeys.refresh(subject) == 1  # entered again
    assert kit.journeys.run_due().produced == 1
    assert kit.journeys.report()["vip_welcome"]["-"]["entered"] == 2


def test_browse_abandonment_is_ended_by_adding_to_the_cart() -> None:
    kit, clock = testing.memory_kit(clock=FixedClock(START))
    kit.journeys.enable_builtin(["browse_abandonment"])
    customer(kit, "bea")
    customer(kit, "ben")
    for name in ("bea", "ben"):
        kit.track(f"customer:{name}", "product_view", channel="web", properties={"item": "s"})
    kit.track("customer:ben", "add_to_cart", channel="web", properties={"item": "s"})
    clock.advance(days=1)
    kit.journeys.run_due()
    actions = kit.journeys.pending()
    assert [(a.address, a.template) for a in actions] == [
        ("bea@shop.example", "browse_abandonment")
    ]
