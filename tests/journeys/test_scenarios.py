"""Journeys with an injected clock: each built-in produces exactly the expected actions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from _journey_kit import customer
from personakit import LocalKeyProvider, Personakit, generate_master_key
from personakit._clock import FixedClock

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Paris


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Personakit]:
    clock = FixedClock(START)
    with Personakit.open(
        tmp_path / "store", keys=LocalKeyProvider(generate_master_key()), clock=clock
    ) as opened:
        yield opened


def _clock(kit: Personakit) -> FixedClock:
    assert isinstance(kit.clock, FixedClock)
    return kit.clock


def _sent(kit: Personakit) -> list[tuple[str, str, str, datetime]]:
    """Hand out everything due now and mark it sent: (journey, step, channel, send_after)."""
    out = []
    for action in kit.journeys.pending():
        out.append((action.journey, action.step, action.channel, action.send_after))
        assert kit.journeys.mark_sent(action.id)
    return out


def test_cart_abandonment_reminds_twice_then_a_purchase_ends_it(kit: Personakit) -> None:
    kit.journeys.enable_builtin(["cart_abandonment"])
    subject = customer(kit, "ann", timezone="Europe/Paris")
    kit.track("customer:ann", "add_to_cart", channel="web", properties={"item": "p1"})
    assert kit.journeys.run_due().produced == 0  # nothing due yet
    _clock(kit).advance(hours=4)
    assert kit.journeys.run_due().produced == 1
    first = kit.journeys.pending()
    assert [(a.journey, a.step, a.channel) for a in first] == [
        ("cart_abandonment", "reminder", "email")
    ]
    assert first[0].send_after == START + timedelta(hours=4)
    assert first[0].payload["first_name"] == "Ann"
    assert first[0].payload["context"] == {"item": "p1"}
    assert first[0].address == "ann@shop.example"
    assert kit.journeys.mark_sent(first[0].id)
    assert not kit.journeys.mark_sent(first[0].id)  # idempotent
    kit.track(
        "customer:ann", "purchase", channel="web", properties={"order_id": "o1", "item": "p1"}
    )
    _clock(kit).advance(days=2)
    assert kit.journeys.run_due().produced == 0  # the purchase ended the journey
    assert kit.journeys.pending() == []
    report = kit.journeys.report()["cart_abandonment"]
    assert report["-"] == {"entered": 1, "exited": 1, "converted": 1}
    assert report["reminder"] == {"produced": 1, "sent": 1}
    assert subject


def test_cart_abandonment_without_purchase_sends_the_second_reminder(kit: Personakit) -> None:
    kit.journeys.enable_builtin(["cart_abandonment"])
    customer(kit, "bob")
    kit.track("customer:bob", "add_to_cart", channel="web", properties={"item": "p2"})
    _clock(kit).advance(hours=4)
    kit.journeys.run_due()
    assert [s[:3] for s in _sent(kit)] == [("cart_abandonment", "reminder", "email")]
    _clock(kit).advance(days=1)
    kit.journeys.run_due()
    assert [s[1] for s in _sent(kit)] == ["second"]


def test_birthday_at_nine_local_time_by_email(kit: Personakit) -> None:
    kit.journeys.enable_builtin(["birthday"])
    subject = customer(kit, "cleo", birthday="1990-03-05", timezone="America/New_York")
    assert kit.journeys.refresh(subject) == 0  # watches the next birthday
    _clock(kit).set(datetime(2026, 3, 5, 13, 59, tzinfo=UTC))
    assert kit.journeys.run_due().entered == 0
    _clock(kit).set(datetime(2026, 3, 5, 14, 0, tzinfo=UTC))  # 09:00 EST
    summary = kit.journeys.run_due()
    assert (summary.entered, summary.produced) == (1, 1)
    sent = _sent(kit)
    assert sent == [("birthday", "treat", "email", datetime(2026, 3, 5, 14, 0, tzinfo=UTC))]
    # next year's birthday is watched already: 9:00 EST again
    _clock(kit).set(datetime(2027, 3, 5, 14, 0, tzinfo=UTC))
    assert kit.journeys.run_due().produced == 1


def test_post_purchase_thanks_with_recommendations_two_days_later(kit: Personakit) -> None:
    kit.journeys.engine.recommend = lambda subject, items: [
        {"item": f"{items[0]}-case", "reason": "goes well with what you bought"}
    ]
    kit.journeys.enable_builtin(["post_purchase"])
    customer(kit, "dan")
    kit.track("customer:dan", "purchase", channel="web", properties={"item": "phone"})
    _clock(kit).advance(days=2)
    assert kit.journeys.run_due().produced == 1
    (action,) = kit.journeys.pending()
    assert (action.template, action.channel) == ("post_purchase", "email")
    assert action.payload["recommendations"] == [
        {"item": "phone-case", "reason": "goes well with what you bought"}
    ]


def test_win_back_after_ninety_days_without_a_purchase(kit: Personakit) -> None:
    kit.journeys.enable_builtin(["win_back"])
    customer(kit, "eve", phone="+33612345678", preferred_channel="sms")
    kit.track("customer:eve", "purchase", channel="web", properties={"item": "p3"})
    _clock(kit).advance(days=60)
    kit.track(
        "customer:eve", "purchase", channel="web", properties={"item": "p3"}
    )  # moves the watch
    _clock(kit).advance(days=89)
    assert kit.journeys.run_due().due == 0
    _clock(kit).advance(days=1)
    assert kit.journeys.run_due().produced == 1
    sent = _sent(kit)
    assert [(j, s, c) for j, s, c, _ in sent] == [("win_back", "miss_you", "sms")]


def test_holdout_subjects_get_nothing_and_are_counted(kit: Personakit) -> None:
    doc = {
        "id": "held",
        "trigger": {"type": "event", "event": "add_to_cart"},
        "steps": [{"id": "only", "template": "cart_abandonment"}],
        "holdout": 0.5,
    }
    kit.journeys.load([doc])
    for n in range(30):
        customer(kit, f"h{n}")
        kit.track(f"customer:h{n}", "add_to_cart", channel="web", properties={"item": "p4"})
    summary = kit.journeys.run_due()
    report = kit.journeys.report()["held"]["-"]
    assert report["holdout"] + report["entered"] == 30
    assert 0 < report["holdout"] < 30
    assert summary.produced == report["entered"]
    rows = list(kit.registries.datasets.rows("journeys.actions", "personalization"))
    assert sum(row["status"] == "holdout" for _, row in rows) == report["holdout"]
