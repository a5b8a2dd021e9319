"""Writing reports to disk: one file, or the whole audit pack with its digest manifest.

Nothing is ever half-written: a file goes to a temporary name in the same directory and is
renamed over; a pack is built in a temporary sibling directory, its ``manifest.json`` lists
the SHA-256 of every other file, the directory is renamed into place and only then is the
manifest's own digest appended to the audit chain (if that fails, the pack is removed). So a
pack handed to a regulator can later be checked byte for byte (:func:`check_pack`) and
proven to be the one this store produced (the chain holds its manifest digest).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from attrs import frozen

from personakit.audit import AuditLog
from personakit.exceptions import InvalidInput, Problem

__all__ = [
    "MANIFEST_NAME",
    "PACK_FORMAT",
    "PackCheck",
    "PackReceipt",
    "check_pack",
    "check_target",
    "write_file",
    "write_pack",
]

MANIFEST_NAME: Final = "manifest.json"
PACK_FORMAT: Final = "personakit.report-pack/1"


@frozen(kw_only=True)
class PackReceipt:
    """What :meth:`~personakit.reporting.Reports.pack` wrote, and its audit entry."""

    path: Path
    files: int
    manifest_sha256: str
    audit_seq: int

    def to_json(self) -> dict[str, Any]:
        """For the CLI."""
        return {
            "path": str(self.path),
            "files": self.files,
            "manifest_sha256": self.manifest_sha256,
            "audit_seq": self.audit_seq,
        }


@frozen(kw_only=True)
class PackCheck:
    """The result of checking a pack: every changed, missing or unlisted file."""

    ok: bool
    manifest_sha256: str | None
    recorded: bool
    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unlisted: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """For the CLI."""
        return {
            "ok": self.ok,
            "manifest_sha256": self.manifest_sha256,
            "recorded_in_audit_chain": self.recorded,
            "changed": list(self.changed),
            "missing": list(self.missing),
            "unlisted": list(self.unlisted),
        }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _path(value: object, where: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidInput("invalid path", [Problem(where=where, what="must be a path")])
    try:
        text = os.fspath(value)
        if not isinstance(text, str) or not text or "\x00" in text:
            raise TypeError  # noqa: TRY301 - one message for every kind of bad path
        text.encode("utf-8")
    except (TypeError, ValueError, UnicodeError) as exc:
        raise InvalidInput(
            "invalid path", [Problem(where=where, what="must be a non-empty path")]
        ) from exc
    return Path(text)


def check_target(value: object, where: str, *, directory: bool) -> Path:
    """``value`` as a path that does not exist, or exists empty (InvalidInput otherwise)."""
    path = _path(value, where)
    try:
        if path.is_symlink():
            raise InvalidInput(
                "output path exists", [Problem(where=where, what="is a symbolic link")]
            )
        if path.exists():
            empty = (
                path.is_dir() and not any(path.iterdir())
                if directory
                else path.is_file() and path.stat().st_size == 0
            )
            if not empty:
                raise InvalidInput(
                    "output path exists", [Problem(where=where, what="exists and is not empty")]
                )
        if not path.parent.is_dir():
            raise InvalidInput(
                "invalid output path", [Problem(where=where, what="parent directory missing")]
            )
    except OSError as exc:
        raise InvalidInput(
            "invalid output path", [Problem(where=where, what="cannot be inspected")]
        ) from exc
    return path


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling and a rename.

    The file is readable by its owner only: a consent dossier is one subject's personal data.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.partial")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_pack(
    target: Path,
    files: Callable[[], Mapping[str, str]],
    *,
    audit: AuditLog,
    head: Mapping[str, Any],
) -> PackReceipt:
    """Build the pack in a temporary sibling, add the digest manifest, rename, audit."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.partial")
    temporary.mkdir()
    moved = False
    try:
        digests = {}
        for name, text in sorted(files().items()):
            data = text.encode("utf-8")
            (temporary / name).write_bytes(data)
            digests[name] = _sha256(data)
        manifest = {**head, "format": PACK_FORMAT, "files": digests}
        manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
        (temporary / MANIFEST_NAME).write_bytes(manifest_bytes)
        if target.exists():
            target.rmdir()  # checked empty before; rmdir refuses if something appeared since
        temporary.rename(target)
        moved = True
        digest = _sha256(manifest_bytes)
        entry = audit.append(
            "report.pack", actor="reports", data={"manifest_sha256": digest, "files": len(digests)}
        )
    except BaseException:
        shutil.rmtree(target if moved else temporary, ignore_errors=True)
        raise
    return PackReceipt(path=target, files=len(digests), manifest_sha256=digest, audit_seq=entry.seq)


def check_pack(directory: object, audit: AuditLog) -> PackCheck:
    """Recompute every digest of a pack; report changed, missing and unlisted files."""
    root = _path(directory, "directory")
    try:
        manifest_bytes = (root / MANIFEST_NAME).read_bytes()
        manifest = json.loads(manifest_bytes)
        listed = manifest["files"]
        if not isinstance(listed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in listed.items()
        ):
            raise TypeError  # noqa: TRY301 - handled with the other malformed manifests below
        present = {p.name for p in root.iterdir() if p.is_file() and p.name != MANIFEST_NAME}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            "not a report pack", [Problem(where="directory", what="no readable manifest.json")]
        ) from exc
    changed, missing = [], []
    for name, digest in sorted(listed.items()):
        file = root / name
        if name not in present or file.parent != root:
            missing.append(name)
        elif _sha256(file.read_bytes()) != digest:
            changed.append(name)
    unlisted = sorted(present - set(listed))
    digest = _sha256(manifest_bytes)
    recorded = any(
        e.action == "report.pack" and e.data.get("manifest_sha256") == digest
        for e in audit.entries()
    )
    return PackCheck(
        ok=not (changed or missing or unlisted) and recorded,
        manifest_sha256=digest,
        recorded=recorded,
        changed=tuple(changed),
        missing=tuple(missing),
        unlisted=tuple(unlisted),
    )
