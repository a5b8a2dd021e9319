"""``personakit schema NAME``: print a JSON Schema that ships with personakit (e.g. ``export``)."""

from __future__ import annotations

import argparse
from typing import Any

from personakit.cli._common import print_json

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``schema`` command to the CLI's subparsers."""
    schema = subcommands.add_parser("schema", help="print a JSON Schema that ships with personakit")
    schema.add_argument("name", metavar="NAME", help="schema name, e.g. export or manifest")
    schema.set_defaults(func=_cmd_schema)


def _cmd_schema(args: argparse.Namespace) -> int:
    from personakit.schema import load_schema  # noqa: PLC0415 (jsonschema-free, but lazy)

    print_json(load_schema(args.name))
    return 0
