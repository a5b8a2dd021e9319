"""The cart triggers ``kit.journeys``' cart abandonment; the operator page shows the outbox.

Over HTTP against the shop served on a real embedded store (no mocks): a visitor who agreed to
marketing e-mails and gave an address adds an item to the cart and does not buy; once
``run_due`` runs after the journey's delay, the operator page's outbox lists the reminder. A
visitor who checks out leaves the journey, and nothing is sent to them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

pytest.importorskip("flask")

from personakit.demo._check import Client
from personakit.web import SubjectCookies
from personakit_demo import running_shop

REMINDER = "cart_abandonment/reminder by email (cart_abandonment)"


@pytest.fixture
def shop(tmp_path):
    with running_shop(tmp_path / "demo") as running:
        yield running


def _visitor_with_email(shop, address: str) -> Client:
    """A visitor who accepted the banner, then signed up for e-mails with ``address``."""
    client = Client(shop.url)
    status, _ = client.form("/choices", {"choice": "accept", "next": "/"})
    assert status == 200
    token = SubjectCookies(shop.kit.keyring).token(client.cookies["pk_subject"])
    assert token is not None
    at = shop.kit.clock.now().isoformat().replace("+00:00", "Z")
    summary = shop.kit.ingest(
        [
            {
                "kind": "consent",
                "subject": f"anon:{token}",
                "purpose": "marketing.email",
                "status": "given",
                "source": "web",
                "at": at,
                "notice": "marketing_notice",
                "notice_version": "2026-01",
            },
            {"kind": "traits", "subject": f"anon:{token}", "traits": {"email": address}, "at": at},
        ]
    )
    assert summary.accepted == 2, summary.errors
    return client


def _outbox(client: Client) -> str:
    status, page = client.get("/operator")
    assert status == 200
    return page.partition('id="journeys"')[2].partition("</section>")[0]


def test_a_cart_left_without_purchase_gets_a_reminder_after_the_delay(shop):
    assert "cart_abandonment" in {d["id"] for d in shop.kit.journeys.definitions()}
    client = _visitor_with_email(shop, "left.cart@example.com")
    status, page = client.form("/cart/add", {"item": "croissant"})
    assert status == 200
    assert "triggered by these cart events" in page
    now = shop.kit.clock.now()
    # Before the 4-hour delay nothing is due, and the outbox is empty.
    assert shop.kit.journeys.run_due(now + timedelta(hours=1)).produced == 0
    assert REMINDER not in _outbox(client)
    summary = shop.kit.journeys.run_due(now + timedelta(hours=5))
    assert summary.produced == 1
    outbox = _outbox(client)
    assert REMINDER in outbox
    assert "left.cart@example.com" not in outbox  # the operator page shows no address


def test_a_purchase_leaves_the_journey(shop):
    client = _visitor_with_email(shop, "bought@example.com")
    client.form("/cart/add", {"item": "sourdough"})
    status, page = client.form("/checkout", {})
    assert status == 200
    assert 'id="thanks"' in page
    summary = shop.kit.journeys.run_due(shop.kit.clock.now() + timedelta(days=2))
    assert summary.produced == 0
    assert REMINDER not in _outbox(client)
