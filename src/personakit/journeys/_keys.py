"""Where journeys keeps things: store keys (shared indexes) and vault record names.

Per-subject state (journey state, claims, outbox actions, contact history) is sealed in the
subject's vault under the record kind ``journeys``. Three shared indexes name the subject's
pseudonym and are registered as the shared record kind ``journeys.index`` with an erasure
remover: the due-time index, the outbox queue, the action pointer and the tracking pointer
(from a handed-out action to its subject, for opens, clicks and delivery reports). Keys of
the first two start with the zero-padded UTC microsecond they are due, so a scan in key order
reads what is due and stops at the first entry that is not.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACTION",
    "CONTACTS",
    "COUNT",
    "DEFINITIONS",
    "DUE",
    "KIND",
    "OUTQ",
    "TRACK",
    "action_key",
    "claim_name",
    "due_key",
    "outbox_name",
    "outq_key",
    "parse_due",
    "state_name",
    "track_key",
]

KIND: Final = "journeys"
DUE: Final = "x/journeys/due/"
OUTQ: Final = "x/journeys/outq/"
ACTION: Final = "x/journeys/action/"
COUNT: Final = "x/journeys/count/"
TRACK: Final = "x/journeys/track/"
DEFINITIONS: Final = "x/journeys/definitions"
CONTACTS: Final = "contacts"
_WIDTH: Final = 17  # microseconds until year 5138: ordering by text is ordering by time


def due_key(micros: int, journey: str, subject: str, tag: str) -> str:
    """A due-index key; ``tag`` is ``s.<occurrence>.<step>`` or ``w.<n>`` (a trigger watch)."""
    return f"{DUE}{micros:0{_WIDTH}d}/{journey}/{subject}/{tag}"


def parse_due(key: str) -> tuple[int, str, str, str] | None:
    """``(micros, journey, subject, tag)`` of a due-index key, or None if it is not one."""
    parts = key[len(DUE) :].split("/")
    if len(parts) != 4 or not parts[0].isdigit():  # noqa: PLR2004 (the key's four parts)
        return None
    return int(parts[0]), parts[1], parts[2], parts[3]


def outq_key(micros: int, action: str) -> str:
    """An outbox queue key: due to send at ``micros``."""
    return f"{OUTQ}{micros:0{_WIDTH}d}/{action}"


def action_key(action: str) -> str:
    """The pointer from an action id to its subject and queue time."""
    return f"{ACTION}{action}"


def track_key(action: str) -> str:
    """The pointer from a handed-out action's id to its subject (tracking and delivery)."""
    return f"{TRACK}{action}"


def state_name(journey: str) -> str:
    """The vault name of a subject's state in one journey."""
    return f"state.{journey}"


def claim_name(journey: str, occurrence: int, step: int) -> str:
    """The vault name of the claim that one step of one occurrence was produced."""
    return f"claim.{journey}.{occurrence}.{step}"


def outbox_name(action: str) -> str:
    """The vault name of a sealed outbox action."""
    return f"outbox.{action}"
