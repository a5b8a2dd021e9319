"""``personakit journeys run|load|enable|report``: journeys from cron or a systemd timer."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from personakit._codec import loads_input
from personakit.cli._common import (
    Parser,
    add_manifest_option,
    open_kit,
    print_json,
    progress_printer,
)
from personakit.events import parse_timestamp
from personakit.exceptions import InvalidInput, Problem

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``journeys`` command group to the CLI's subparsers."""
    journeys = subcommands.add_parser(
        "journeys", help="omnichannel journeys: load definitions, run what is due, report"
    )
    add_manifest_option(journeys)
    commands = journeys.add_subparsers(dest="journeys_command", required=True, parser_class=Parser)
    run = commands.add_parser(
        "run", help="produce every due step's action exactly once; print a JSON summary"
    )
    run.add_argument("--now", help="run as of this ISO 8601 instant (default: now)")
    run.set_defaults(func=_cmd_run)
    load = commands.add_parser("load", help="replace the active journeys with a JSON file's list")
    load.add_argument("path", help="a JSON file holding a list of journey definitions")
    load.set_defaults(func=_cmd_load)
    enable = commands.add_parser("enable", help="add built-in journeys (all six by default)")
    enable.add_argument("names", nargs="*", help="welcome, birthday, cart_abandonment, …")
    enable.set_defaults(func=_cmd_enable)
    report = commands.add_parser("report", help="counts per journey and step (aggregates)")
    report.set_defaults(func=_cmd_report)


def _cmd_run(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        now = parse_timestamp(args.now, where="--now") if args.now else None
        summary = kit.journeys.run_due(now, progress=progress_printer("due steps"))
    print_json(summary.as_dict())
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    try:
        raw = Path(args.path).read_bytes()
    except OSError:
        raise InvalidInput(
            "cannot read journeys", [Problem(where="path", what="not a readable file")]
        ) from None
    with open_kit(args) as kit:
        active = kit.journeys.load(loads_input(raw))
    print_json({"active": active})
    return 0


def _cmd_enable(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        active = kit.journeys.enable_builtin(list(args.names) or None)
    print_json({"active": active})
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        print_json(kit.journeys.report())
    return 0
