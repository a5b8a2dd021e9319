"""Signed values the web front hands out: the anonymous subject cookie, unsubscribe tokens.

Both are MACs from the keyring (HKDF-derived key, one label each), never from a framework's
``SECRET_KEY``: rotating the web framework's secret does not change who a visitor is, and a
leaked framework secret cannot forge a subject. The keyring derives MAC keys from its index
root, which a master-key rotation re-wraps but never replaces (as for journeys' tokens): a
cookie or an unsubscribe link issued before a rotation keeps working (until it expires).
Every check is constant time (:meth:`Keyring.verify_mac`), and every malformed or forged
value is simply *not valid*: the caller never learns which part was wrong.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Final

from attrs import frozen

from personakit._clock import Clock, SystemClock
from personakit._codec import b64url, unb64url
from personakit.crypto import Keyring
from personakit.exceptions import InvalidInput, Problem
from personakit.journeys import InvalidToken

__all__ = [
    "COOKIE_LABEL",
    "UNSUBSCRIBE_LABEL",
    "UNSUBSCRIBE_TTL",
    "SetCookie",
    "SubjectCookies",
    "UnsubscribeTokens",
]

#: The keyring MAC labels (each derives its own key; see :meth:`Keyring.mac`).
COOKIE_LABEL: Final = "web/subject-cookie"
UNSUBSCRIBE_LABEL: Final = "web/unsubscribe"

_VERSION: Final = "1"
#: Unsubscribe tokens' version: ``2`` carries an expiry (``1``, without one, is refused).
_UNSUB_VERSION: Final = "2"
#: How long an unsubscribe link works unless told otherwise (as journeys' links).
UNSUBSCRIBE_TTL: Final = timedelta(days=60)
_TOKEN_BYTES: Final = 16  # 128 random bits: the anonymous visitor's identifier
_TAG_CHARS: Final = 43  # base64url of a 32-byte HMAC-SHA256, no padding
_COOKIE_CHARS: Final = 1 + 1 + 22 + 1 + _TAG_CHARS  # "1." token "." tag
_GENUINE_CACHE: Final = 4096
_COOKIE_RE: Final = re.compile(
    rf"{_VERSION}\.([A-Za-z0-9_-]{{22}})\.([A-Za-z0-9_-]{{{_TAG_CHARS}}})"
)
_UNSUB_RE: Final = re.compile(rf"([A-Za-z0-9_-]{{8,400}})\.([A-Za-z0-9_-]{{{_TAG_CHARS}}})")
_INVALID: Final = Problem(where="token", what="invalid")
#: About 400 days: the longest lifetime browsers still honour (Chrome caps cookies there).
COOKIE_MAX_AGE: Final = 400 * 86_400


@frozen(kw_only=True)
class SetCookie:
    """A cookie to set on the response, with the attributes the subject cookie always has.

    HttpOnly (no script reads it), Secure (HTTPS only), SameSite=Lax (not sent on cross-site
    sub-requests or posts), Path=/. Adapters set it through their framework, or send
    :meth:`header` as a ``Set-Cookie`` header.
    """

    name: str
    value: str
    max_age: int = COOKIE_MAX_AGE
    path: str = "/"
    http_only: bool = True
    secure: bool = True
    same_site: str = "Lax"

    def header(self) -> str:
        """The ``Set-Cookie`` header value."""
        parts = [f"{self.name}={self.value}", f"Max-Age={self.max_age}", f"Path={self.path}"]
        if self.secure:
            parts.append("Secure")
        if self.http_only:
            parts.append("HttpOnly")
        parts.append(f"SameSite={self.same_site}")
        return "; ".join(parts)


class SubjectCookies:
    """Issues and checks the anonymous subject cookie: ``1.<random token>.<MAC>``.

    The token is random (it says nothing about the visitor); the identifier personakit keeps
    for it is ``anon:<token>``.
    """

    def __init__(self, keyring: Keyring, *, name: str = "pk_subject") -> None:
        """Sign with ``keyring`` (label :data:`COOKIE_LABEL`); ``name`` is the cookie's name."""
        self.keyring = keyring
        self.name = name
        # A returning visitor sends the same value on every request, and a value's verdict
        # never changes (the key does not), so the verdicts of the latest values are kept
        # and the MAC is not recomputed. Bounded: a flood of forged values only evicts.
        self._genuine: functools._lru_cache_wrapper[str | None] = functools.lru_cache(
            maxsize=_GENUINE_CACHE
        )(self._check)

    def __repr__(self) -> str:
        """Render with the cookie name (never a key)."""
        return f"SubjectCookies(name={self.name!r})"

    def issue(self) -> tuple[str, SetCookie]:
        """A fresh anonymous token and the cookie that carries it."""
        token = b64url(secrets.token_bytes(_TOKEN_BYTES))
        tag = b64url(self.keyring.mac(COOKIE_LABEL, token.encode("ascii")))
        return token, SetCookie(name=self.name, value=f"{_VERSION}.{token}.{tag}")

    def token(self, value: object) -> str | None:
        """The token of a genuine cookie value; None for anything forged, tampered or odd."""
        if not isinstance(value, str) or len(value) != _COOKIE_CHARS:
            return None
        return self._genuine(value)

    def _check(self, value: str) -> str | None:
        match = _COOKIE_RE.fullmatch(value)
        if match is None:
            return None
        token = match.group(1)
        # Compared as canonical base64url text, in constant time: only the one spelling of the
        # genuine tag matches (no decode and re-encode on every request).
        expected = b64url(self.keyring.mac(COOKIE_LABEL, token.encode("ascii")))
        return token if hmac.compare_digest(expected, match.group(2)) else None


