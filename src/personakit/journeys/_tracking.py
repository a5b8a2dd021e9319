"""Open-pixel and click-redirect tokens, and the links of a message they stand for.

A tracking token is ``base64url(version | action id | link | expiry) + "." + base64url(MAC)``,
the MAC an HMAC-SHA256 under the keyring label ``journeys-tracking`` (its own key: a tracking
token can never pass as an unsubscribe token, nor the reverse). It carries the action's id
(itself a keyed hash, meaningless without the keyring), the link's index in the message (255:
the open pixel) and the expiry: no address, no name, no pseudonym. A click never redirects to a
URL given in the request: the index picks one of the links the sealed action holds, so the
endpoint cannot be used as an open redirect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from attrs import frozen

from personakit._codec import b64url
from personakit.journeys._tokens import invalid_token, signed_body

__all__ = [
    "MAX_LINKS",
    "PIXEL",
    "TRACKING_LABEL",
    "TrackingTokens",
    "collect_links",
    "replace_links",
    "safe_url",
]

TRACKING_LABEL: Final = "journeys-tracking"
#: The link index an open-pixel token carries.
PIXEL: Final = 255
#: Links tracked per message (the rest are left as they are).
MAX_LINKS: Final = 32
_VERSION: Final = 1
_ACTION_BYTES: Final = 12
_BODY_BYTES: Final = 1 + _ACTION_BYTES + 1 + 5
_MAX_TOKEN: Final = 128
_MAX_URL: Final = 2048


@frozen(kw_only=True)
class TrackingClaims:
    """What a verified tracking token says: which action, which link (or the pixel)."""

    action: str
    link: int


@frozen
class TrackingTokens:
    """Issue and verify tracking tokens (see the module docstring)."""

    mac: Callable[[bytes], bytes]
    verify_mac: Callable[[bytes, bytes], bool]

    def issue(self, action: str, link: int, *, expires: datetime) -> str:
        """A token for link ``link`` (or :data:`PIXEL`) of ``action``, valid until ``expires``."""
        body = (
            bytes([_VERSION])
            + bytes.fromhex(action)
            + bytes([link])
            + int(expires.timestamp()).to_bytes(5, "big")
        )
        return f"{b64url(body)}.{b64url(self.mac(body))}"

    def verify(self, token: object, *, now: datetime) -> TrackingClaims:
        """The claims of a genuine, unexpired token; the one opaque error for anything else."""
        body = signed_body(token, _MAX_TOKEN, self.verify_mac)
        if len(body) != _BODY_BYTES or body[0] != _VERSION:
            raise invalid_token()
        expires = datetime.fromtimestamp(int.from_bytes(body[-5:], "big"), UTC)
        if expires <= now:
            raise invalid_token()
        return TrackingClaims(action=body[1 : 1 + _ACTION_BYTES].hex(), link=body[-6])


def safe_url(value: object) -> bool:
    """Whether ``value`` is a URL a message may link to (absolute http or https, one line)."""
    if not isinstance(value, str) or len(value) > _MAX_URL or not value.isprintable():
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _is_link_key(key: object) -> bool:
    return isinstance(key, str) and (key == "url" or key.endswith("_url"))


def collect_links(payload: Mapping[str, Any]) -> list[str]:
    """The message's links in a fixed order: ``url`` / ``*_url`` values, two levels deep.

    Top-level keys first, then those of the objects in top-level lists (a recommendation's
    ``url``). The order only depends on the sealed payload, so the index a click token
    carries finds the same URL whenever it is redeemed.
    """
    links: list[str] = []

    def visit(mapping: Mapping[str, Any]) -> None:
        for key in sorted(k for k in mapping if isinstance(k, str)):
            value = mapping[key]
            if _is_link_key(key) and safe_url(value) and value not in links:
                links.append(value)

    visit(payload)
    for key in sorted(k for k in payload if isinstance(k, str)):
        value = payload[key]
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    visit(item)
    return links[:MAX_LINKS]


def replace_links(payload: Mapping[str, Any], tracked: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``payload`` with each link in ``tracked`` replaced by its redirect URL."""

    def swap(mapping: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: tracked.get(value, value)
            if _is_link_key(key) and isinstance(value, str)
            else value
            for key, value in mapping.items()
        }

    copy = swap(payload)
    for key, value in copy.items():
        if isinstance(value, list):
            copy[key] = [swap(item) if isinstance(item, Mapping) else item for item in value]
    return copy
