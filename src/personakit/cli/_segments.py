"""``personakit segments list|sizes|refresh``: the segments operators see and the daily refresh.

``refresh`` applies time-driven transitions (a customer lapses, a cart is abandoned, a
birthday month begins, RFM quintiles move) to the membership index: run it daily from cron.
"""

from __future__ import annotations

import argparse
from typing import Any

from personakit.cli._common import (
    add_command,
    add_command_group,
    add_manifest_option,
    open_kit,
    print_json,
    progress_printer,
)
from personakit.events import parse_timestamp

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``segments`` command group to the CLI's subparsers."""
    commands = add_command_group(subcommands, "segments", "personalization segments")
    listing = add_command(commands, "list", _cmd_list, "every segment: owner, description, reads")
    add_manifest_option(listing)
    sizes = add_command(commands, "sizes", _cmd_sizes, "members per segment (from the index)")
    add_manifest_option(sizes)
    refresh = add_command(
        commands, "refresh", _cmd_refresh, "apply time-driven membership changes (daily)"
    )
    add_manifest_option(refresh)
    refresh.add_argument("--now", help="refresh as of this ISO 8601 instant (default: now)")


def _cmd_list(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        offered = kit.registries.segments.describe()
        mine = {segment.name: segment for segment in kit.personalization.segments()}
        print_json(
            [
                {
                    "name": name,
                    "owner": entry["owner"],
                    "description": entry["description"],
                    "reads": list(mine[name].reads) if name in mine else None,
                }
                for name, entry in offered.items()
            ]
        )
    return 0


def _cmd_sizes(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        print_json(kit.personalization.sizes())
    return 0


def _cmd_refresh(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        now = parse_timestamp(args.now, where="--now") if args.now else kit.clock.now()
        report = kit.personalization.refresh(
            now, progress=progress_printer("subjects", with_total=True)
        )
    print_json(report.to_json())
    return 0
