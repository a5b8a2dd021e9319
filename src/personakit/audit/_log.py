"""The hash-chained audit log.

Entry ``i`` stores ``h_i = SHA256(h_{i-1} || canonical_json(entry_i))`` with ``h_0`` = 32 zero
bytes. Entries live in the data store under ``a/e/<seq>`` and the head under ``a/head``; an
entry is appended inside the caller's transaction, so it commits or rolls back with the change
it records.

A chain alone cannot show that its *tail* was cut off, or that someone with write access
recomputed every hash after an edit. A checkpoint (the head's sequence and hash, MAC-signed,
kept outside the store) closes both gaps: :meth:`AuditLog.verify` with a checkpoint reports a
chain shorter than the checkpoint (truncation) and a different hash at the checkpoint's
sequence (rewrite).

Audit entries are not encrypted (an auditor must be able to read them), so they must never hold
personal data: subjects appear as opaque references, never as identifiers or trait values.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final, Literal

from attrs import field, frozen

from personakit._clock import Clock
from personakit._codec import canonical_json, loads
from personakit.exceptions import AuditChainBroken, InvalidInput, Problem
from personakit.storage import Store

__all__ = ["AuditEntry", "AuditLog", "AuditProblem", "Checkpoint", "VerifyReport"]

_HEAD: Final = "a/head"
_ENTRY_PREFIX: Final = "a/e/"
_GENESIS: Final = "00" * 32
_SEQ_WIDTH: Final = 16

ProblemKind = Literal[
    "malformed",
    "misnumbered",
    "gap",
    "edited",
    "broken-link",
    "head-mismatch",
    "truncated",
    "rewritten",
    "checkpoint-invalid",
]


@frozen(kw_only=True)
class AuditEntry:
    """One entry of the audit log."""

    seq: int
    at: datetime
    action: str
    actor: str
    subject: str | None
    data: Mapping[str, Any] = field(factory=dict)
    prev: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The hashed part of the entry, as it is canonicalised."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "action": self.action,
            "actor": self.actor,
            "subject": self.subject,
            "data": dict(self.data),
        }

    def to_json(self) -> dict[str, Any]:
        """The entry as stored and exported."""
        return {**self.body(), "prev": self.prev, "hash": self.hash}


@frozen(kw_only=True)
class AuditProblem:
    """One finding of :meth:`AuditLog.verify`: at which sequence number, what kind, details."""

    seq: int | None
    kind: ProblemKind
    detail: str

    def __str__(self) -> str:
        """Render as ``#seq kind: detail``."""
        where = "head" if self.seq is None else f"#{self.seq}"
        return f"{where} {self.kind}: {self.detail}"


@frozen(kw_only=True)
class VerifyReport:
    """Result of verifying the chain: ``ok`` is True only when no problem was found."""

    entries: int
    head_seq: int
    head_hash: str
    checkpoint_seq: int | None
    problems: tuple[AuditProblem, ...]

    @property
    def ok(self) -> bool:
        """True when the chain verified."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """Machine-readable report (the CLI prints this)."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "checkpoint_seq": self.checkpoint_seq,
            "problems": [{"seq": p.seq, "kind": p.kind, "detail": p.detail} for p in self.problems],
        }

    def __str__(self) -> str:
        """One line: ok, or the problems."""
        if self.ok:
            return f"ok ({self.entries} entries, head #{self.head_seq})"
        return "; ".join(str(p) for p in self.problems)


@frozen(kw_only=True)
class Checkpoint:
    """A signed statement of the chain head at some point: keep it outside the store."""

    tenant: str
    seq: int
    hash: str
    at: datetime
    mac: str

    def signed_body(self) -> bytes:
        """The bytes the MAC covers."""
        return canonical_json(
            {"tenant": self.tenant, "seq": self.seq, "hash": self.hash, "at": self.at.isoformat()}
        )

    def to_json(self) -> dict[str, Any]:
        """The checkpoint as written to a file."""
        return {
            "tenant": self.tenant,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at.isoformat(),
            "mac": self.mac,
        }

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """Parse a checkpoint file's JSON; :class:`InvalidInput` names every bad field."""
        problems: list[Problem] = []
        if not isinstance(data, dict):
            raise InvalidInput("invalid checkpoint", [Problem(where="$", what="not an object")])
        for name, kind in (("tenant", str), ("seq", int), ("hash", str), ("at", str), ("mac", str)):
            if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
                problems.append(
                    Problem(where=f"$.{name}", what=f"missing or not a {kind.__name__}")
                )
        at: datetime | None = None
        if isinstance(data.get("at"), str):
            try:
                at = datetime.fromisoformat(data["at"])
            except ValueError:
                problems.append(Problem(where="$.at", what="not an ISO 8601 timestamp"))
        if problems or at is None:
            raise InvalidInput("invalid checkpoint", problems)
        return cls(
            tenant=data["tenant"], seq=data["seq"], hash=data["hash"], at=at, mac=data["mac"]
        )


