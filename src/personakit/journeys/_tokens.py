"""Unsubscribe tokens and the suppression list.

A token is ``base64url(claims) + "." + base64url(HMAC-SHA256(claims))``, the MAC under a key
the keyring derives for the label ``journeys-unsubscribe`` (HKDF from the index root, which a
master-key rotation re-wraps but never replaces: tokens issued before a rotation keep working
until they expire). The claims are the purpose (``unsubscribe``: a token for anything else is
refused), the subject's pseudonym, the channel and the expiry. Every bad token, whatever is
wrong with it, gets the same :class:`InvalidToken` with the same message.

The suppression list holds, per channel, a keyed HMAC (label ``journeys-suppression``) of the
normalized address: nothing readable, and it survives erasure, so a later import of the same
address cannot bring an opted-out person back into a marketing journey.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from attrs import frozen

from personakit._codec import b64url, canonical_json, loads, unb64url
from personakit.exceptions import InvalidInput, Problem
from personakit.storage import Store

__all__ = [
    "InvalidToken",
    "Suppression",
    "TokenClaims",
    "UnsubscribeTokens",
    "invalid_token",
    "normalize_address",
]

TOKEN_LABEL: Final = "journeys-unsubscribe"  # noqa: S105 (a key label, not a secret)
SUPPRESSION_LABEL: Final = "journeys-suppression"
SUPPRESS_PREFIX: Final = "x/journeys/suppress/"
_PURPOSE: Final = "unsubscribe"
_MAX_TOKEN: Final = 1024


class InvalidToken(InvalidInput):
    """An unsubscribe token that is forged, altered, expired or not an unsubscribe token."""


def invalid_token() -> InvalidToken:
    """The one error every bad token gets, whatever is wrong with it."""
    # One opaque error for every cause: telling them apart would help a forger.
    return InvalidToken("invalid or expired token", [Problem(where="token", what="invalid")])


def signed_body(token: object, max_chars: int, verify_mac: Callable[[bytes, bytes], bool]) -> bytes:
    """The body of a genuine ``base64url(body).base64url(tag)`` token.

    :func:`invalid_token` for anything else: too long, not ASCII, another spelling of the same
    bytes, or a MAC that does not verify.
    """
    if not isinstance(token, str) or len(token) > max_chars or not token.isascii():
        raise invalid_token()
    body_text, dot, tag_text = token.partition(".")
    body, tag = unb64url(body_text), unb64url(tag_text)
    if not dot or body is None or tag is None or not verify_mac(body, tag):
        raise invalid_token()
    return body


@frozen(kw_only=True)
class TokenClaims:
    """What a verified token says: whose consent to which channel, until when."""

    subject: str
    channel: str
    expires: datetime


@frozen
class UnsubscribeTokens:
    """Issue and verify tokens with a MAC key of their own (see the module docstring)."""

    mac: Callable[[bytes], bytes]
    verify_mac: Callable[[bytes, bytes], bool]

    def issue(self, subject: str, channel: str, *, expires: datetime) -> str:
        """A token for ``subject``'s ``channel`` valid until ``expires``."""
        claims = {
            "p": _PURPOSE,
            "s": subject,
            "c": channel,
            "x": int(expires.timestamp()),
        }
        body = canonical_json(claims)
        return f"{b64url(body)}.{b64url(self.mac(body))}"

    def verify(self, token: object, *, now: datetime) -> TokenClaims:
        """The claims of a valid, unexpired token; :class:`InvalidToken` for anything else."""
        body = signed_body(token, _MAX_TOKEN, self.verify_mac)
        try:
            claims: Any = loads(body)
        except ValueError:
            raise invalid_token() from None
        if not isinstance(claims, dict) or claims.get("p") != _PURPOSE:
            raise invalid_token()
        subject, channel, expiry = claims.get("s"), claims.get("c"), claims.get("x")
        if not (isinstance(subject, str) and isinstance(channel, str) and type(expiry) is int):
            raise invalid_token()
        expires = datetime.fromtimestamp(expiry, UTC)
        if expires <= now:
            raise invalid_token()
        return TokenClaims(subject=subject, channel=channel, expires=expires)


def normalize_address(channel: str, address: str) -> str:
    """The form an address is compared in: trimmed, e-mail lower-cased, phone digits only."""
    text = address.strip()
    if channel == "email":
        return text.lower()
    if channel == "sms":
        return "+" + "".join(ch for ch in text if ch.isdigit())
    return text


@frozen
class Suppression:
    """The suppression list: keyed hashes of opted-out addresses, one key per entry."""

    store: Store
    mac: Callable[[bytes], bytes]

    def _key(self, channel: str, address: str) -> str:
        digest = self.mac(f"{channel}\x00{normalize_address(channel, address)}".encode())
        return f"{SUPPRESS_PREFIX}{channel}/{digest.hex()}"

    def add(self, channel: str, address: str) -> bool:
        """Suppress ``address`` on ``channel``; return whether it was new."""
        key = self._key(channel, address)
        if self.store.get(key) is not None:
            return False
        self.store.put(key, b"1")
        return True

    def contains(self, channel: str, address: str) -> bool:
        """Whether ``address`` is suppressed on ``channel``."""
        return self.store.get(self._key(channel, address)) is not None

    def remove(self, channel: str, address: str) -> bool:
        """Lift a suppression (only on a fresh, explicit opt-in); return whether it existed."""
        return self.store.delete(self._key(channel, address))


#: Token lifetime unless the caller says otherwise.
DEFAULT_TOKEN_TTL: Final = timedelta(days=60)
