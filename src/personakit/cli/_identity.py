"""``personakit identity …``: the identity index.

* ``identity reindex [--dry-run] [--batch N]``: normalize every stored identifier again with
  the current rules (after an upgrade that changes them), write the new blind indexes, drop
  the stale ones and merge subjects that turn out to be one person (through the link
  workflow). Interrupted, it resumes where it stopped when run again. Prints the report.
"""

from __future__ import annotations

import argparse
from typing import Any

from personakit.cli._common import (
    add_command,
    add_command_group,
    open_kit,
    print_json,
    progress_printer,
)
from personakit.workflows import IdentityReindexer

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``identity`` command group to the CLI's subparsers."""
    commands = add_command_group(subcommands, "identity", "rebuild the identity index")
    reindex = add_command(
        commands,
        "reindex",
        _cmd_reindex,
        "normalize stored identifiers again; merge subjects that are one person",
    )
    reindex.add_argument(
        "--dry-run", action="store_true", help="report what would change; write nothing"
    )
    reindex.add_argument(
        "--batch", type=int, default=200, help="subjects per transaction (default: 200)"
    )


def _cmd_reindex(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        report = IdentityReindexer(linker=kit.linker).run(
            dry_run=args.dry_run,
            batch=args.batch,
            actor="cli",
            progress=progress_printer("subjects", with_total=True),
        )
    print_json(report.to_json())
    return 0
