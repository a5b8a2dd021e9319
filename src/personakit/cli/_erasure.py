"""``personakit erasure replay|log``: the erasure log, kept in the key store.

``replay`` re-applies the log after a data backup was restored; ``log`` lists the tombstones.
"""

from __future__ import annotations

import argparse
from typing import Any

from personakit.cli._common import add_command, add_command_group, open_kit, print_json

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``erasure`` command group to the CLI's subparsers."""
    commands = add_command_group(subcommands, "erasure", "the erasure log (kept in the key store)")
    add_command(
        commands, "replay", _cmd_replay, "re-apply the erasure log after restoring a data backup"
    )
    add_command(commands, "log", _cmd_log, "list the tombstones")


def _cmd_replay(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        report = kit.rights.replay_erasures(actor="cli")
    print_json(report.to_json())
    return 0


def _cmd_log(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        entries = kit.rights.erasure_log()
    print_json(
        [
            {
                "tombstone": e.tombstone,
                "status": e.status,
                "requested_at": e.requested_at.isoformat(),
                "completed_at": None if e.completed_at is None else e.completed_at.isoformat(),
                "receipt_id": e.receipt_id,
            }
            for e in entries
        ]
    )
    return 0
