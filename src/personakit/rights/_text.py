"""Checks shared by the rights modules for the short texts that end up in the audit log."""

from __future__ import annotations

import re
import secrets
from typing import Final

from personakit.exceptions import Problem

__all__ = ["MAX_NOTE", "check_actor", "check_note", "new_id"]

#: Longest reason, legal basis or extension reason accepted.
MAX_NOTE: Final = 500

_ID_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz234567"
_ACTOR_RE: Final = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
# Notes are audited in the clear: refuse what looks like an e-mail address, a phone or card
# number, or control characters. A note should cite a rule or a request id, not a person.
_PERSONAL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+|[0-9][0-9 .()/-]{5,}[0-9]|[\x00-\x1f\x7f]")


def new_id(prefix: str) -> str:
    """A random id: ``prefix`` and 26 base32 characters (130 bits)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(26))


def check_actor(actor: object, problems: list[Problem]) -> None:
    """Append a problem unless ``actor`` is a short lower-case token (``cli``, ``ops:jane``)."""
    if not isinstance(actor, str) or not _ACTOR_RE.fullmatch(actor):
        problems.append(Problem(where="actor", what="must match [a-z][a-z0-9_.:-]{0,63}"))


def check_note(
    note: object, where: str, problems: list[Problem], *, required: bool = False
) -> None:
    """Append a problem unless ``note`` is None (when optional) or a short, impersonal text."""
    if note is None and not required:
        return
    if not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE:
        problems.append(Problem(where=where, what=f"required: 1 to {MAX_NOTE} characters"))
    elif _PERSONAL_RE.search(note):
        problems.append(
            Problem(
                where=where,
                what="must not hold personal data or control characters (it is audited in "
                "the clear): cite the rule or the request id instead",
            )
        )
