"""``personakit keygen [--out FILE]``: print a new random master key, or write it to a new file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from personakit.crypto import generate_master_key
from personakit.exceptions import ConfigurationError

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``keygen`` command to the CLI's subparsers."""
    keygen = subcommands.add_parser("keygen", help="print a new random master key")
    keygen.add_argument("--out", help="write it to this new file (mode 600) instead")
    keygen.set_defaults(func=_cmd_keygen)


def _cmd_keygen(args: argparse.Namespace) -> int:
    key = generate_master_key()
    if args.out:
        out = Path(args.out)
        if out.exists():
            raise ConfigurationError("refusing to overwrite an existing key file")
        # Create with owner-only permissions from the start: no window where it is readable.
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        print(f"wrote a new master key to {out}", file=sys.stderr)
    else:
        print(key)
    return 0
