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

Several chains
--------------
One chain has one head, so every audited write of every process queues on it. A log may
instead have ``N`` chains (:mod:`personakit.audit._chains`; the kit uses 16 on PostgreSQL, one
on the embedded store): each writer thread appends to one chain of its own, so a transaction
takes one head however many subjects it audits; each chain has its own head (and lock), and
writers append in parallel. Every new entry of such a log names its chain and carries a
wall-clock stamp ``t`` (nanoseconds) inside its hashed body; :meth:`AuditLog.entries` merges
the chains by ``(at, t)``, streaming (a k-way merge of one paged scan per chain).
Verification checks every chain as it checks one, plus that each entry sits in the chain it
names; a checkpoint signs every chain's head at once, so a tail cut from any chain, a whole
chain deleted, or a chain rewritten is reported. Chain 0 keeps the original layout, so a log
written before chains existed verifies unchanged and simply continues as chain 0.

Audit entries are not encrypted (an auditor must be able to read them), so they must never hold
personal data: subjects appear as opaque references, never as identifiers or trait values.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final, Literal

from attrs import evolve, field, frozen

from personakit._clock import Clock
from personakit._codec import canonical_json, loads
from personakit.audit._chains import (
    CHAIN_PREFIX,
    CHAINS_KEY,
    LEGACY_ENTRIES,
    MAX_CHAINS,
    ChainPicker,
    entry_key,
    entry_prefix,
    genesis,
    head_key,
    parse_entry_key,
)
from personakit.audit._checkpoint import Checkpoint
from personakit.exceptions import AuditChainBroken, ConfigurationError
from personakit.storage import Store

__all__ = ["AuditEntry", "AuditLog", "AuditProblem", "Checkpoint", "VerifyReport"]

_GENESIS: Final = genesis(0)

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
    "wrong-chain",
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
    #: The chain the entry names (None: an entry of a one-chain log, or written before chains).
    chain: int | None = None
    #: Wall-clock nanoseconds at append, to order entries across chains (None with ``chain``).
    t: int | None = None

    def body(self) -> dict[str, Any]:
        """The hashed part of the entry, as it is canonicalised."""
        body = {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "action": self.action,
            "actor": self.actor,
            "subject": self.subject,
            "data": dict(self.data),
        }
        if self.chain is not None:
            body["chain"] = self.chain
            body["t"] = self.t
        return body

    def to_json(self) -> dict[str, Any]:
        """The entry as stored and exported."""
        return {**self.body(), "prev": self.prev, "hash": self.hash}


