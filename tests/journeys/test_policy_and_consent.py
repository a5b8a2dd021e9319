"""Contact policy (caps, quiet hours across DST), cancellations, unsubscribe, suppression."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from _journey_kit import NOTICE, customer
from personakit import LocalKeyProvider, Personakit, generate_master_key
from personakit._clock import FixedClock
from personakit.journeys import InvalidToken
from personakit.testing import find_bytes

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TWO_STEPS = {
    "id": "two_steps",
    "trigger": {"type": "event", "event": "add_to_cart"},
    "steps": [
        {"id": "first", "template": "cart_abandonment"},
        {"id": "second", "template": "cart_abandonment", "delay": {"hours": 1}},
    ],
    "channels": ["email"],
}


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Personakit]:
    with Personakit.open(
        tmp_path / "store",
        keys=LocalKeyProvider(generate_master_key()),
        clock=FixedClock(START),
    ) as opened:
        yield opened


def _clock(kit: Personakit) -> FixedClock:
    assert isinstance(kit.clock, FixedClock)
    return kit.clock


def _cart(kit: Personakit, name: str) -> None:
    kit.track(f"customer:{name}", "add_to_cart", channel="web", properties={"item": "p1"})


def test_quiet_hours_defer_to_eight_local_across_the_dst_change(kit: Personakit) -> None:
    kit.journeys.enable_builtin(["cart_abandonment"])
    customer(kit, "ann", timezone="Europe/Paris")
    _clock(kit).set(datetime(2026, 3, 28, 17, 30, tzinfo=UTC))
    _cart(kit, "ann")
    _clock(kit).set(datetime(2026, 3, 28, 21, 30, tzinfo=UTC))  # 22:30 CET: quiet
    summary = kit.journeys.run_due()
    assert (summary.produced, summary.deferred) == (1, 1)
    assert kit.journeys.pending() == []  # not before the quiet hours end
    # Clocks went forward at 01:00 UTC: 08:00 in Paris is now 06:00 UTC, not 07:00.
    _clock(kit).set(datetime(2026, 3, 29, 5, 59, tzinfo=UTC))
    assert kit.journeys.pending() == []
    _clock(kit).set(datetime(2026, 3, 29, 6, 0, tzinfo=UTC))
    (action,) = kit.journeys.pending()
    assert action.send_after == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert kit.journeys.report()["cart_abandonment"]["reminder"]["deferred"] == 1


def test_the_e_mail_cap_defers_the_second_message_never_drops_it(kit: Personakit) -> None:
    kit.journeys.load([TWO_STEPS])
    customer(kit, "bob", timezone="Europe/Paris")
    _cart(kit, "bob")
    kit.journeys.run_due()
    _clock(kit).advance(hours=1)
    assert kit.journeys.run_due().deferred == 1
    sends = sorted(a.send_after for a in kit.journeys.pending(datetime(2026, 3, 9, tzinfo=UTC)))
    # one e-mail per 16 hours: 02:00 UTC, which is 03:00 in Paris (quiet) -> 08:00 Paris
    assert sends == [START, datetime(2026, 3, 3, 7, 0, tzinfo=UTC)]


def test_a_withdrawal_after_scheduling_cancels_with_the_reason(kit: Personakit) -> None:
    kit.journeys.enable_builtin(["cart_abandonment"])
    subject = customer(kit, "cleo")
    _cart(kit, "cleo")
    _clock(kit).advance(hours=4)
    assert kit.journeys.run_due().produced == 1
    kit.consent.withdraw(subject, "marketing.email", source="web")
    assert kit.journeys.pending() == []
    step = kit.journeys.report()["cart_abandonment"]["reminder"]
    assert step["cancelled.withdrawn"] == 1


def test_a_restriction_before_sending_cancels_at_hand_out(kit: Personakit) -> None:
    kit.journeys.enable_builtin(["cart_abandonment"])
    subject = customer(kit, "dan")
    _cart(kit, "dan")
    _clock(kit).advance(hours=4)
    kit.journeys.run_due()
    kit.consent.restrict(subject, source="web")
    assert kit.journeys.pending() == []
    assert kit.journeys.report()["cart_abandonment"]["reminder"]["cancelled.restricted"] == 1


def test_no_consent_falls_back_to_the_next_channel_or_records_why(kit: Personakit) -> None:
    kit.journeys.enable_builtin(["cart_abandonment"])
    customer(kit, "eve", consent=["marketing.sms"], phone="+33612345678")
    customer(kit, "fay", consent=[])
    _cart(kit, "eve")
    _cart(kit, "fay")
    _clock(kit).advance(hours=4)
    kit.journeys.run_due()
    assert [(a.channel, a.address) for a in kit.journeys.pending()] == [("sms", "+33612345678")]
    assert kit.journeys.report()["cart_abandonment"]["reminder"]["cancelled.no_consent"] == 1


def test_unsubscribe_withdraws_consent_cancels_the_next_and_is_idempotent(
    kit: Personakit,
) -> None:
    kit.journeys.load([TWO_STEPS])
    kit.journeys.outbox.unsubscribe_url = "https://shop.example/u?t="
    subject = customer(kit, "gus")
    _cart(kit, "gus")
    kit.journeys.run_due()
    (first,) = kit.journeys.pending()
    assert first.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first.headers["List-Unsubscribe"].startswith("<https://shop.example/u?t=")
    kit.journeys.mark_sent(first.id)
    done = kit.journeys.redeem(first.unsubscribe_token)
    assert (done.channel, done.withdrawn, done.suppressed) == ("email", True, True)
    assert not kit.consent.allowed(subject, "marketing.email")
    (record,) = kit.consent.ledger(subject, "marketing.email")[-1:]
    assert record.source == "email_link"
    again = kit.journeys.redeem(first.unsubscribe_token)
    assert (again.withdrawn, again.suppressed) == (False, True)
    _clock(kit).advance(hours=1)
    kit.journeys.run_due()
    assert kit.journeys.pending(datetime(2026, 3, 9, tzinfo=UTC)) == []
    assert kit.journeys.report()["two_steps"]["second"]["cancelled.no_consent"] == 1


def test_every_bad_token_gets_the_same_opaque_error(kit: Personakit) -> None:
    kit.journeys.load([TWO_STEPS])
    customer(kit, "hal")
    _cart(kit, "hal")
    kit.journeys.run_due()
    (action,) = kit.journeys.pending()
    token = action.unsubscribe_token
    body, _, tag = token.partition(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    messages = set()
    for bad in (flipped + "." + tag, body + "." + tag[::-1], "x", "", 42, None, "\ud800.x"):
        with pytest.raises(InvalidToken) as caught:
            kit.journeys.redeem(bad)
        messages.add(str(caught.value))
    _clock(kit).advance(days=61)
    with pytest.raises(InvalidToken) as caught:
        kit.journeys.redeem(token)
    messages.add(str(caught.value))
    assert len(messages) == 1


def test_tokens_survive_a_master_key_rotation(tmp_path: Path) -> None:
    old, new = generate_master_key(), generate_master_key()
    clock = FixedClock(START)
    with Personakit.open(tmp_path / "s", keys=LocalKeyProvider(old), clock=clock) as kit:
        kit.journeys.load([TWO_STEPS])
        customer(kit, "ivy")
        _cart(kit, "ivy")
        kit.journeys.run_due()
        token = kit.journeys.pending()[0].unsubscribe_token
    rotated = LocalKeyProvider(new, previous=[old])
    with Personakit.open(tmp_path / "s", keys=rotated, clock=clock) as kit:
        kit.keyring.rotate()
    with Personakit.open(tmp_path / "s", keys=LocalKeyProvider(new), clock=clock) as kit:
        assert kit.journeys.redeem(token).withdrawn


def test_an_erased_unsubscriber_imported_again_gets_no_marketing(
    kit: Personakit, tmp_path: Path
) -> None:
    kit.journeys.load([TWO_STEPS])
    subject = customer(kit, "jo")
    _cart(kit, "jo")
    kit.journeys.run_due()
    token = kit.journeys.pending()[0].unsubscribe_token
    kit.journeys.redeem(token)
    kit.rights.erase(subject)
    assert kit.journeys.is_suppressed("email", " JO@shop.example ")
    # a CRM import brings the same address back, with a (stale) marketing grant
    again = customer(kit, "jo")
    assert again != subject
    _clock(kit).advance(days=1)
    _cart(kit, "jo")
    kit.journeys.run_due(kit.clock.now() + timedelta(hours=2))
    assert kit.journeys.pending(datetime(2026, 3, 9, tzinfo=UTC)) == []
    assert kit.journeys.report()["two_steps"]["first"]["cancelled.suppressed"] >= 1
    kit.rights.erase(again)
    kit.store.scrub()
    assert find_bytes(tmp_path, b"jo@shop.example") == []
    assert kit.consent.manifest.get_purpose("marketing.email") is not None
    assert NOTICE["notice"] == "marketing_notice"


def test_caps_and_quiet_hours_across_the_autumn_change(kit: Personakit) -> None:
    kit.journeys.load([TWO_STEPS])
    customer(kit, "kay", timezone="Europe/Paris")
    customer(kit, "lou", timezone="Europe/Paris")
    _clock(kit).set(datetime(2026, 10, 24, 16, 0, tzinfo=UTC))  # 18:00 CEST
    _cart(kit, "kay")
    _clock(kit).set(datetime(2026, 10, 24, 20, 30, tzinfo=UTC))  # 22:30 CEST: quiet
    _cart(kit, "lou")
    _clock(kit).set(datetime(2026, 10, 24, 21, 30, tzinfo=UTC))
    kit.journeys.run_due()
    late = datetime(2026, 11, 2, tzinfo=UTC)
    sends = {(a.address, a.step): a.send_after for a in kit.journeys.pending(late, limit=10)}
    assert sends == {
        ("kay@shop.example", "first"): datetime(2026, 10, 24, 16, 0, tzinfo=UTC),
        # capped until 08:00 UTC, 16 hours after the first (09:00 CET: not quiet)
        ("kay@shop.example", "second"): datetime(2026, 10, 25, 8, 0, tzinfo=UTC),
        # quiet until 08:00 local, which after the change is 07:00 UTC, not 06:00
        ("lou@shop.example", "first"): datetime(2026, 10, 25, 7, 0, tzinfo=UTC),
        # its second step was due at once too: quiet, then capped to 23:00 UTC (midnight,
        # quiet again), so 08:00 local the day after
        ("lou@shop.example", "second"): datetime(2026, 10, 26, 7, 0, tzinfo=UTC),
    }


def test_a_cancelled_action_does_not_use_up_the_cap(kit: Personakit) -> None:
    kit.journeys.load([TWO_STEPS])
    subject = customer(kit, "max", timezone="Europe/Paris")
    _cart(kit, "max")
    kit.journeys.run_due()
    kit.consent.withdraw(subject, "marketing.email", source="web")  # cancels the first
    kit.consent.grant(subject, "marketing.email", **NOTICE)
    _clock(kit).advance(hours=1)
    assert kit.journeys.run_due().deferred == 0
    (action,) = kit.journeys.pending()
    assert (action.step, action.send_after) == ("second", START + timedelta(hours=1))
