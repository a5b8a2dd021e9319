"""Ids and actor tokens: one rule for every package that mints an id or audits an actor."""

from __future__ import annotations

import base64
import re
import secrets
from typing import Final

from personakit.exceptions import Problem

__all__ = ["ACTOR_RE", "check_actor", "new_id"]

#: What an actor must look like (``cli``, ``system``, ``ops:jane``): it is audited in the clear.
ACTOR_RE: Final = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")

_ID_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz234567"


def new_id(prefix: str) -> str:
    """A random id: ``prefix`` and 26 base32 characters (130 bits)."""
    # The first 26 base32 characters of 17 random bytes are 130 uniform bits over the same
    # alphabet as 26 secrets.choice draws, for one random read instead of 26 (bulk ingest mints
    # one id per new customer).
    return prefix + base64.b32encode(secrets.token_bytes(17))[:26].decode("ascii").lower()


def check_actor(actor: object, problems: list[Problem]) -> None:
    """Append a problem unless ``actor`` is a short lower-case token (``cli``, ``ops:jane``)."""
    if not isinstance(actor, str) or not ACTOR_RE.fullmatch(actor):
        problems.append(Problem(where="actor", what="must match [a-z][a-z0-9_.:-]{0,63}"))
