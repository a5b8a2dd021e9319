"""Helpers for the consent tests: a TC string encoder for signal scenarios."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ALL_PURPOSES = frozenset(range(1, 11))


def _bits(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def _flags(ids: frozenset[int], width: int) -> str:
    return "".join("1" if i in ids else "0" for i in range(1, width + 1))


def _b64(bits: str) -> str:
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def encode_tc_string(
    purposes: frozenset[int],
    last_updated: datetime,
    *,
    cmp_version: int = 1,
    publisher: frozenset[int] | None = None,
) -> str:
    """A TC string (core segment, and a publisher TC segment if ``publisher`` is given)."""
    deciseconds = int((last_updated - EPOCH).total_seconds() * 10)
    letters = "".join(_bits(ord(c) - ord("A"), 6) for c in "EN")
    core = (
        _bits(2, 6)
        + _bits(deciseconds, 36) * 2
        + _bits(300, 12)
        + _bits(cmp_version, 12)
        + _bits(1, 6)
        + letters
        + _bits(120, 12)
        + _bits(4, 6)
        + "10"
        + _flags(frozenset(), 12)
        + _flags(purposes, 24)
        + _flags(frozenset(), 24)
        + "0"
        + "".join(_bits(ord(c) - ord("A"), 6) for c in "DE")
        + _bits(0, 16)
        + "0"  # vendor consents: empty bitfield
        + _bits(0, 16)
        + "0"  # vendor legitimate interests: empty bitfield
        + _bits(0, 12)  # no publisher restrictions
    )
    out = _b64(core)
    if publisher is not None:
        pub = _bits(3, 3) + _flags(publisher, 24) + _flags(frozenset(), 24) + _bits(0, 6)
        out += "." + _b64(pub)
    return out


@pytest.fixture(scope="session")
def make_tc() -> Callable[..., str]:
    """:func:`encode_tc_string`: a TC string with the given purpose consents and date."""
    return encode_tc_string
