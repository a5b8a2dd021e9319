"""The ``personakit`` command, for compliance teams and operators.

Every user error prints one line on standard error and exits non-zero, never a traceback:
exit 2 for a malformed command line, 1 for a failure (bad key, broken audit chain, …).
Machine-readable results go to standard output as JSON.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from personakit.cli import (
    _audit,
    _consent,
    _dsr,
    _erasure,
    _identity,
    _ingest,
    _keygen,
    _keys,
    _retention,
    _schema,
    _store,
    _subject,
)
from personakit.cli._common import KEY_STORE_ENV, STORE_ENV, Handler, Parser
from personakit.exceptions import PersonakitError, UsageError

__all__ = ["build_parser", "main"]

# The order commands are listed in by --help.
_GROUPS = (
    _keygen,
    _audit,
    _keys,
    _store,
    _consent,
    _ingest,
    _retention,
    _subject,
    _identity,
    _erasure,
    _dsr,
    _schema,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = Parser(prog="personakit", description=__doc__.splitlines()[0])
    parser.add_argument("--store", help=f"store directory (default: ${STORE_ENV})")
    parser.add_argument(
        "--keys-dir", help=f"key store directory (default: <store>/keys or ${KEY_STORE_ENV})"
    )
    parser.add_argument(
        "--key-file", help="master key file (default: $PERSONAKIT_MASTER_KEY or _FILE)"
    )
    parser.add_argument(
        "--create", action="store_true", help="create the store if it does not exist"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in _GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler: Handler = args.func
        return handler(args)
    except UsageError as exc:
        print(f"personakit: usage error: {exc}", file=sys.stderr)
        return 2
    except PersonakitError as exc:
        print(f"personakit: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("personakit: interrupted", file=sys.stderr)
        return 130
