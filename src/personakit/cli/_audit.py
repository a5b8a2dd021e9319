"""``personakit audit checkpoint|verify``: signed heads of the audit chain, and verification.

``verify`` exits 1 when the chain does not verify (edits, deletions, reordering, and with
``--checkpoint`` truncation or a rewrite).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from personakit._codec import loads
from personakit.audit import Checkpoint
from personakit.cli._common import add_command, add_command_group, open_kit, print_json
from personakit.exceptions import InvalidInput, Problem, UsageError

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``audit`` command group to the CLI's subparsers."""
    commands = add_command_group(subcommands, "audit", "audit chain checkpoints and verification")
    checkpoint = add_command(
        commands, "checkpoint", _cmd_checkpoint, "print a signed head to keep elsewhere"
    )
    checkpoint.add_argument("--out", help="write to this file instead of standard output")
    verify = add_command(commands, "verify", _cmd_verify, "verify the chain (exit 1 if tampered)")
    verify.add_argument("--checkpoint", help="also detect truncation / rewrite against this file")


def _cmd_checkpoint(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        checkpoint = kit.audit.checkpoint().to_json()
    if args.out:
        Path(args.out).write_text(json.dumps(checkpoint, indent=2) + "\n", encoding="utf-8")
        print(f"checkpoint #{checkpoint['seq']} written to {args.out}", file=sys.stderr)
    else:
        print_json(checkpoint)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    checkpoint = None
    if args.checkpoint:
        try:
            data = loads(Path(args.checkpoint).read_bytes())
        except OSError as exc:
            raise UsageError(
                "cannot read checkpoint file",
                [Problem(where="--checkpoint", what=type(exc).__name__)],
            ) from exc
        except ValueError as exc:
            raise InvalidInput(
                "checkpoint file is not JSON", [Problem(where="--checkpoint", what="invalid JSON")]
            ) from exc
        checkpoint = Checkpoint.from_json(data)
    with open_kit(args) as kit:
        report = kit.audit.verify(checkpoint)
    print_json(report.to_json())
    if not report.ok:
        print(f"personakit: audit chain does NOT verify: {report}", file=sys.stderr)
        return 1
    return 0
