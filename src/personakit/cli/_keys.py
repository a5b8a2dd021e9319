"""``personakit keys rotate|status``: master key rotation and the key store's state.

``rotate --new-key-file FILE`` re-wraps every data key under the new master key; the current
key stays known, so an interrupted rotation resumes when the same command runs again.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from personakit.cli._common import add_command, add_command_group, open_kit, print_json
from personakit.crypto import (
    MASTER_KEY_ENV,
    MASTER_KEY_FILE_ENV,
    LocalKeyProvider,
    read_key_file,
)
from personakit.exceptions import ConfigurationError

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``keys`` command group to the CLI's subparsers."""
    commands = add_command_group(subcommands, "keys", "master key rotation and status")
    rotate = add_command(
        commands, "rotate", _cmd_rotate, "re-wrap every data key under a new master key"
    )
    rotate.add_argument("--new-key-file", required=True, help="file with the new master key")
    add_command(commands, "status", _cmd_status, "active key id, subject count, pending rotation")


def _cmd_rotate(args: argparse.Namespace) -> int:
    # Wrap with the new key; keep the current one known so existing keys can be unwrapped,
    # and so an interrupted rotation can be resumed by running the same command again.
    provider = LocalKeyProvider(
        read_key_file(args.new_key_file), previous=[_current_key_text(args)]
    )
    with open_kit(args, provider=provider) as kit:
        kit.audit.append("keys.rotation_started", data={"to": provider.key_id})
        report = kit.keyring.rotate()
        kit.audit.append("keys.rotated", data={"to": report.key_id, "rewrapped": report.rewrapped})
    print_json(
        {
            "key_id": report.key_id,
            "rewrapped": report.rewrapped,
            "already_current": report.already_current,
        }
    )
    return 0


def _current_key_text(args: argparse.Namespace) -> str:
    if args.key_file:
        return read_key_file(args.key_file)
    if os.environ.get(MASTER_KEY_ENV):
        return os.environ[MASTER_KEY_ENV]
    if os.environ.get(MASTER_KEY_FILE_ENV):
        return read_key_file(os.environ[MASTER_KEY_FILE_ENV])
    raise ConfigurationError(f"no current master key: pass --key-file or set {MASTER_KEY_ENV}")


def _cmd_status(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        print_json(
            {
                "active_key_id": kit.keyring.provider.key_id,
                "subjects_with_keys": kit.keyring.subject_count(),
                "rotation_pending_to": kit.keyring.rotation_pending(),
            }
        )
    return 0
