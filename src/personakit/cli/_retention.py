"""``personakit retention sweep``: delete what has outlived the manifest's retention periods."""

from __future__ import annotations

import argparse
from typing import Any

from personakit.cli._common import (
    Parser,
    add_manifest_option,
    open_kit,
    print_json,
    progress_printer,
)
from personakit.events import parse_timestamp

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``retention`` command group to the CLI's subparsers."""
    retention = subcommands.add_parser("retention", help="apply retention periods")
    add_manifest_option(retention)
    commands = retention.add_subparsers(
        dest="retention_command", required=True, parser_class=Parser
    )
    sweep = commands.add_parser("sweep", help="delete expired events, traits and derived data")
    sweep.add_argument("--now", help="sweep as of this ISO 8601 instant (default: now)")
    sweep.set_defaults(func=_cmd_sweep)


def _cmd_sweep(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        now = parse_timestamp(args.now, where="--now") if args.now else kit.clock.now()
        report = kit.retention.sweep(now, progress=progress_printer("subjects", with_total=True))
    print_json(report.to_json())
    return 0
