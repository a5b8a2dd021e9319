"""What every command of the CLI shares: the parser class, opening the kit, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, NoReturn

from personakit import Personakit
from personakit.crypto import LocalKeyProvider
from personakit.exceptions import ConfigurationError, UsageError

__all__ = [
    "IDENT_HELP",
    "KEY_STORE_ENV",
    "MANIFEST_ENV",
    "STORE_ENV",
    "TENANT_ENV",
    "Handler",
    "Parser",
    "add_command",
    "add_command_group",
    "add_manifest_option",
    "open_kit",
    "print_json",
    "progress_printer",
]

STORE_ENV: Final = "PERSONAKIT_STORE"
KEY_STORE_ENV: Final = "PERSONAKIT_KEY_STORE"
MANIFEST_ENV: Final = "PERSONAKIT_MANIFEST"
TENANT_ENV: Final = "PERSONAKIT_TENANT"
IDENT_HELP: Final = "customer:42, email:…, sub_…"
_DATABASE_SCHEMES: Final = ("postgresql://", "postgres://")

Handler = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        """Raise :class:`UsageError`; ``main`` prints it on one line and exits 2."""
        raise UsageError(message)


def print_json(value: Any) -> None:
    """Print ``value`` on standard output as indented JSON with sorted keys."""
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def add_command_group(subcommands: Any, name: str, summary: str) -> Any:
    """Add the command group ``name``; return its subparsers, one of which must be chosen."""
    group = subcommands.add_parser(name, help=summary)
    return group.add_subparsers(dest=f"{name}_command", required=True, parser_class=Parser)


def add_command(commands: Any, name: str, handler: Handler, summary: str) -> Parser:
    """Add the command ``name`` to a group's subparsers, run by ``handler``; return its parser."""
    command: Parser = commands.add_parser(name, help=summary)
    command.set_defaults(func=handler)
    return command


def add_manifest_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--manifest`` (default ``$PERSONAKIT_MANIFEST``) to a command that opens the kit."""
    parser.add_argument(
        "--manifest",
        default=os.environ.get(MANIFEST_ENV),
        help=f"purposes manifest JSON file (default: ${MANIFEST_ENV} or the built-in one)",
    )


def open_kit(args: argparse.Namespace, *, provider: LocalKeyProvider | None = None) -> Personakit:
    """Open the store named by ``--store`` / ``$PERSONAKIT_STORE`` with the master key.

    The tenant is ``--tenant``, else ``$PERSONAKIT_TENANT``, else ``default``.
    """
    location = args.store or os.environ.get(STORE_ENV)
    if not location:
        raise UsageError(f"no store: pass --store DIR or set {STORE_ENV}")
    key_dir = args.keys_dir or os.environ.get(KEY_STORE_ENV)
    # Only a directory can be missing by mistake (a typo would silently create an empty
    # store); a database URL names a server, and its table is created on first use.
    is_directory = location != "memory:" and not location.startswith(_DATABASE_SCHEMES)
    if is_directory and not Path(location).exists() and not args.create:
        raise ConfigurationError("store directory does not exist (pass --create to make one)")
    tenant = args.tenant if args.tenant is not None else os.environ.get(TENANT_ENV, "default")
    return Personakit.open(
        location,
        keys=provider or _provider(args),
        key_store=key_dir or None,
        tenant=tenant,
        manifest=getattr(args, "manifest", None),
    )


def _provider(args: argparse.Namespace) -> LocalKeyProvider:
    if args.key_file:
        return LocalKeyProvider.from_file(args.key_file)
    return LocalKeyProvider.from_env()


def progress_printer(unit: str, *, with_total: bool = False) -> Callable[..., None] | None:
    """A progress callback drawing one line on standard error, or None when it is no terminal.

    The callback takes ``done`` (and ``total`` when ``with_total``).
    """
    if not sys.stderr.isatty():
        return None

    def draw(done: int, total: int | None = None) -> None:
        if with_total and total:
            filled = int(30 * done / total)
            bar = "#" * filled + "." * (30 - filled)
            sys.stderr.write(f"\r[{bar}] {done:,}/{total:,} {unit}")
        else:
            sys.stderr.write(f"\r{done:,} {unit}")
        if total is not None and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return draw
