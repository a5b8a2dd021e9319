"""An unsubscribe token has one spelling: any other spelling of the same bytes is refused.

base64url's decoder alone skips characters outside its alphabet and ignores the unused bits of
a last character, so a token altered that way would decode to the same body and tag and verify.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit.journeys import InvalidToken
from personakit.journeys._tokens import UnsubscribeTokens

KEY = b"k" * 32
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _mac(body: bytes) -> bytes:
    return hmac.new(KEY, body, hashlib.sha256).digest()


TOKENS = UnsubscribeTokens(
    mac=_mac, verify_mac=lambda body, tag: hmac.compare_digest(_mac(body), tag)
)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=80, deadline=None)
@given(
    subject=st.text(min_size=1, max_size=20),
    position=st.integers(min_value=0, max_value=10_000),
    inserted=st.characters(codec="ascii").filter(lambda c: c not in ALPHABET and c != "."),
    last=st.sampled_from(ALPHABET),
)
def test_only_the_issued_spelling_verifies(
    subject: str, position: int, inserted: str, last: str
) -> None:
    token = TOKENS.issue(subject, "email", expires=NOW + timedelta(days=1))
    assert TOKENS.verify(token, now=NOW).subject == subject
    at = position % (len(token) + 1)
    with pytest.raises(InvalidToken):
        TOKENS.verify(token[:at] + inserted + token[at:], now=NOW)
    respelled = token[:-1] + last
    if respelled != token:
        with pytest.raises(InvalidToken):
            TOKENS.verify(respelled, now=NOW)
