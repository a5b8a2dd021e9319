"""``personakit erasure replay|log``: the erasure log, kept in the key store.

``replay`` re-applies the log after a data backup was restored; ``log`` lists the tombstones.
"""

from __future__ import annotations

import argparse
from typing import Any

from personakit.cli._common import Parser, open_kit, print_json

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``erasure`` command group to the CLI's subparsers."""
    erasure = subcommands.add_parser("erasure", help="the erasure log (kept in the key store)")
    commands = erasure.add_subparsers(dest="erasure_command", required=True, parser_class=Parser)
    replay = commands.add_parser(
        "replay", help="re-apply the erasure log after restoring a data backup"
    )
    replay.set_defaults(func=_cmd_replay)
    log = commands.add_parser("log", help="list the tombstones")
    log.set_defaults(func=_cmd_log)


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
