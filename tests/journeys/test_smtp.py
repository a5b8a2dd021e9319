"""The reference SMTP sender against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from _journey_kit import customer
from personakit import LocalKeyProvider, Personakit, generate_master_key
from personakit._clock import FixedClock
from personakit.journeys.smtp import SmtpSender, drain

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_delivers_with_the_rfc_8058_headers_then_unsubscribe_cancels_the_next(
    tmp_path: Path, smtp: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp
    clock = FixedClock(START)
    with Personakit.open(
        tmp_path / "s", keys=LocalKeyProvider(generate_master_key()), clock=clock
    ) as kit:
        kit.journeys.outbox.unsubscribe_url = "https://shop.example/unsubscribe?token="
        kit.journeys.load(
            [
                {
                    "id": "two",
                    "trigger": {"type": "event", "event": "add_to_cart"},
                    "steps": [
                        {"id": "a", "template": "cart_abandonment"},
                        {"id": "b", "template": "cart_abandonment", "delay": {"days": 1}},
                    ],
                }
            ]
        )
        subject = customer(kit, "ann")
        kit.track("customer:ann", "add_to_cart", channel="web", properties={"item": "p1"})
        kit.journeys.run_due()
        sender = SmtpSender(host="127.0.0.1", port=port, sender="shop@shop.example")
        summary = drain(kit.journeys, sender)
        assert summary.sent == 1
        ((mail_from, rcpt, raw),) = inbox.messages
        assert (mail_from, rcpt) == ("shop@shop.example", ["ann@shop.example"])
        message = message_from_bytes(raw)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = message["List-Unsubscribe"]
        assert link.startswith("<https://shop.example/unsubscribe?token=")
        token = link[len("<https://shop.example/unsubscribe?token=") : -1]
        assert "Hello Ann" in message.get_payload()
        from urllib.parse import unquote  # noqa: PLC0415

        assert kit.journeys.redeem(unquote(token)).withdrawn
        assert not kit.consent.allowed(subject, "marketing.email")
        clock.advance(days=1)
        kit.journeys.run_due()
        assert drain(kit.journeys, sender).sent == 0
        assert len(inbox.messages) == 1
        assert kit.journeys.report()["two"]["a"]["sent"] == 1


def test_an_unreachable_server_retries_with_backoff(tmp_path: Path) -> None:
    clock = FixedClock(START)
    with Personakit.open(
        tmp_path / "s", keys=LocalKeyProvider(generate_master_key()), clock=clock
    ) as kit:
        kit.journeys.enable_builtin(["welcome"])
        customer(kit, "bob")
        kit.track("customer:bob", "page_view", channel="web")
        kit.journeys.run_due()
        dead = SmtpSender(host="127.0.0.1", port=_free_port(), sender="s@shop.example", timeout=2)
        assert drain(kit.journeys, dead).retried == 1
        assert kit.journeys.pending() == []  # backing off
        clock.advance(minutes=5)
        (again,) = kit.journeys.pending()
        assert again.attempts == 1
