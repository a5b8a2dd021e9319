"""The ``personakit`` command, for compliance teams and operators.

Every user error prints one line on standard error and exits non-zero, never a traceback:
exit 2 for a malformed command line, 1 for a failure (bad key, broken audit chain, …), 70
(EX_SOFTWARE) for an error nobody planned for: a bug, reported as its type only, since its
message could hold personal data. Machine-readable results go to standard output as JSON.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from personakit.cli import (
    _audit,
    _consent,
    _demo,
    _dp,
    _dsr,
    _erasure,
    _explain,
    _identity,
    _ingest,
    _journeys,
    _keygen,
    _keys,
    _predict,
    _recommend,
    _report,
    _retention,
    _rules,
    _schema,
    _segments,
    _store,
    _subject,
)
from personakit.cli._common import KEY_STORE_ENV, STORE_ENV, TENANT_ENV, Handler, Parser
from personakit.crypto import KeyFilePermissionWarning
from personakit.exceptions import PersonakitError, UsageError

__all__ = ["build_parser", "main"]

_show_python_warning = warnings.showwarning
_EX_SOFTWARE = 70  # sysexits.h: an internal software error

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
    _dp,
    _predict,
    _rules,
    _segments,
    _explain,
    _demo,
    _report,
    _journeys,
    _recommend,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    # No abbreviations of the global options: `recommend --k` would otherwise be taken as an
    # ambiguous prefix of --keys-dir / --key-file before the subcommand sees it.
    parser = Parser(prog="personakit", description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument(
        "--store", help=f"store directory or postgresql:// URL (default: ${STORE_ENV})"
    )
    parser.add_argument(
        "--keys-dir", help=f"key store directory (default: <store>/keys or ${KEY_STORE_ENV})"
    )
    parser.add_argument(
        "--key-file", help="master key file (default: $PERSONAKIT_MASTER_KEY or _FILE)"
    )
    parser.add_argument(
        "--create", action="store_true", help="create the store directory if it does not exist"
    )
    parser.add_argument(
        "--tenant",
        help=f"tenant the store and keys were made for (default: ${TENANT_ENV} or 'default')",
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
        with warnings.catch_warnings():
            # A key file others can read is worth one line on stderr, not a Python warning
            # block; and it is shown each time, since every run reads the file again.
            warnings.simplefilter("always", KeyFilePermissionWarning)
            warnings.showwarning = _show_warning
            return handler(args)
    except UsageError as exc:
        print(f"personakit: usage error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except PersonakitError as exc:
        print(f"personakit: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("personakit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 (the net: one line instead of a traceback)
        print(
            f"personakit: internal error: {type(exc).__name__} (please report it)", file=sys.stderr
        )
        return _EX_SOFTWARE


def _one_line(exc: Exception | Warning | str) -> str:
    # argparse echoes unknown arguments, which may hold line breaks: errors stay one line.
    return " ".join(str(exc).splitlines())


def _show_warning(  # noqa: PLR0917 (the signature of warnings.showwarning)
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    if issubclass(category, KeyFilePermissionWarning):
        print(f"personakit: warning: {_one_line(message)}", file=sys.stderr)
    else:
        _show_python_warning(message, category, filename, lineno, file, line)
