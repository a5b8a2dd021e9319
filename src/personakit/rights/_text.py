"""Checks shared by the rights modules for the short texts that end up in the audit log."""

from __future__ import annotations

import re
from typing import Final

from personakit.exceptions import Problem

__all__ = ["MAX_NOTE", "check_note"]

#: Longest reason, legal basis or extension reason accepted.
MAX_NOTE: Final = 500

# Notes are audited in the clear: refuse what looks like an e-mail address, a phone or card
# number, or control characters. A note should cite a rule or a request id, not a person.
_PERSONAL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+|[0-9][0-9 .()/-]{5,}[0-9]|[\x00-\x1f\x7f]")


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
