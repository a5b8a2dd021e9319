"""The post-purchase journey's message carries kit.recommend's items and reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from _journey_kit import customer
from personakit import LocalKeyProvider, Personakit
from personakit._clock import FixedClock


def test_post_purchase_message_recommends_from_the_item_model(
    tmp_path: Path, master_key: str
) -> None:
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    with Personakit.open(tmp_path / "s", keys=LocalKeyProvider(master_key), clock=clock) as kit:
        for n in range(6):
            customer(kit, f"c{n}")
            basket = [{"item": "sourdough"}, {"item": "butter"}]
            kit.track(f"customer:c{n}", "purchase", channel="web", properties={"items": basket})
        kit.journeys.enable_builtin(["post_purchase"])
        customer(kit, "dan")
        kit.track("customer:dan", "purchase", channel="web", properties={"item": "sourdough"})
        clock.advance(timedelta(days=2))
        kit.journeys.run_due()
        (action,) = [a for a in kit.journeys.pending() if a.template == "post_purchase"]
        assert action.payload["recommendations"][0] == {
            "item": "butter",
            "reason": "Because you bought sourdough",
        }
        assert "sourdough" not in [r["item"] for r in action.payload["recommendations"]]
