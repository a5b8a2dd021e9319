"""``personakit segments list|sizes|refresh|define|remove``: segments for operators.

``define FILE`` stores JSON segment definitions (one, or a list) in the store, where every
process's kit reads them (at its build, refresh and rule loads); ``--dry-run`` only checks.
Every problem is printed at once (exit 1) and nothing is stored then. ``remove NAME`` removes
a stored definition. ``list`` marks stored definitions with ``"stored": true``.

``refresh`` applies time-driven transitions (a customer lapses, a cart is abandoned, a
birthday month begins, RFM quintiles move) to the membership index: run it daily from cron.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
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
from personakit.exceptions import InvalidInput, Problem

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
    define = add_command(
        commands, "define", _cmd_define, "store JSON segment definitions (exit 1 if invalid)"
    )
    define.add_argument("file", metavar="FILE", help="a JSON definition or a list of them")
    define.add_argument("--dry-run", action="store_true", help="check only; store nothing")
    define.add_argument("--actor", default="cli", help="who defines them (audit log)")
    add_manifest_option(define)
    remove = add_command(commands, "remove", _cmd_remove, "remove a stored segment definition")
    remove.add_argument("name", metavar="NAME", help="the segment's name")
    remove.add_argument("--actor", default="cli", help="who removes it (audit log)")
    add_manifest_option(remove)


def _cmd_list(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        offered = kit.registries.segments.describe()
        mine = {segment.name: segment for segment in kit.personalization.segments()}
        stored = set(kit.personalization.defined.names())
        print_json(
            [
                {
                    "name": name,
                    "owner": entry["owner"],
                    "description": entry["description"],
                    "reads": list(mine[name].reads) if name in mine else None,
                    "stored": name in stored,
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


def _cmd_define(args: argparse.Namespace) -> int:
    from personakit._codec import loads_input  # noqa: PLC0415 - keeps --help fast

    try:
        raw = Path(os.fsdecode(args.file)).read_bytes()
    except OSError as exc:
        problem = Problem(where="FILE", what=f"unreadable file ({type(exc).__name__})")
        return _refused([problem])
    with open_kit(args) as kit:
        try:
            report = kit.personalization.defined.define(
                loads_input(raw), actor=args.actor, dry_run=args.dry_run
            )
        except InvalidInput as exc:
            return _refused(list(exc.problems))
    print_json({"valid": True, "problems": [], **report.to_json()})
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        report = kit.personalization.defined.remove(args.name, actor=args.actor)
    print_json(report.to_json())
    return 0


def _refused(problems: list[Problem]) -> int:
    print_json({"valid": False, "problems": [{"where": p.where, "what": p.what} for p in problems]})
    return 1
