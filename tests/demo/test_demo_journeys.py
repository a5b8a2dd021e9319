"""A real visitor gets the cart reminder: sign-in form, login linking, the demo's scheduler.

Over HTTP against the shop served on a real embedded store (no mocks) with a fixed clock: a
visitor accepts the banner, puts an item in the cart, then signs in with an e-mail address and
ticks the (unticked) marketing box, and leaves. Once the clock passes the journey's delay, the
demo's own scheduler thread runs ``run_due`` and the reminder shows in the operator page's
outbox, or, with an SMTP server (aiosmtpd), arrives there. A visitor who checks out leaves the
journey; one who does not tick the box gets nothing.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest

pytest.importorskip("flask")

from aiosmtpd.controller import Controller

from personakit import FixedClock
from personakit.demo._check import Client
from personakit.journeys.smtp import SmtpSender
from personakit_demo import running_shop

REMINDER = "cart_abandonment/reminder by email (cart_abandonment)"
PASSWORD = "operator-test-password"
FAST = 0.05  # seconds between scheduler runs


@pytest.fixture
def clock() -> FixedClock:
    # Today at 09:00 UTC, not the wall clock: the reminder comes 5 hours after the cart, and
    # from a start after 16:00 that lands in the contact policy's quiet hours (deferred, so
    # nothing reaches the SMTP server), which made the delivery test fail every evening.
    return FixedClock(datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0))


@pytest.fixture
def shop(tmp_path, clock):
    with running_shop(tmp_path / "demo", clock=clock, interval=FAST, password=PASSWORD) as running:
        yield running


def visitor_leaves_a_cart(url: str, address: str, *, marketing: bool, buy: bool = False) -> Client:
    """Accept, add to the cart, then sign in through the form (ticking the box or not)."""
    client = Client(url)
    assert client.form("/choices", {"choice": "accept", "next": "/"})[0] == 200
    status, page = client.form("/cart/add", {"item": "croissant"})
    assert status == 200
    assert "triggered by these cart events" in page
    status, page = client.get("/account")
    assert 'id="marketing"' in page
    assert 'name="marketing" value="yes">' in page  # shown unticked
    assert "one-click" in page  # the consent text is shown next to it
    fields = {"email": address, **({"marketing": "yes"} if marketing else {})}
    status, page = client.form("/account/sign-in", fields)
    assert status == 200
    assert 'id="account-email"' in page
    if buy:
        assert 'id="thanks"' in client.form("/checkout", {})[1]
    return client


def outbox(url: str) -> str:
    operator = Client(url)
    status, page = operator.form("/operator/login", {"password": PASSWORD})
    assert status == 200
    return page.partition('id="journeys"')[2].partition("</section>")[0]


def later(shop, clock: FixedClock, hours: float) -> None:
    """Move the shop's clock, then wait for two scheduler runs (one wholly after the move)."""
    clock.advance(timedelta(hours=hours))
    assert shop.scheduler.wait_for(shop.scheduler.ticks + 2, timeout=30)


def test_a_real_visitor_gets_the_cart_reminder_in_the_outbox(shop, clock):
    visitor_leaves_a_cart(shop.url, "left.cart@example.com", marketing=True)
    subject = shop.kit.identity.lookup("email:left.cart@example.com")
    assert subject is not None
    assert shop.kit.consent.allowed(subject, "marketing.email")
    record = shop.kit.consent.ledger(subject, "marketing.email")[-1]
    assert (record.notice_id, record.notice_version) == ("marketing_notice", "2026-01")
    later(shop, clock, 1)  # before the 4-hour delay: nothing yet
    assert REMINDER not in outbox(shop.url)
    later(shop, clock, 4)
    found = outbox(shop.url)
    assert REMINDER in found
    assert "left.cart@example.com" not in found  # the operator page shows no address


def test_no_tick_no_reminder_and_a_purchase_leaves_the_journey(shop, clock):
    visitor_leaves_a_cart(shop.url, "no.tick@example.com", marketing=False)
    visitor_leaves_a_cart(shop.url, "bought@example.com", marketing=True, buy=True)
    later(shop, clock, 30)
    assert REMINDER not in outbox(shop.url)
    subject = shop.kit.identity.lookup("email:no.tick@example.com")
    assert subject is not None
    assert not shop.kit.consent.allowed(subject, "marketing.email")


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_with_an_smtp_server_the_reminder_is_delivered(tmp_path, clock, smtp):
    inbox, port = smtp
    sender = SmtpSender(host="127.0.0.1", port=port, sender="shop@bakery.example")
    with running_shop(
        tmp_path / "demo", clock=clock, interval=FAST, smtp=sender, password=PASSWORD
    ) as shop:
        visitor_leaves_a_cart(shop.url, "mail.me@example.com", marketing=True)
        later(shop, clock, 5)
        assert shop.scheduler.wait_for(shop.scheduler.ticks + 1, timeout=30)
        ((rcpt, raw),) = inbox.messages
        assert rcpt == ["mail.me@example.com"]
        message = message_from_bytes(raw)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert REMINDER not in outbox(shop.url)  # sent: no longer waiting
        # The mail's one-click link is the shop's privacy center: a POST unsubscribes.
        link = message["List-Unsubscribe"].strip("<>")
        assert link.startswith(shop.url + "/privacy/unsubscribe?token=")
        status, _ = Client(shop.url).form(link[len(shop.url) :], {"List-Unsubscribe": "One-Click"})
        assert status == 200
        subject = shop.kit.identity.lookup("email:mail.me@example.com")
        assert subject is not None
        assert not shop.kit.consent.allowed(subject, "marketing.email")


def test_the_scheduler_stops_cleanly(tmp_path, clock):
    with running_shop(tmp_path / "demo", clock=clock, interval=FAST, password=PASSWORD) as shop:
        scheduler = shop.scheduler
        assert scheduler.wait_for(2, timeout=30)
        assert scheduler.running
    assert not scheduler.running  # stopped and joined when the shop closed
    ticks = scheduler.ticks
    assert not scheduler.wait_for(ticks + 1, timeout=FAST * 4)
