"""Opens, clicks and delivery reports flow back as events, through a real SMTP message."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from _journey_kit import customer
from personakit import LocalKeyProvider, Personakit, generate_master_key
from personakit._clock import FixedClock
from personakit.journeys.smtp import SmtpSender, drain
from personakit.web import WebFront

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BASE = "https://shop.example/pk/"
JOURNEY = {
    "id": "cart",
    "trigger": {"type": "event", "event": "add_to_cart"},
    "steps": [
        {
            "id": "nudge",
            "template": "cart_abandonment",
            "payload": {"url": "https://shop.example/cart", "help_url": "https://shop.example/h"},
        },
        {"id": "again", "template": "cart_abandonment", "delay": {"days": 1}},
    ],
}


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope.content)
        return "250 OK"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        if tag == "img" and found.get("src"):
            self.images.append(str(found["src"]))


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _send_one(kit: Personakit, port: int, inbox: _Inbox) -> tuple[str, _Links]:
    kit.journeys.load([JOURNEY])
    subject = customer(kit, "ann")
    kit.track("customer:ann", "add_to_cart", channel="web", properties={"item": "p1"})
    kit.journeys.run_due()
    sender = SmtpSender(host="127.0.0.1", port=port, sender="shop@shop.example")
    assert drain(kit.journeys, sender).sent == 1
    message = message_from_bytes(inbox.messages[-1], policy=policy.default)
    assert isinstance(message, EmailMessage)
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    links = _Links()
    links.feed(html.get_content())
    return subject, links


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


def _kinds(kit: Personakit, subject: str) -> list[str]:
    return sorted(e.kind for e in kit.events.read(subject) if e.kind.startswith("email_"))


def _kit(tmp_path: Path, clock: FixedClock) -> Personakit:
    kit = Personakit.open(tmp_path / "s", keys=LocalKeyProvider(generate_master_key()), clock=clock)
    kit.journeys.outbox.tracking_url = BASE
    return kit


def test_an_open_and_a_click_of_a_sent_mail_become_events_and_attribute_a_purchase(
    tmp_path: Path, smtp: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp
    clock = FixedClock(START)
    with _kit(tmp_path, clock) as kit:
        subject, links = _send_one(kit, port, inbox)
        (pixel,) = links.images
        cart = next(h for h in links.hrefs if h.startswith(f"{BASE}click?"))
        for url in (pixel, *links.hrefs):  # no address, name or pseudonym in any URL
            assert "ann" not in url.lower()
            assert subject not in url
        web = WebFront(kit)
        visit = web.visit()
        opened = web.handle("open", visit, query={"t": _token(pixel)})
        assert (opened.status, opened.content_type) == (200, "image/gif")
        web.handle("open", visit, query={"t": _token(pixel)})  # a second open counts once
        clicked = web.handle("click", visit, query={"t": _token(cart)})
        assert clicked.status == 302
        assert dict(clicked.headers)["Location"] in {
            "https://shop.example/cart",
            "https://shop.example/h",
        }
        assert _kinds(kit, subject) == ["email_click", "email_open"]
        (action_id,) = {
            e.properties["message_id"] for e in kit.events.read(subject) if e.kind == "email_open"
        }
        assert kit.journeys.record_delivery(action_id, "delivered")
        assert not kit.journeys.record_delivery(action_id, "delivered")  # once
        clock.advance(hours=2)
        kit.track("customer:ann", "purchase", channel="web", properties={"item": "p1"})
        report = kit.journeys.report()["cart"]
        assert report["nudge"]["opened"] == report["nudge"]["clicked"] == 1
        assert report["nudge"]["delivered"] == report["nudge"]["click_converted"] == 1
        forged = _token(cart)[:-3] + "AAA"
        assert web.handle("click", visit, query={"t": forged}).status == 404
        assert web.handle("click", visit, query={}).status == 404
        assert web.handle("open", visit, query={"t": forged}).status == 200  # the same GIF
        assert web.handle("click", visit, method="POST", query={"t": _token(cart)}).status == 405
        kit.consent.withdraw(subject, "marketing.email", source="web")
        section = kit.rights.export(subject)["derived_data"]["journeys"]
        assert not [a for a in section["actions"] if {"opened", "clicked"} & set(a)]
        assert all(state["last_click"] is None for state in section["states"])
        assert _kinds(kit, subject) == []  # withdrawal removes the engagement it allowed
        clock.advance(days=61)
        assert web.handle("click", visit, query={"t": _token(cart)}).status == 404  # expired


def test_without_consent_nothing_is_recorded_but_the_pixel_and_redirect_still_answer(
    tmp_path: Path, smtp: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp
    with _kit(tmp_path, FixedClock(START)) as kit:
        subject, links = _send_one(kit, port, inbox)
        kit.consent.withdraw(subject, "marketing.email", source="web")
        web = WebFront(kit)
        visit = web.visit()
        (pixel,) = links.images
        assert web.handle("open", visit, query={"t": _token(pixel)}).content_type == "image/gif"
        clicked = web.handle("click", visit, query={"t": _token(links.hrefs[0])})
        assert clicked.status == 302
        assert _kinds(kit, subject) == []
        assert "opened" not in kit.journeys.report()["cart"]["nudge"]


def test_a_hard_bounce_suppresses_the_address_and_cancels_what_is_queued(
    tmp_path: Path, smtp: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp
    clock = FixedClock(START)
    with _kit(tmp_path, clock) as kit:
        subject, links = _send_one(kit, port, inbox)
        web = WebFront(kit)
        web.handle("open", web.visit(), query={"t": _token(links.images[0])})
        (action_id,) = {
            e.properties["message_id"] for e in kit.events.read(subject) if e.kind == "email_open"
        }
        assert kit.journeys.record_delivery(action_id, "hard_bounce")
        assert kit.journeys.is_suppressed("email", "ann@shop.example")
        assert _kinds(kit, subject) == ["email_bounced", "email_open"]
        clock.advance(days=1)
        kit.journeys.run_due()
        assert kit.journeys.pending() == []
        assert not kit.journeys.record_delivery("f" * 24, "delivered")  # unknown: nothing
        kit.rights.erase(subject)
        assert [k for k, _ in kit.store.scan("x/journeys/track/")] == []
