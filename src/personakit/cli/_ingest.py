"""``personakit ingest FILE``: bulk-load JSON Lines records (``-`` reads standard input).

Prints one JSON summary last on standard output::

    {"accepted": N, "rejected": M, "dropped_no_basis": K, "errors": [{"line": L, "error": "…"}]}

and exits 0 when nothing was rejected, 1 otherwise. ``--strict`` stops at the first rejected
line (nothing of that line is written). A progress line is drawn on standard error when it is a
terminal. A line over the size limit is never read whole: its first bytes are handed on (and
refused as too long), the rest is skipped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from personakit.cli._common import add_manifest_option, open_kit, print_json, progress_printer
from personakit.exceptions import Problem, UsageError
from personakit.workflows import DEFAULT_BATCH, MAX_LINE_BYTES

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``ingest`` command to the CLI's subparsers."""
    ingest = subcommands.add_parser("ingest", help="bulk-load JSON Lines records")
    ingest.add_argument("file", metavar="FILE", help="JSON Lines file, or - for standard input")
    ingest.add_argument("--strict", action="store_true", help="stop at the first rejected line")
    ingest.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        help=f"lines per transaction (default {DEFAULT_BATCH})",
    )
    add_manifest_option(ingest)
    ingest.add_argument(
        "--checkpoint",
        metavar="NAME",
        help="record progress under NAME in the store; a rerun with it resumes after the last "
        "committed line",
    )
    ingest.set_defaults(func=_cmd_ingest)


_SKIP_CHUNK = 1 << 16


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    # The longest line accepted, its CR LF, and no more: memory stays bounded by the limit.
    most = MAX_LINE_BYTES + 2
    try:
        while raw := handle.readline(most):
            if len(raw) == most and not raw.endswith(b"\n"):
                while (rest := handle.readline(_SKIP_CHUNK)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of an over-long line
                yield raw[: MAX_LINE_BYTES + 1]  # still over the limit: refused as too long
            else:
                yield raw.rstrip(b"\r\n")
    except OSError as exc:
        raise UsageError(
            "cannot read input", [Problem(where="FILE", what=type(exc).__name__)]
        ) from exc


def _cmd_ingest(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise UsageError(
            "invalid --batch-size", [Problem(where="--batch-size", what="must be >= 1")]
        )
    if args.file == "-":
        handle: BinaryIO = sys.stdin.buffer
    else:
        try:
            handle = Path(args.file).open("rb")  # noqa: SIM115 (closed below, also on error)
        except OSError as exc:
            raise UsageError(
                "cannot read input", [Problem(where="FILE", what=type(exc).__name__)]
            ) from exc
    try:
        with open_kit(args) as kit:
            summary = kit.ingest(
                _lines(handle),
                strict=args.strict,
                batch_size=args.batch_size,
                progress=progress_printer("lines"),
                checkpoint=args.checkpoint,
            )
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # end the progress line
    print_json(summary.to_json())
    return 0 if summary.rejected == 0 else 1
