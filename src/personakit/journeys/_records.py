"""The journeys export section and the argument checks of the service's entry points."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

from personakit._args import raise_problems
from personakit._clock import from_micros
from personakit.exceptions import InvalidInput, Problem
from personakit.journeys._definition import CHANNELS
from personakit.journeys._engagement import DELIVERY_STATUSES
from personakit.workflows import ExportRecord

__all__ = [
    "check_action_id",
    "check_channel_address",
    "check_delivery",
    "check_lease",
    "export_section",
]

_ACTION_ID: Final = re.compile(r"[0-9a-f]{24}")
_MAX_LEASE: Final = timedelta(days=1)
# The largest page a listing of the outbox or of journey states hands out.
MAX_LIMIT: Final = 1_000_000


def export_section(records: Sequence[ExportRecord]) -> Any:
    """The ``journeys`` export section: states, actions (with engagement) and contact times."""
    if not isinstance(records, (list, tuple)) or not all(
        isinstance(r, ExportRecord) for r in records
    ):
        raise InvalidInput(
            "invalid records", [Problem(where="records", what="must be ExportRecords")]
        )
    if not records:
        return None  # nothing kept: no section (as for every capability's exporter)
    section: dict[str, list[Any]] = {"states": [], "actions": [], "contacts": []}
    for record in records:
        if record.name.startswith("state."):
            doc = record.json()
            section["states"].append({"journey": record.name[6:], **_public_state(doc)})
        elif record.name.startswith("outbox."):
            section["actions"].append(record.json())
        elif record.name == "contacts":
            section["contacts"] = [
                {"channel": ch, "at": from_micros(m).isoformat()} for ch, m in record.json()
            ]
    return section


def _public_state(doc: Mapping[str, Any]) -> dict[str, Any]:
    click = doc.get("click")
    return {
        "occurrence": doc.get("occ"),
        "active": doc.get("active"),
        "entered": from_micros(doc["entered"]).isoformat() if doc.get("entered") else None,
        "next_step": doc.get("step"),
        "holdout": doc.get("holdout"),
        "segment_member": doc.get("member"),
        "context": doc.get("context"),
        "ended": doc.get("ended"),
        "last_click": None
        if not click
        else {"step": click[0], "at": from_micros(click[1]).isoformat()},
    }


def check_action_id(action_id: object) -> None:
    """:class:`InvalidInput` unless ``action_id`` has the shape of an action id."""
    if not isinstance(action_id, str) or not _ACTION_ID.fullmatch(action_id):
        raise InvalidInput("invalid action id", [Problem(where="action_id", what="not an id")])


def check_delivery(action_id: object, status: object) -> None:
    """:class:`InvalidInput` listing what is wrong with a delivery report."""
    problems: list[Problem] = []
    if not isinstance(action_id, str) or not _ACTION_ID.fullmatch(action_id):
        problems.append(Problem(where="action_id", what="not an id"))
    if status not in DELIVERY_STATUSES:
        problems.append(Problem(where="status", what="must be " + ", ".join(DELIVERY_STATUSES)))
    raise_problems("invalid delivery report", problems)


def check_lease(lease: object) -> None:
    """:class:`InvalidInput` unless ``lease`` is a timedelta from one second to one day."""
    if not isinstance(lease, timedelta) or not timedelta(seconds=1) <= lease <= _MAX_LEASE:
        raise InvalidInput(
            "invalid lease", [Problem(where="lease", what="must be a timedelta of 1 s to 1 day")]
        )


def check_limit(limit: object) -> None:
    """:class:`InvalidInput` unless ``limit`` is an int from 1 to the outbox's largest page."""
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            "invalid limit", [Problem(where="limit", what=f"must be an int in 1..{MAX_LIMIT}")]
        )


def check_channel_address(channel: object, address: object) -> None:
    """:class:`InvalidInput` listing what is wrong with a channel and an address."""
    problems: list[Problem] = []
    if channel not in CHANNELS:
        problems.append(Problem(where="channel", what="must be email, sms or push"))
    if not isinstance(address, str) or not address.strip() or len(address) > 320:  # noqa: PLR2004
        problems.append(Problem(where="address", what="must be a non-empty address"))
    else:
        try:
            address.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(Problem(where="address", what="is not Unicode text"))
    raise_problems("invalid address", problems)
