"""The traits hook (birthday and segment triggers react at once) and journeys across a merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from _journey_kit import customer
from personakit import Personakit, testing
from personakit._clock import FixedClock

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _anonymous_cart(kit: Personakit) -> str:
    anonymous = kit.identity.resolve("anon:a1", create=True)
    kit.consent.grant(
        anonymous,
        "marketing.email",
        notice="marketing_notice",
        notice_version="2026-01",
        source="web",
    )
    kit.traits.update(anonymous, {"email": "anon@shop.example"})
    kit.track("anon:a1", "add_to_cart", channel="web", properties={"item": "x"})
    return anonymous


def test_a_birthday_set_or_changed_is_watched_at_once_without_refresh() -> None:
    kit, clock = testing.memory_kit(clock=FixedClock(START))
    with kit:
        kit.journeys.enable_builtin(["birthday"])
        subject = customer(kit, "cleo", timezone="Europe/Paris")
        kit.traits.update(subject, {"birthday": "1990-03-09"})
        kit.traits.update(subject, {"birthday": "1990-03-05"})  # the watch moves, not doubles
        clock.advance(days=3)  # 5 March, 10:00 UTC: 9:00 Paris has passed
        assert kit.journeys.run_due().produced == 1
        (action,) = kit.journeys.pending()
        assert action.send_after == datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
        clock.advance(days=5)
        assert kit.journeys.run_due().produced == 0  # the 9 March watch is gone


def test_a_trait_that_puts_a_subject_in_a_segment_enters_the_journey_at_once() -> None:
    kit, _clock = testing.memory_kit(clock=FixedClock(START))
    with kit:
        kit.registries.segments.register(
            "test.parisian",
            lambda subject, now: kit.traits.get(subject).get("city") == "Paris",
            owner="tests",
            description="lives in Paris",
        )
        kit.journeys.load(
            [
                {
                    "id": "paris",
                    "trigger": {"type": "segment", "segment": "test.parisian", "on": "entered"},
                    "steps": [{"id": "hello", "template": "welcome"}],
                }
            ]
        )
        subject = customer(kit, "pia")
        kit.traits.update(subject, {"city": "Paris"})
        assert kit.journeys.report()["paris"]["-"]["entered"] == 1
        (action,) = [a for a in kit.journeys.pending() if a.journey == "paris"] or [None]
        assert action is None  # entered now, its step is produced by the next run_due
        assert kit.journeys.run_due().produced == 1


def test_a_merged_subject_s_active_journey_continues_as_the_survivor_s() -> None:
    kit, clock = testing.memory_kit(clock=FixedClock(START))
    with kit:
        kit.journeys.enable_builtin(["cart_abandonment"])
        _anonymous_cart(kit)
        kim = customer(kit, "kim")
        kit.link("anon:a1", "customer:kim")
        clock.advance(hours=4)
        assert kit.journeys.run_due().produced == 1
        (action,) = kit.journeys.pending()
        assert (action.subject, action.address) == (kim, "kim@shop.example")
        assert kit.journeys.mark_sent(action.id)
        clock.advance(days=1)
        assert kit.journeys.run_due().produced == 1  # the second step follows, once
        assert [a.step for a in kit.journeys.pending()] == ["second"]


def test_a_merge_keeps_one_active_entry_per_journey_and_moves_queued_actions() -> None:
    kit, clock = testing.memory_kit(clock=FixedClock(START))
    with kit:
        kit.journeys.enable_builtin(["cart_abandonment"])
        _anonymous_cart(kit)
        clock.advance(hours=4)
        assert kit.journeys.run_due().produced == 1  # queued for the anonymous subject
        kim = customer(kit, "kim")
        kit.track("customer:kim", "add_to_cart", channel="web", properties={"item": "y"})
        kit.link("anon:a1", "customer:kim")
        (moved,) = kit.journeys.pending()
        assert moved.subject == kim
        assert kit.journeys.report()["cart_abandonment"]["-"]["merged"] == 1
        clock.advance(hours=4)
        assert kit.journeys.run_due().produced == 1  # kim's own entry, not a second one
        clock.advance(days=2)
        assert kit.journeys.run_due().produced == 1  # kim's second step only
        assert kit.journeys.run_due(START + timedelta(days=30)).due == 0
