"""``personakit store check|scrub|compact|migrate``: integrity, purging, chunks, schema versions.

``check`` and ``scrub`` exit 1 when something is wrong: a chain or SQLite integrity failure,
rows in a store that personakit never writes (a planted pickle, a pickled key, a side-file row:
reported by count, key prefix and reason, never read), or a scrub not done. ``compact`` merges
every subject's event chunks (stores whose ``track()`` wrote one chunk per event, before
compaction on write existed), one transaction per subject.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from personakit._vault import valid_subject_id
from personakit.cli._common import add_command, add_command_group, open_kit, print_json
from personakit.exceptions import IntegrityError
from personakit.storage import DiskStore

__all__ = ["register", "register_migrate"]


def register(subcommands: Any) -> None:
    """Add the ``store`` command group to the CLI's subparsers."""
    commands = add_command_group(subcommands, "store", "store integrity and scrubbing")
    add_command(
        commands,
        "check",
        _cmd_check,
        "settings, SQLite integrity, foreign (planted) rows, audit chain",
    )
    add_command(commands, "scrub", _cmd_scrub, "physically purge deleted data (WAL truncate)")
    add_command(commands, "compact", _cmd_compact, "merge each subject's small event chunks")
    register_migrate(commands)


def _cmd_check(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        result: dict[str, Any] = {}
        # The stores first: a planted row is found here without being read, before the audit
        # scan below meets it (and refuses it).
        for name, store in (("data", kit.store), ("keys", kit.key_store)):
            if isinstance(store, DiskStore):
                result[name] = {
                    "settings": store.settings(),
                    "integrity": store.integrity_check() or "ok",
                    "foreign_rows": store.foreign_rows(),
                }
        try:
            result["audit"] = kit.audit.verify().to_json()
        except IntegrityError:
            result["audit"] = {"ok": False, "error": "an audit row is not in personakit's format"}
    print_json(result)
    stores = [result[name] for name in ("data", "keys") if name in result]
    foreign = sum(store["foreign_rows"]["count"] for store in stores)
    if foreign:
        print(
            f"personakit: store check: {foreign} row(s) not in personakit's format (planted?); "
            "see foreign_rows",
            file=sys.stderr,
        )
    sound = result["audit"]["ok"] and not foreign
    return 0 if sound and all(store["integrity"] == "ok" for store in stores) else 1


def _cmd_scrub(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        results = {"data": kit.store.scrub(), "keys": kit.key_store.scrub()}
    print_json({name: {"status": r.status, "detail": r.detail} for name, r in results.items()})
    return 0 if all(r.done for r in results.values()) else 1


def _cmd_compact(args: argparse.Namespace) -> int:
    subjects = merged = before_total = after_total = 0
    with open_kit(args) as kit:
        for subject in kit.retention.subjects():
            if not valid_subject_id(subject):
                continue  # a key made outside personakit's records (a foreign keyring user)
            before, after = kit.events.compact(subject)
            subjects += 1
            merged += before > after
            before_total += before
            after_total += after
    print_json(
        {
            "subjects": subjects,
            "subjects_compacted": merged,
            "chunks_before": before_total,
            "chunks_after": after_total,
        }
    )
    return 0


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
