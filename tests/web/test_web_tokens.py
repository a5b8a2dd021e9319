"""Unsubscribe tokens of the web core: they expire, survive key rotation, and fail opaquely.

Properties: any value is ``None`` from ``read`` and the one :class:`InvalidToken` from
``verify``; a genuine token is valid exactly until its expiry; a token made before a master-key
rotation still works after it; and at HTTP level a forged, expired or old-format token gets
the same 403 body.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit import Personakit, testing
from personakit.crypto import LocalKeyProvider, generate_master_key
from personakit.exceptions import InvalidInput
from personakit.journeys import InvalidToken
from personakit.web import UNSUBSCRIBE_LABEL, UnsubscribeTokens, WebConfig, WebFront
from test_api_totality import ANYTHING

SUBJECT = "sub_" + "a" * 26
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture(scope="module")
def kit_clock():
    made, clock = testing.memory_kit()
    with made:
        yield made, clock


@settings(max_examples=200)
@given(value=st.one_of(st.text(max_size=60), ANYTHING))
def test_any_value_is_none_or_the_one_opaque_error(kit_clock, value: Any) -> None:
    """Anything but a genuine token: read gives None, verify the same InvalidToken."""
    tokens = UnsubscribeTokens(kit_clock[0].keyring)
    assert tokens.read(value) is None
    with pytest.raises(InvalidToken) as caught:
        tokens.verify(value)
    assert str(caught.value).startswith("invalid or expired token")


@settings(max_examples=150)
@given(
    lifetime=st.integers(1, 10**8),
    offset=st.integers(-(10**8), 2 * 10**8),
)
def test_a_genuine_token_is_valid_exactly_until_it_expires(
    kit_clock, lifetime: int, offset: int
) -> None:
    """Made to expire at E: read at any moment before E it works, at or after E it does not."""
    kit, _ = kit_clock
    tokens = UnsubscribeTokens(kit.keyring)
    expires = START + timedelta(seconds=lifetime)
    token = tokens.make(SUBJECT, "marketing.email", expires=expires)
    now = START + timedelta(seconds=offset)
    found = tokens.read(token, now=now)
    assert found == ((SUBJECT, "marketing.email") if now < expires else None)


def test_the_default_lifetime_follows_the_clock_and_the_config() -> None:
    """WebConfig.unsubscribe_ttl sets how long links work; the kit's clock decides when."""
    kit, clock = testing.memory_kit()
    with kit:
        subject = kit.identity.resolve("customer:reader", create=True)
        kit.consent.grant(
            subject,
            "marketing.email",
            source="web",
            notice="marketing_notice",
            notice_version="2026-01",
        )
        web = WebFront(kit, WebConfig(unsubscribe_ttl=timedelta(days=2)))
        token = web.unsubscribe_token(subject, "marketing.email")
        clock.advance(timedelta(days=2))
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        refused = [
            web.center.unsubscribe(bad, ONE_CLICK)
            for bad in (token, forged, "x", _old_format(kit, subject))
        ]
        assert {(r.status, r.body) for r in refused} == {(refused[0].status, refused[0].body)}
        assert refused[0].status == 403
        assert kit.consent.allowed(subject, "marketing.email")
        clock.advance(timedelta(days=-1))
        assert web.center.unsubscribe(token, ONE_CLICK).json() == {
            "unsubscribed": True,
            "changed": True,
        }


def _old_format(kit: Any, subject: str) -> str:
    """A genuinely signed token of the first format (no expiry): refused now."""
    payload = f"1|{subject}|marketing.email".encode()

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    return f"{b64(payload)}.{b64(kit.keyring.mac(UNSUBSCRIBE_LABEL, payload))}"


def test_a_token_survives_a_master_key_rotation(tmp_path) -> None:
    """The MAC key derives from the index root, which rotation re-wraps and keeps."""
    old, new = generate_master_key(), generate_master_key()
    with Personakit.open(tmp_path / "pk", keys=LocalKeyProvider(old)) as kit:
        token = UnsubscribeTokens(kit.keyring, clock=kit.clock).make(SUBJECT, "marketing.email")
    rotated = LocalKeyProvider(new, previous=[old])
    with Personakit.open(tmp_path / "pk", keys=rotated) as kit:
        kit.keyring.rotate()
    with Personakit.open(tmp_path / "pk", keys=LocalKeyProvider(new)) as kit:
        tokens = UnsubscribeTokens(kit.keyring, clock=kit.clock)
        assert tokens.verify(token) == (SUBJECT, "marketing.email")


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(days=-1), 30, None])
def test_an_unsubscribe_lifetime_that_kills_every_link_is_refused_up_front(ttl: Any) -> None:
    """A zero, negative or non-timedelta lifetime would make every link dead (or a TypeError)
    only when a message is made: the front refuses it when built, with a typed error."""
    kit, _ = testing.memory_kit()
    with kit, pytest.raises(InvalidInput):
        WebFront(kit, WebConfig(unsubscribe_ttl=ttl))