class UnsubscribeTokens:
    """Signed, expiring one-click unsubscribe tokens (RFC 8058) naming a subject and a purpose.

    The token holds the subject's pseudonym (opaque), the purpose and the expiry (whole
    seconds since the epoch), MACed under :data:`UNSUBSCRIBE_LABEL`; it grants exactly one
    thing: withdrawing that purpose, until it expires. Every bad token (forged, altered,
    expired, an old version, not a token at all) is the same ``None`` from :meth:`read` and
    the same :class:`~personakit.journeys.InvalidToken` from :meth:`verify`.
    """

    def __init__(
        self, keyring: Keyring, *, clock: Clock | None = None, ttl: timedelta = UNSUBSCRIBE_TTL
    ) -> None:
        """Sign with ``keyring``; tokens live ``ttl`` after :meth:`make` (by ``clock``).

        :class:`InvalidInput` unless ``ttl`` is a positive timedelta (else every link made
        would be dead on arrival, or making one would fail with a TypeError).
        """
        if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
            raise InvalidInput(
                "invalid unsubscribe lifetime",
                [Problem(where="unsubscribe_ttl", what="must be a positive timedelta")],
            )
        self.keyring = keyring
        self.clock = clock if clock is not None else SystemClock()
        self.ttl = ttl

    def __repr__(self) -> str:
        """Render without key material."""
        return f"UnsubscribeTokens(ttl={self.ttl!r})"

    def make(self, subject: str, purpose: str, *, expires: datetime | None = None) -> str:
        """A token for ``subject`` to withdraw ``purpose`` (both checked by the caller).

        It works until ``expires`` (default: ``ttl`` from now).
        """
        until = expires if expires is not None else self.clock.now() + self.ttl
        payload = f"{_UNSUB_VERSION}|{subject}|{purpose}|{int(until.timestamp())}".encode()
        return f"{b64url(payload)}.{b64url(self.keyring.mac(UNSUBSCRIBE_LABEL, payload))}"

    def read(self, token: object, *, now: datetime | None = None) -> tuple[str, str] | None:
        """``(subject, purpose)`` of a genuine, unexpired token; None for anything else."""
        if not isinstance(token, str):
            return None
        match = _UNSUB_RE.fullmatch(token)
        if match is None:
            return None
        payload, tag = unb64url(match.group(1)), unb64url(match.group(2))
        if (
            payload is None
            or tag is None
            or not self.keyring.verify_mac(UNSUBSCRIBE_LABEL, payload, tag)
        ):
            return None
        parts = payload.decode("utf-8", "replace").split("|")
        # version, subject, purpose, expiry; the MAC held, so only our own format reaches here
        if len(parts) != 4 or parts[0] != _UNSUB_VERSION or not parts[3].isdecimal():  # noqa: PLR2004
            return None
        moment = now if now is not None else self.clock.now()
        if int(parts[3]) <= moment.timestamp():
            return None
        return parts[1], parts[2]

    def verify(self, token: object, *, now: datetime | None = None) -> tuple[str, str]:
        """``(subject, purpose)`` of a genuine, unexpired token; else the one opaque error.

        Raises :class:`~personakit.journeys.InvalidToken` (the same type and message as a bad
        journeys token): telling the causes apart would help a forger.
        """
        found = self.read(token, now=now)
        if found is None:
            raise InvalidToken("invalid or expired token", [_INVALID])
        return found