@frozen(kw_only=True)
class AuditProblem:
    """One finding of :meth:`AuditLog.verify`: at which sequence number, what kind, details."""

    seq: int | None
    kind: ProblemKind
    detail: str
    chain: int = 0

    def __str__(self) -> str:
        """Render as ``#seq kind: detail`` (``chain c #seq …`` beyond chain 0)."""
        where = "head" if self.seq is None else f"#{self.seq}"
        if self.chain:
            where = f"chain {self.chain} {where}"
        return f"{where} {self.kind}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        """As listed in a report (``chain`` only beyond chain 0)."""
        found: dict[str, Any] = {"seq": self.seq, "kind": self.kind, "detail": self.detail}
        if self.chain:
            found["chain"] = self.chain
        return found


@frozen(kw_only=True)
class VerifyReport:
    """Result of verifying the chain: ``ok`` is True only when no problem was found."""

    entries: int
    head_seq: int
    head_hash: str
    checkpoint_seq: int | None
    problems: tuple[AuditProblem, ...]
    #: ``(seq, hash)`` of every chain's head, chain 0 first (``head_seq``, ``head_hash``).
    heads: tuple[tuple[int, str], ...] = ()

    @property
    def ok(self) -> bool:
        """True when the chain verified."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """Machine-readable report (the CLI prints this)."""
        report: dict[str, Any] = {
            "ok": self.ok,
            "entries": self.entries,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "checkpoint_seq": self.checkpoint_seq,
            "problems": [problem.to_json() for problem in self.problems],
        }
        if len(self.heads) > 1:
            report["chains"] = [{"seq": seq, "hash": digest} for seq, digest in self.heads]
        return report

    def __str__(self) -> str:
        """One line: ok, or the problems."""
        if self.ok:
            return f"ok ({self.entries} entries, head #{self.head_seq})"
        return "; ".join(str(p) for p in self.problems)


class AuditLog:
    """Append-only, hash-chained log of every consequential change, in the data store.

    ``signer`` / ``check_signature`` MAC checkpoints (the kit passes keyring-derived ones), so a
    checkpoint file cannot be forged by someone who can write the store but holds no keys.
    ``chains`` (1 to 256) is how many chains a new log gets; a log records its count on first
    open with more than one, and that record wins over ``chains`` from then on.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        tenant: str,
        signer: Callable[[bytes], bytes],
        check_signature: Callable[[bytes, bytes], bool],
        chains: int = 1,
    ) -> None:
        """Bind the log to its store, clock and checkpoint signer; read or record ``chains``."""
        if type(chains) is not int or not 0 < chains <= MAX_CHAINS:
            raise ConfigurationError(f"audit chains must be an int from 1 to {MAX_CHAINS}")
        self.store = store
        self.clock = clock
        self.tenant = tenant
        self._sign = signer
        self._check = check_signature
        recorded = store.get(CHAINS_KEY)
        if recorded is None and chains > 1:
            with store.transaction():  # check-and-create: two first openers agree
                recorded = store.get(CHAINS_KEY)
                if recorded is None:
                    store.put(CHAINS_KEY, canonical_json({"chains": chains}))
        self.chains = chains if recorded is None else _recorded_chains(recorded)
        self._pick = ChainPicker(self.chains)

    def __repr__(self) -> str:
        """Render with the tenant."""
        return f"AuditLog(tenant={self.tenant!r})"

    def head(self) -> tuple[int, str]:
        """Chain 0's last sequence number and hash (``(0, genesis)`` when empty).

        With one chain, that is the log's head; :meth:`heads` gives every chain's.
        """
        return self._head(0)

    def heads(self) -> list[tuple[int, str]]:
        """``(seq, hash)`` of every chain's head, chain 0 first."""
        return [self._head(chain) for chain in range(self.chains)]

    def _head(self, chain: int) -> tuple[int, str]:
        raw = self.store.get(head_key(chain))
        if raw is None:
            return 0, genesis(chain)
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

        ``data`` must be JSON-serialisable and hold no personal data. With several chains the
        entry goes to this thread's chain (see :mod:`personakit.audit._chains`).
        """
        chain = self._pick()
        several = self.chains > 1
        with self.store.transaction():
            seq, prev = self._head(chain)
            entry = _make_entry(
                seq=seq + 1,
                at=self.clock.now(),
                action=action,
                actor=actor,
                subject=subject,
                data=dict(data or {}),
                prev=prev,
                chain=chain if several else None,
                t=time.time_ns() if several else None,
            )
            self.store.put(entry_key(chain, entry.seq), canonical_json(entry.to_json()))
            self.store.put(head_key(chain), canonical_json({"seq": entry.seq, "hash": entry.hash}))
        return entry

    def entries(self, *, after: int = 0) -> Iterator[AuditEntry]:
        """Yield entries in order (those with ``seq > after`` in their chain); skips malformed.

        With one chain, in sequence order. With several, the chains merged by ``(at, t)``
        (then chain and sequence): a k-way merge of one paged scan per chain, each in its
        chain's order, so memory holds a page per chain whatever the log's size. Each chain is
        appended in ``(at, t)`` order as long as its writers' clocks do not step back; if one
        did, that chain's entries still come in their chain (append) order. Only the log's own
        chains are read: an entry stored under a chain number beyond the log's count is not
        one of its entries (:meth:`verify` reports it).
        """
        if self.chains == 1:
            yield from self._chain_entries(0, after)
            return
        streams = [self._chain_entries(chain, after) for chain in range(self.chains)]
        yield from heapq.merge(*streams, key=_merge_order)

    def _chain_entries(self, chain: int, after: int) -> Iterator[AuditEntry]:
        """One chain's well-formed entries with ``seq > after``, in key (sequence) order."""
        for _, raw in self.store.scan(entry_prefix(chain)):
            entry = _parse_entry(raw)
            if entry is not None and entry.seq > after:
                yield entry

    def checkpoint(self) -> Checkpoint:
        """A signed checkpoint of every chain's head, to keep where the store's writers can't."""
        heads = self.heads()
        seq, head_hash = heads[0]
        unsigned = Checkpoint(
            tenant=self.tenant,
            seq=seq,
            hash=head_hash,
            at=self.clock.now(),
            mac="",
            heads=tuple(heads[1:]),
        )
        return Checkpoint(
            tenant=self.tenant,
            seq=seq,
            hash=head_hash,
            at=unsigned.at,
            mac=self._sign(unsigned.signed_body()).hex(),
            heads=unsigned.heads,
        )

    def verify(self, checkpoint: Checkpoint | None = None, *, strict: bool = False) -> VerifyReport:
        """Recompute every chain; report every edit, deletion, reordering and gap.

        With ``checkpoint``, also report truncation (a chain ends before the checkpoint's head
        of it, or is gone) and rewriting (the hash at the checkpoint's sequence differs).
        ``strict`` raises :class:`AuditChainBroken` instead of returning a failing report.
        """
        chains = max(self.chains, 1 + (len(checkpoint.heads) if checkpoint is not None else 0))
        # Heads are read before and after the scan: entries appended concurrently while we
        # scan are fine, a head that disagrees with its chain is not.
        before = {chain: self._head(chain)[0] for chain in range(chains)}
        grouped = self._scan_chains()
        chains = max(chains, 1 + max(grouped, default=0))
        wanted: dict[int, int] = {}
        if checkpoint is not None:
            wanted = {0: checkpoint.seq}
            wanted.update({n + 1: head[0] for n, head in enumerate(checkpoint.heads)})
        problems: list[AuditProblem] = []
        count = 0
        heads: list[tuple[int, str]] = []
        ends: dict[int, tuple[int, str | None]] = {}
        for chain in range(chains):
            walk = _Walk(chain, wanted.get(chain))
            for key_seq, raw in grouped.get(chain, []):
                walk.step(key_seq, raw)
            count += walk.count
            problems.extend(walk.problems)
            head_seq, head_hash = self._head(chain)
            heads.append((head_seq, head_hash))
            last_seq = walk.expected - 1
            head_ahead = before.get(chain, 0) > last_seq  # tail entries gone, head kept
            head_behind = head_seq < last_seq  # head rolled back under existing entries
            differs = head_seq == last_seq and not hmac.compare_digest(head_hash, walk.prev)
            if head_ahead or head_behind or differs:
                problems.append(
                    AuditProblem(
                        seq=None,
                        kind="head-mismatch",
                        detail=f"head says #{head_seq}, chain ends at #{last_seq}",
                        chain=chain,
                    )
                )
            ends[chain] = (last_seq, walk.hash_at_wanted)
        if checkpoint is not None:
            problems.extend(self._check_checkpoint(checkpoint, ends))
        report = VerifyReport(
            entries=count,
            head_seq=heads[0][0],
            head_hash=heads[0][1],
            checkpoint_seq=None if checkpoint is None else checkpoint.seq,
            problems=tuple(problems),
            heads=tuple(heads),
        )
        if strict and not report.ok:
            raise AuditChainBroken(report)
        return report

    def _scan_chains(self) -> dict[int, list[tuple[int | None, bytes]]]:
        """Every entry row, ``(seq from its key, raw)`` grouped by chain, in key order."""
        grouped: dict[int, list[tuple[int | None, bytes]]] = {}
        for prefix in (LEGACY_ENTRIES, CHAIN_PREFIX):
            for key, raw in self.store.scan(prefix):
                where = parse_entry_key(key)
                if where is not None and where[0] < MAX_CHAINS:
                    grouped.setdefault(where[0], []).append((where[1], raw))
        return grouped

    def _check_checkpoint(
        self, checkpoint: Checkpoint, ends: Mapping[int, tuple[int, str | None]]
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
        problems: list[AuditProblem] = []
        signed = [(checkpoint.seq, checkpoint.hash), *checkpoint.heads]
        for chain, (seq, digest) in enumerate(signed):
            last_seq, hash_at = ends.get(chain, (0, None))
            if seq == 0:
                continue
            if last_seq < seq or hash_at is None:
                problems.append(
                    AuditProblem(
                        seq=seq,
                        kind="truncated",
                        detail=f"checkpoint is at #{seq} but the chain ends at #{last_seq}",
                        chain=chain,
                    )
                )
            elif not hmac.compare_digest(hash_at, digest):
                problems.append(
                    AuditProblem(
                        seq=seq,
                        kind="rewritten",
                        detail="hash at the checkpoint differs: the chain was rewritten",
                        chain=chain,
                    )
                )
        return problems


class _Walk:
    """One chain's verification, entry by entry in key order."""

    def __init__(self, chain: int, wanted: int | None) -> None:
        self.chain = chain
        self.wanted = wanted  # the checkpoint's sequence number in this chain
        self.expected = 1
        self.prev = genesis(chain)
        self.count = 0
        self.hash_at_wanted: str | None = None
        self.problems: list[AuditProblem] = []

    def step(self, key_seq: int | None, raw: bytes) -> None:
        self.count += 1
        entry = _parse_entry(raw)
        if entry is None or key_seq is None:
            self.problems.append(
                AuditProblem(
                    seq=key_seq, kind="malformed", detail="unreadable entry", chain=self.chain
                )
            )
            return
        found = _check_entry(key_seq, entry, self.expected, self.prev)
        # An entry of a log with several chains names its chain; one without a name belongs to
        # chain 0 (written by a one-chain log). Moved anywhere else, it is reported.
        if (entry.chain if entry.chain is not None else 0) != self.chain:
            found.append(
                AuditProblem(
                    seq=key_seq,
                    kind="wrong-chain",
                    detail=f"stored in chain {self.chain} but names chain {entry.chain or 0}",
                )
            )
        self.problems.extend(evolve(problem, chain=self.chain) for problem in found)
        if key_seq == self.wanted:
            self.hash_at_wanted = entry.hash
        self.prev = entry.hash
        self.expected = key_seq + 1


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


def _recorded_chains(raw: bytes) -> int:
    try:
        chains = loads(raw)["chains"]
    except (ValueError, KeyError, TypeError):
        chains = None
    if type(chains) is not int or not 0 < chains <= MAX_CHAINS:
        raise ConfigurationError("the audit log's chain count record is unreadable")
    return chains


def _chain_hash(prev: str, body: Mapping[str, Any]) -> str:
    try:
        prev_bytes = bytes.fromhex(prev)
    except ValueError:
        prev_bytes = b""
    return hashlib.sha256(prev_bytes + canonical_json(body)).hexdigest()


def _merge_order(entry: AuditEntry) -> tuple[datetime, int, int, int]:
    """Where an entry falls when chains are merged: by time, then chain and sequence."""
    return (entry.at, entry.t or 0, entry.chain or 0, entry.seq)


def _make_entry(
    *,
    seq: int,
    at: datetime,
    action: str,
    actor: str,
    subject: str | None,
    data: dict[str, Any],
    prev: str,
    chain: int | None,
    t: int | None,
) -> AuditEntry:
    draft = AuditEntry(
        seq=seq,
        at=at,
        action=action,
        actor=actor,
        subject=subject,
        data=data,
        prev=prev,
        hash="",
        chain=chain,
        t=t,
    )
    return evolve(draft, hash=_chain_hash(prev, draft.body()))


def _parse_entry(raw: bytes) -> AuditEntry | None:
    try:
        doc = loads(raw)
        chain, t = doc.get("chain"), doc.get("t")
        if chain is not None and (type(chain) is not int or (t is not None and type(t) is not int)):
            return None
        return AuditEntry(
            seq=int(doc["seq"]),
            at=datetime.fromisoformat(doc["at"]),
            action=str(doc["action"]),
            actor=str(doc["actor"]),
            subject=doc["subject"],
            data=doc["data"],
            prev=str(doc["prev"]),
            hash=str(doc["hash"]),
            chain=chain,
            t=t if chain is not None else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