class AuditLog:
    """Append-only, hash-chained log of every consequential change, in the data store.

    ``signer`` / ``check_signature`` MAC checkpoints (the kit passes keyring-derived ones), so a
    checkpoint file cannot be forged by someone who can write the store but holds no keys.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        tenant: str,
        signer: Callable[[bytes], bytes],
        check_signature: Callable[[bytes, bytes], bool],
    ) -> None:
        """Bind the log to its store, clock and checkpoint signer."""
        self.store = store
        self.clock = clock
        self.tenant = tenant
        self._sign = signer
        self._check = check_signature

    def __repr__(self) -> str:
        """Render with the tenant."""
        return f"AuditLog(tenant={self.tenant!r})"

    def head(self) -> tuple[int, str]:
        """The sequence number and hash of the last entry (``(0, genesis)`` when empty)."""
        raw = self.store.get(_HEAD)
        if raw is None:
            return 0, _GENESIS
        head = loads(raw)
        return int(head["seq"]), str(head["hash"])

    def append(
        self,
        action: str,
        *,
        subject: str | None = None,
        actor: str = "system",
        data: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append an entry; call it inside the transaction of the change it records.

        ``data`` must be JSON-serialisable and hold no personal data.
        """
        with self.store.transaction():
            seq, prev = self.head()
            entry = _make_entry(
                seq=seq + 1,
                at=self.clock.now(),
                action=action,
                actor=actor,
                subject=subject,
                data=dict(data or {}),
                prev=prev,
            )
            self.store.put(_entry_key(entry.seq), canonical_json(entry.to_json()))
            self.store.put(_HEAD, canonical_json({"seq": entry.seq, "hash": entry.hash}))
        return entry

    def entries(self, *, after: int = 0) -> Iterator[AuditEntry]:
        """Yield entries in sequence order (those with ``seq > after``); skips malformed ones."""
        for _, raw in self.store.scan(_ENTRY_PREFIX):
            entry = _parse_entry(raw)
            if entry is not None and entry.seq > after:
                yield entry

    def checkpoint(self) -> Checkpoint:
        """A signed checkpoint of the current head, to store somewhere the store's writers can't."""
        seq, head_hash = self.head()
        unsigned = Checkpoint(
            tenant=self.tenant, seq=seq, hash=head_hash, at=self.clock.now(), mac=""
        )
        return Checkpoint(
            tenant=self.tenant,
            seq=seq,
            hash=head_hash,
            at=unsigned.at,
            mac=self._sign(unsigned.signed_body()).hex(),
        )

    def verify(self, checkpoint: Checkpoint | None = None, *, strict: bool = False) -> VerifyReport:
        """Recompute the whole chain; report every edit, deletion, reordering and gap.

        With ``checkpoint``, also report truncation (the chain ends before the checkpoint) and
        rewriting (the hash at the checkpoint's sequence differs). ``strict`` raises
        :class:`AuditChainBroken` instead of returning a failing report.
        """
        # The head is read before and after the scan: entries appended concurrently while we
        # scan are fine, a head that disagrees with the chain is not.
        head_before, _ = self.head()
        problems: list[AuditProblem] = []
        expected_seq = 1
        prev = _GENESIS
        count = 0
        checkpoint_hash: str | None = None
        for key, raw in self.store.scan(_ENTRY_PREFIX):
            count += 1
            key_seq = _seq_of_key(key)
            entry = _parse_entry(raw)
            if entry is None or key_seq is None:
                problems.append(
                    AuditProblem(seq=key_seq, kind="malformed", detail="unreadable entry")
                )
                continue
            problems.extend(_check_entry(key_seq, entry, expected_seq, prev))
            if checkpoint is not None and key_seq == checkpoint.seq:
                checkpoint_hash = entry.hash
            prev = entry.hash
            expected_seq = key_seq + 1
        head_seq, head_hash = self.head()
        last_seq = expected_seq - 1
        head_ahead = head_before > last_seq  # entries missing at the end, head not updated
        head_behind = head_seq < last_seq  # head rolled back under existing entries
        head_differs = head_seq == last_seq and not hmac.compare_digest(head_hash, prev)
        if head_ahead or head_behind or head_differs:
            problems.append(
                AuditProblem(
                    seq=None,
                    kind="head-mismatch",
                    detail=f"head says #{head_seq}, chain ends at #{last_seq}",
                )
            )
        if checkpoint is not None:
            problems.extend(self._check_checkpoint(checkpoint, last_seq, checkpoint_hash))
        report = VerifyReport(
            entries=count,
            head_seq=head_seq,
            head_hash=head_hash,
            checkpoint_seq=None if checkpoint is None else checkpoint.seq,
            problems=tuple(problems),
        )
        if strict and not report.ok:
            raise AuditChainBroken(report)
        return report

    def _check_checkpoint(
        self, checkpoint: Checkpoint, last_seq: int, hash_at_checkpoint: str | None
    ) -> list[AuditProblem]:
        try:
            mac = bytes.fromhex(checkpoint.mac)
        except ValueError:
            mac = b""
        if checkpoint.tenant != self.tenant or not self._check(checkpoint.signed_body(), mac):
            return [
                AuditProblem(
                    seq=checkpoint.seq,
                    kind="checkpoint-invalid",
                    detail="checkpoint signature does not verify for this keyring and tenant",
                )
            ]
        if checkpoint.seq == 0:
            return []
        if last_seq < checkpoint.seq or hash_at_checkpoint is None:
            return [
                AuditProblem(
                    seq=checkpoint.seq,
                    kind="truncated",
                    detail=f"checkpoint is at #{checkpoint.seq} but the chain ends at #{last_seq}",
                )
            ]
        if not hmac.compare_digest(hash_at_checkpoint, checkpoint.hash):
            return [
                AuditProblem(
                    seq=checkpoint.seq,
                    kind="rewritten",
                    detail="hash at the checkpoint differs: the chain was rewritten",
                )
            ]
        return []


