"""The rows of the datasets journeys offers analytics, read from the subjects' sealed records.

``journeys.actions``: one row per produced action (journey, step, channel, status, reason,
deferred) and per holdout entry. ``journeys.entries``: one row per journey entry the state
records, with its ``arm`` (``holdout`` or ``treated``) and ``converted`` (1 when the latest
entry saw a purchase within the conversion window: the rule behind the report's counts), what
a conversion metric with uplift against the holdout runs over. The callers pass only the
subjects with a basis for the analysis purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from personakit._codec import loads
from personakit._vault import Vault
from personakit.journeys._keys import KIND

__all__ = ["action_rows", "entry_rows"]


def action_rows(vault: Vault, subjects: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The ``journeys.actions`` rows of ``subjects``."""
    for subject in subjects:
        for _kind, name, raw in vault.scan(subject, KIND):
            doc = loads(raw)
            if name.startswith("outbox."):
                yield (
                    subject,
                    {
                        "journey": doc["journey"],
                        "step": doc["step"],
                        "channel": doc["channel"],
                        "status": doc["status"],
                        "reason": doc["reason"],
                        "deferred": bool(doc.get("deferred", False)),
                    },
                )
            elif name.startswith("state.") and doc.get("holdout"):
                yield (
                    subject,
                    {
                        "journey": name[6:],
                        "step": None,
                        "channel": None,
                        "status": "holdout",
                        "reason": None,
                        "deferred": False,
                    },
                )


def entry_rows(vault: Vault, subjects: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The ``journeys.entries`` rows of ``subjects``: one per journey they entered."""
    for subject in subjects:
        for _kind, name, raw in vault.scan(subject, KIND):
            if not name.startswith("state."):
                continue
            doc = loads(raw)
            occurrence = doc.get("occ")
            if not occurrence:  # watched (a date or inactivity trigger) but never entered
                continue
            yield (
                subject,
                {
                    "journey": name[6:],
                    "arm": "holdout" if doc.get("holdout") else "treated",
                    "converted": int(doc.get("converted") == occurrence),
                },
            )
