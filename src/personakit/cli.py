"""The ``personakit`` command, for compliance teams and operators.

Every user error prints one line on standard error and exits non-zero, never a traceback:
exit 2 for a malformed command line, 1 for a failure (bad key, broken audit chain, …).
Machine-readable results go to standard output as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from personakit._codec import loads
from personakit._kit import Personakit
from personakit.audit import Checkpoint
from personakit.consent._cli import register as register_consent
from personakit.crypto import (
    MASTER_KEY_ENV,
    MASTER_KEY_FILE_ENV,
    LocalKeyProvider,
    generate_master_key,
)
from personakit.events._cli import register as register_ingest
from personakit.exceptions import (
    ConfigurationError,
    InvalidInput,
    PersonakitError,
    Problem,
    UsageError,
)
from personakit.profiles._cli import register as register_retention
from personakit.rights._cli import register as register_rights
from personakit.storage import DiskStore

__all__ = ["main"]

STORE_ENV = "PERSONAKIT_STORE"
KEY_STORE_ENV = "PERSONAKIT_KEY_STORE"

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def _provider(args: argparse.Namespace) -> LocalKeyProvider:
    if args.key_file:
        return LocalKeyProvider.from_file(args.key_file)
    return LocalKeyProvider.from_env()


def _open_kit(args: argparse.Namespace, *, provider: LocalKeyProvider | None = None) -> Personakit:
    location = args.store or os.environ.get(STORE_ENV)
    if not location:
        raise UsageError(f"no store: pass --store DIR or set {STORE_ENV}")
    key_dir = args.keys_dir or os.environ.get(KEY_STORE_ENV)
    if location != "memory:" and not Path(location).exists() and not args.create:
        raise ConfigurationError("store directory does not exist (pass --create to make one)")
    return Personakit.open(
        location,
        keys=provider or _provider(args),
        key_store=key_dir or None,
        manifest=getattr(args, "manifest", None),
    )


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


# -- commands -------------------------------------------------------------------------------


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


def _cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    with _open_kit(args) as kit:
        checkpoint = kit.audit.checkpoint().to_json()
    if args.out:
        Path(args.out).write_text(json.dumps(checkpoint, indent=2) + "\n", encoding="utf-8")
        print(f"checkpoint #{checkpoint['seq']} written to {args.out}", file=sys.stderr)
    else:
        _print_json(checkpoint)
    return 0


def _cmd_audit_verify(args: argparse.Namespace) -> int:
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
    with _open_kit(args) as kit:
        report = kit.audit.verify(checkpoint)
    _print_json(report.to_json())
    if not report.ok:
        print(f"personakit: audit chain does NOT verify: {report}", file=sys.stderr)
        return 1
    return 0


def _cmd_keys_rotate(args: argparse.Namespace) -> int:
    # Wrap with the new key; keep the current one known so existing keys can be unwrapped,
    # and so an interrupted rotation can be resumed by running the same command again.
    provider = LocalKeyProvider(
        _read_key_file(args.new_key_file), previous=[_current_key_text(args)]
    )
    with _open_kit(args, provider=provider) as kit:
        kit.audit.append("keys.rotation_started", data={"to": provider.key_id})
        report = kit.keyring.rotate()
        kit.audit.append("keys.rotated", data={"to": report.key_id, "rewrapped": report.rewrapped})
    _print_json(
        {
            "key_id": report.key_id,
            "rewrapped": report.rewrapped,
            "already_current": report.already_current,
        }
    )
    return 0


def _read_key_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read key file: {type(exc).__name__}") from exc


def _current_key_text(args: argparse.Namespace) -> str:
    if args.key_file:
        return _read_key_file(args.key_file)
    if os.environ.get(MASTER_KEY_ENV):
        return os.environ[MASTER_KEY_ENV]
    if os.environ.get(MASTER_KEY_FILE_ENV):
        return _read_key_file(os.environ[MASTER_KEY_FILE_ENV])
    raise ConfigurationError(f"no current master key: pass --key-file or set {MASTER_KEY_ENV}")


def _cmd_keys_status(args: argparse.Namespace) -> int:
    with _open_kit(args) as kit:
        _print_json(
            {
                "active_key_id": kit.keyring.provider.key_id,
                "subjects_with_keys": kit.keyring.subject_count(),
                "rotation_pending_to": kit.keyring.rotation_pending(),
            }
        )
    return 0


def _cmd_store_check(args: argparse.Namespace) -> int:
    with _open_kit(args) as kit:
        result: dict[str, Any] = {"audit": kit.audit.verify().to_json()}
        for name, store in (("data", kit.store), ("keys", kit.key_store)):
            if isinstance(store, DiskStore):
                result[name] = {
                    "settings": store.settings(),
                    "integrity": store.integrity_check() or "ok",
                }
    _print_json(result)
    sound = result["audit"]["ok"] and all(
        result[name]["integrity"] == "ok" for name in ("data", "keys") if name in result
    )
    return 0 if sound else 1


def _cmd_store_scrub(args: argparse.Namespace) -> int:
    with _open_kit(args) as kit:
        results = {"data": kit.store.scrub(), "keys": kit.key_store.scrub()}
    _print_json({name: {"status": r.status, "detail": r.detail} for name, r in results.items()})
    return 0 if all(r.done for r in results.values()) else 1


# -- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(prog="personakit", description=__doc__.splitlines()[0])
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
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    keygen = commands.add_parser("keygen", help="print a new random master key")
    keygen.add_argument("--out", help="write it to this new file (mode 600) instead")
    keygen.set_defaults(func=_cmd_keygen)

    audit = commands.add_parser("audit", help="audit chain checkpoints and verification")
    audit_cmds = audit.add_subparsers(dest="audit_command", required=True, parser_class=_Parser)
    checkpoint = audit_cmds.add_parser("checkpoint", help="print a signed head to keep elsewhere")
    checkpoint.add_argument("--out", help="write to this file instead of standard output")
    checkpoint.set_defaults(func=_cmd_audit_checkpoint)
    verify = audit_cmds.add_parser("verify", help="verify the chain (exit 1 if tampered)")
    verify.add_argument("--checkpoint", help="also detect truncation / rewrite against this file")
    verify.set_defaults(func=_cmd_audit_verify)

    keys = commands.add_parser("keys", help="master key rotation and status")
    keys_cmds = keys.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    rotate = keys_cmds.add_parser("rotate", help="re-wrap every data key under a new master key")
    rotate.add_argument("--new-key-file", required=True, help="file with the new master key")
    rotate.set_defaults(func=_cmd_keys_rotate)
    status = keys_cmds.add_parser("status", help="active key id, subject count, pending rotation")
    status.set_defaults(func=_cmd_keys_status)

    store = commands.add_parser("store", help="store integrity and scrubbing")
    store_cmds = store.add_subparsers(dest="store_command", required=True, parser_class=_Parser)
    check = store_cmds.add_parser("check", help="settings, SQLite integrity, audit chain")
    check.set_defaults(func=_cmd_store_check)
    scrub = store_cmds.add_parser("scrub", help="physically purge deleted data (WAL truncate)")
    scrub.set_defaults(func=_cmd_store_scrub)

    register_consent(commands)
    register_ingest(commands)
    register_retention(commands)
    register_rights(commands)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