def _check_entry(
    key_seq: int, entry: AuditEntry, expected_seq: int, prev: str
) -> list[AuditProblem]:
    problems: list[AuditProblem] = []
    if entry.seq != key_seq:
        problems.append(
            AuditProblem(
                seq=key_seq,
                kind="misnumbered",
                detail=f"stored at #{key_seq} but says #{entry.seq} (reordered?)",
            )
        )
    if key_seq != expected_seq:
        problems.append(
            AuditProblem(
                seq=key_seq, kind="gap", detail=f"expected #{expected_seq} (entries deleted?)"
            )
        )
    if not hmac.compare_digest(_chain_hash(entry.prev, entry.body()), entry.hash):
        problems.append(
            AuditProblem(seq=key_seq, kind="edited", detail="hash does not match content")
        )
    if not hmac.compare_digest(entry.prev, prev):
        problems.append(
            AuditProblem(
                seq=key_seq, kind="broken-link", detail="does not chain to the previous entry"
            )
        )
    return problems


def _entry_key(seq: int) -> str:
    return f"{_ENTRY_PREFIX}{seq:0{_SEQ_WIDTH}d}"


def _seq_of_key(key: str) -> int | None:
    tail = key[len(_ENTRY_PREFIX) :]
    return int(tail) if tail.isdigit() and len(tail) == _SEQ_WIDTH else None


def _chain_hash(prev: str, body: Mapping[str, Any]) -> str:
    try:
        prev_bytes = bytes.fromhex(prev)
    except ValueError:
        prev_bytes = b""
    return hashlib.sha256(prev_bytes + canonical_json(body)).hexdigest()


def _make_entry(
    *,
    seq: int,
    at: datetime,
    action: str,
    actor: str,
    subject: str | None,
    data: dict[str, Any],
    prev: str,
) -> AuditEntry:
    draft = AuditEntry(
        seq=seq, at=at, action=action, actor=actor, subject=subject, data=data, prev=prev, hash=""
    )
    return AuditEntry(
        seq=seq,
        at=at,
        action=action,
        actor=actor,
        subject=subject,
        data=data,
        prev=prev,
        hash=_chain_hash(prev, draft.body()),
    )


def _parse_entry(raw: bytes) -> AuditEntry | None:
    try:
        doc = loads(raw)
        return AuditEntry(
            seq=int(doc["seq"]),
            at=datetime.fromisoformat(doc["at"]),
            action=str(doc["action"]),
            actor=str(doc["actor"]),
            subject=doc["subject"],
            data=doc["data"],
            prev=str(doc["prev"]),
            hash=str(doc["hash"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
