"""``personakit store check|scrub|migrate``: integrity, purging deleted data, schema versions.

Both exit 1 when something is wrong: a chain or SQLite integrity failure, or a scrub not done.
"""

from __future__ import annotations

import argparse
from typing import Any

from personakit.cli._common import Parser, open_kit, print_json
from personakit.storage import DiskStore

__all__ = ["register", "register_migrate"]


def register(subcommands: Any) -> None:
    """Add the ``store`` command group to the CLI's subparsers."""
    store = subcommands.add_parser("store", help="store integrity and scrubbing")
    commands = store.add_subparsers(dest="store_command", required=True, parser_class=Parser)
    check = commands.add_parser("check", help="settings, SQLite integrity, audit chain")
    check.set_defaults(func=_cmd_check)
    scrub = commands.add_parser("scrub", help="physically purge deleted data (WAL truncate)")
    scrub.set_defaults(func=_cmd_scrub)
    register_migrate(commands)


def _cmd_check(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        result: dict[str, Any] = {"audit": kit.audit.verify().to_json()}
        for name, store in (("data", kit.store), ("keys", kit.key_store)):
            if isinstance(store, DiskStore):
                result[name] = {
                    "settings": store.settings(),
                    "integrity": store.integrity_check() or "ok",
                }
    print_json(result)
    sound = result["audit"]["ok"] and all(
        result[name]["integrity"] == "ok" for name in ("data", "keys") if name in result
    )
    return 0 if sound else 1


def _cmd_scrub(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        results = {"data": kit.store.scrub(), "keys": kit.key_store.scrub()}
    print_json({name: {"status": r.status, "detail": r.detail} for name, r in results.items()})
    return 0 if all(r.done for r in results.values()) else 1


def register_migrate(commands: Any) -> None:
    """Add ``store migrate`` to the ``store`` command group's subparsers."""
    migrate = commands.add_parser(
        "migrate", help="apply pending schema migrations to the data and key stores"
    )
    migrate.set_defaults(func=_cmd_migrate)


def _cmd_migrate(args: argparse.Namespace) -> int:
    # Opening already applies what is pending (and refuses a newer schema); migrate() reports
    # the versions, so a deploy step can run and log it on its own.
    with open_kit(args) as kit:
        result: dict[str, Any] = {}
        for name, store in (("data", kit.store), ("keys", kit.key_store)):
            migrate = getattr(store, "migrate", None)
            if migrate is not None:
                before, after = migrate()
                result[name] = {"from": before, "to": after}
    print_json(result)
    return 0
