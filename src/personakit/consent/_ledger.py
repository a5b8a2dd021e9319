"""The consent ledger transaction: append records, update the compact state, audit.

Storage, per subject, all sealed with the subject's data key through the vault:

* ``consent/<seq:010d>.<record id>``: the append-only ledger, one JSON record per decision;
  the zero-padded sequence number makes a scan return records in the order they were appended.
* ``consent-state/<purpose>``: the compact state of the deciding record (see ``_state``),
  rewritten in the same transaction as every append.
* ``consent-head/ledger``: the last sequence number used, and the digests of the last TC
  strings applied with the time each was first applied (``tcf``), so a string re-sent with
  every request keeps the date of the act it records (see ``_signals``).

A change is a *plan*: a function from a :class:`Transaction` to the drafts to append and the
purposes left unchanged. :meth:`Ledger.run` runs it, first read-only (most signals change
nothing, and should not take the store's write lock), then inside a store transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from attrs import define, field, frozen

from personakit._clock import Clock
from personakit._codec import canonical_json, loads
from personakit._ids import new_id
from personakit._vault import Vault
from personakit.audit import AuditLog
from personakit.consent._cascade import CascadeRegistry
from personakit.consent._context import ConsentContext
from personakit.consent._manifest import LawfulBasis, Manifest, Notice, Purpose
from personakit.consent._records import (
    NEGATIVE_STATUSES,
    Conflict,
    ConsentReceipt,
    ConsentRecord,
    Status,
    from_micros,
    to_micros,
)
from personakit.consent._state import (
    STATE_KIND,
    PurposeState,
    decode_state,
    restriction_exists,
)
from personakit.exceptions import SubjectNotFound
from personakit.storage import Store

__all__ = [
    "LEDGER_KIND",
    "Draft",
    "Ledger",
    "Plan",
    "Transaction",
    "current_notice_fields",
    "drafts_or_unchanged",
    "make_draft",
    "notice_fields",
]

LEDGER_KIND: Final = "consent"
HEAD_KIND: Final = "consent-head"
HEAD_NAME: Final = "ledger"
# How many TC string digests the head remembers. A person's browsers each keep their own
# string; a handful covers every device of one person, and the bound keeps the head small.
SEEN_SIGNALS: Final = 16


@frozen(kw_only=True)
class Draft:
    """A record about to be appended (the ledger fills in id, seq, supersedes, timestamps)."""

    purpose: str
    status: Status
    lawful_basis: LawfulBasis
    notice_id: str | None
    notice_version: str | None
    notice_language: str | None
    notice_sha256: str | None
    source: str
    method: str
    jurisdiction: str | None
    occurred_at: datetime | None = None  # None: now (a live decision)
    expires_at: datetime | None = None  # None on a grant: occurred_at + maximum age
    conflict: Conflict | None = None
    gpc_confirmed: bool = False
    evidence: Mapping[str, Any] | None = None
    origin: str | None = None


def make_draft(
    purpose: Purpose,
    status: Status,
    context: ConsentContext,
    notice: Mapping[str, Any],
    *,
    occurred_at: datetime | None = None,
    conflict: Conflict | None = None,
    gpc_confirmed: bool = False,
    evidence: Mapping[str, Any] | None = None,
) -> Draft:
    """A draft for ``purpose`` made in ``context``, with the four ``notice`` fields."""
    return Draft(
        purpose=purpose.id,
        status=status,
        lawful_basis=purpose.lawful_basis,
        **notice,
        source=context.source,
        method=context.method,
        jurisdiction=context.jurisdiction,
        occurred_at=occurred_at,
        conflict=conflict,
        gpc_confirmed=gpc_confirmed,
        evidence=evidence,
    )


def notice_fields(notice: Notice | None) -> dict[str, Any]:
    """The four notice fields of a draft, for ``notice`` (None: no notice)."""
    return {
        "notice_id": None if notice is None else notice.id,
        "notice_version": None if notice is None else notice.version,
        "notice_language": None if notice is None else notice.language,
        "notice_sha256": None if notice is None else notice.text_sha256,
    }


def current_notice_fields(
    manifest: Manifest, purpose: Purpose, language: str | None = None
) -> dict[str, Any]:
    """The notice fields of ``purpose``'s current notice version (in ``language`` if listed)."""
    if purpose.notice is None:
        return notice_fields(None)
    version = manifest.current_notice_version(purpose.notice)
    listed = [n for n in manifest.notice_versions(purpose.notice) if n.version == version]
    preferred = [n for n in listed if n.language == language]
    return notice_fields((preferred or listed)[0])


@define(kw_only=True, repr=False)
class Ledger:
    """Reads and changes the consent ledgers of one kit (wired as :class:`ConsentManager` is)."""

    store: Store
    vault: Vault
    audit: AuditLog
    clock: Clock
    manifest: Manifest
    cascade: CascadeRegistry
    subject_ref: Callable[[str], str]
    # Re-checked inside every append's transaction (under the subject's lock on PostgreSQL):
    # an erasure that committed after the caller's up-front check must win, or the append
    # would bring records of the erased subject back.
    subject_exists: Callable[[str], bool] | None = None
    storage_locations: tuple[str, ...] = field(init=False)
    withdrawal_method: str = field(init=False)

    def __attrs_post_init__(self) -> None:
        """Derive what receipts say about where records are kept and how to withdraw."""
        manifest = self.manifest
        self.storage_locations = manifest.storage_locations or (
            f"personakit consent ledger ({_store_kind(self.store)} store)",
        )
        self.withdrawal_method = manifest.withdrawal_method or (
            "Withdraw at any time, as easily as you gave consent: in your privacy settings, "
            f"or by writing to {manifest.controller.contact}."
        )

    def records(self, subject: str) -> list[ConsentRecord]:
        """The subject's ledger records, in append order."""
        return [
            ConsentRecord.from_json(loads(raw))
            for _, _, raw in self.vault.scan(subject, LEDGER_KIND)
        ]

    def record(self, subject: str, name: str) -> ConsentRecord | None:
        """The ledger record stored under ``name``, or None."""
        doc = self.vault.get_json(subject, LEDGER_KIND, name)
        return None if doc is None else ConsentRecord.from_json(doc)

    def seen_signals(self, subject: str) -> list[tuple[str, int]]:
        """The TC string digests applied to ``subject`` and their dates (µs), oldest first."""
        head = self.vault.get_json(subject, HEAD_KIND, HEAD_NAME)
        pairs = head.get("tcf", []) if isinstance(head, dict) else []
        return [(str(digest), int(at)) for digest, at in pairs]

    def state(self, subject: str, purpose: str) -> tuple[PurposeState | None, bool]:
        """The compact state of a purpose (None: no decision) and whether it is restricted."""
        return decode_state(self.vault.get(subject, STATE_KIND, purpose))

    # The four ways a Transaction reaches the store, so that bulk ingest's ledger
    # (``_bulk.BatchLedger``) can keep a batch's writes per subject and write them at once.

    def raw_many(self, records: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], bytes]:
        """Several sealed records opened, in one store read (the guards' compact states)."""
        return self.vault.get_many(records)

    def read_head(self, subject: str) -> dict[str, Any]:
        """The ledger head of ``subject`` as stored (``{"seq": 0}`` before the first record)."""
        doc = self.vault.get_json(subject, HEAD_KIND, HEAD_NAME)
        return dict(doc) if isinstance(doc, dict) else {"seq": 0}

    def restricted(self, subject: str) -> bool:
        """Whether the subject's processing is restricted (the restriction record exists)."""
        return restriction_exists(self.store, subject)

    def write(self, subject: str, kind: str, name: str, plaintext: bytes) -> None:
        """Seal and store one of the ledger's records (a decision, a compact state, the head)."""
        self.vault.put(subject, kind, name, plaintext)

    def run(
        self,
        subject: str,
        action: str,
        actor: str,
        plan: Plan,
        *,
        gate: bool = True,
        audit_extra: Mapping[str, Any] | None = None,
    ) -> ConsentReceipt:
        """Append what ``plan`` drafts, in one store transaction, and return the receipt.

        With ``gate``, a read-only pass first: nothing is locked if it drafts nothing.
        """
        if gate:
            # Signals repeat on every request, and most change nothing, so they should not
            # take the store's write lock.
            probe = Transaction(self, subject, actor)
            drafts, unchanged = plan(probe)
            if not drafts and not probe.head_changed:
                return self.empty_receipt(subject, action, unchanged)
        with self.store.transaction():
            if self.subject_exists is not None and not self.subject_exists(subject):
                raise SubjectNotFound("subject")
            transaction = Transaction(self, subject, actor)
            drafts, unchanged = plan(transaction)
            for draft in drafts:
                transaction.append(draft)
            return transaction.commit(action, unchanged, audit_extra or {})

    def empty_receipt(self, subject: str, action: str, unchanged: list[str]) -> ConsentReceipt:
        """A receipt for a change that recorded nothing."""
        return ConsentReceipt(
            receipt_id=new_id("rc_"),
            action=action,
            issued_at=self.clock.now(),
            controller=self.manifest.controller,
            subject=subject,
            subject_ref=self.subject_ref(subject),
            manifest_sha256=self.manifest.sha256,
            records=(),
            purposes=(),
            unchanged=tuple(unchanged),
            storage_locations=self.storage_locations,
            withdrawal_method=self.withdrawal_method,
        )


def _store_kind(store: Store) -> str:
    """``memory``, ``disk``, ``postgresql`` or the class name of another store."""
    name = type(store).__name__
    known = {"MemoryStore": "memory", "DiskStore": "disk", "PostgresStore": "postgresql"}
    return known.get(name, name)


class Transaction:
    """One change to one subject's ledger: reads see its own appends; commit writes the rest."""

    def __init__(self, ledger: Ledger, subject: str, actor: str) -> None:
        """Start a change to ``subject``'s ledger by ``actor``."""
        self.ledger = ledger
        self.manifest = ledger.manifest
        self.subject = subject
        self.actor = actor
        self.now = ledger.clock.now()
        self.now_us = to_micros(self.now)
        self.receipt_id = new_id("rc_")
        self.records: list[ConsentRecord] = []
        self.deleted: dict[str, dict[str, int]] = {}
        self._states: dict[str, PurposeState | None] = {}
        self._head: dict[str, Any] | None = None
        self._seq: int | None = None
        self._restricted: bool | None = None
        self.head_changed = False

    def restricted(self) -> bool:
        """Whether the subject is restricted: every compact state written keeps the flag."""
        if self._restricted is None:
            self._restricted = self.ledger.restricted(self.subject)
        return self._restricted

    def current(self, purpose: str) -> PurposeState | None:
        """The deciding state of ``purpose``, including this change's appends."""
        if purpose not in self._states:
            self._states[purpose] = self.ledger.state(self.subject, purpose)[0]
        return self._states[purpose]

    def beats(self, purpose: str, when: datetime, *, negative: bool) -> bool:
        """Whether a record dated ``when`` would decide ``purpose``."""
        current = self.current(purpose)
        return current is None or current.ranked_below(to_micros(when), negative=negative)

    def notice_of(self, state: PurposeState) -> dict[str, Any]:
        """The notice fields of the ledger record behind ``state``."""
        record = self.ledger.record(self.subject, state.name)
        if record is None:
            return notice_fields(None)
        return {
            "notice_id": record.notice_id,
            "notice_version": record.notice_version,
            "notice_language": record.notice_language,
            "notice_sha256": record.notice_sha256,
        }

    def copied_origins(self) -> set[str]:
        """Ids of the records in this ledger and of the records they were copied from."""
        seen: set[str] = set()
        for record in self.ledger.records(self.subject):
            seen.add(record.id)
            if record.origin is not None:
                seen.add(record.origin)
        return seen

    def head(self) -> dict[str, Any]:
        """The ledger head as stored (``seq``, and ``tcf``: ``[digest, µs]`` pairs)."""
        if self._head is None:
            self._head = self.ledger.read_head(self.subject)
        return self._head

    def seen_signal(self, digest: str) -> int | None:
        """When (µs) the TC string with SHA-256 ``digest`` was first applied, or None."""
        for seen, at in self.head().get("tcf", []):
            if seen == digest:
                return int(at)
        return None

    def note_signal(self, digest: str, at_us: int) -> None:
        """Remember that TC string ``digest`` was applied, dated ``at_us`` (written at commit)."""
        if self.seen_signal(digest) is not None:
            return
        head = self.head()
        head["tcf"] = [*head.get("tcf", []), [digest, at_us]][-SEEN_SIGNALS:]
        self.head_changed = True

    def latest(self, purposes: list[str]) -> int | None:
        """The latest ``occurred`` (µs) among the deciding records of ``purposes`` (None: none)."""
        times = [state.occurred for p in purposes if (state := self.current(p)) is not None]
        return max(times, default=None)

    def _next_seq(self) -> int:
        if self._seq is None:
            self._seq = int(self.head()["seq"])
        self._seq += 1
        return self._seq

    def append(self, draft: Draft) -> ConsentRecord:
        """Append ``draft``; if it decides its purpose, rewrite the state and cascade."""
        manifest = self.manifest
        current = self.current(draft.purpose)
        negative = draft.status in NEGATIVE_STATUSES
        if draft.occurred_at is None:
            occurred_us = self.now_us
            if current is not None:
                occurred_us = max(occurred_us, current.occurred + 1)
        else:
            occurred_us = to_micros(draft.occurred_at)
        decides = current is None or current.ranked_below(occurred_us, negative=negative)
        occurred = from_micros(occurred_us)
        expires = draft.expires_at
        if draft.status == "given" and expires is None:
            purpose = manifest.get_purpose(draft.purpose)
            age = manifest.max_consent_age if purpose is None else purpose.max_consent_age
            expires = occurred + age
        record = ConsentRecord(
            id=new_id("cr_"),
            seq=self._next_seq(),
            purpose=draft.purpose,
            status=draft.status,
            lawful_basis=draft.lawful_basis,
            notice_id=draft.notice_id,
            notice_version=draft.notice_version,
            notice_language=draft.notice_language,
            notice_sha256=draft.notice_sha256,
            source=draft.source,
            method=draft.method,
            jurisdiction=draft.jurisdiction,
            occurred_at=occurred,
            recorded_at=self.now,
            expires_at=expires,
            supersedes=current.record_id if decides and current is not None else None,
            receipt_id=self.receipt_id,
            manifest_sha256=manifest.sha256,
            actor=self.actor,
            origin=draft.origin,
            conflict=draft.conflict,
            gpc_confirmed=draft.gpc_confirmed,
            evidence=dict(draft.evidence or {}),
        )
        write = self.ledger.write
        write(self.subject, LEDGER_KIND, record.name, canonical_json(record.to_json()))
        if decides:
            state = PurposeState(
                status=record.status,
                occurred=occurred_us,
                expires=None if expires is None else to_micros(expires),
                notice=record.notice_id,
                version=record.notice_version,
                name=record.name,
                method=record.method,
                confirmed=record.gpc_confirmed,
            )
            self._states[draft.purpose] = state
            raw = state.to_bytes(restricted=self.restricted())
            write(self.subject, STATE_KIND, draft.purpose, raw)
            if negative:
                done = self.ledger.cascade.run(draft.purpose, self.subject)
                if done:
                    merged = self.deleted.setdefault(draft.purpose, {})
                    for name, count in done.items():
                        merged[name] = merged.get(name, 0) + count
        self.records.append(record)
        return record

    def commit(
        self, action: str, unchanged: list[str], audit_extra: Mapping[str, Any]
    ) -> ConsentReceipt:
        """Write the head and the audit entry, and return the receipt."""
        ledger = self.ledger
        if self._seq is not None or self.head_changed:
            head = self.head()
            if self._seq is not None:
                head["seq"] = self._seq
            ledger.write(self.subject, HEAD_KIND, HEAD_NAME, canonical_json(head))
        records = self.records
        subject_ref = ledger.subject_ref(self.subject)  # a keyed MAC: computed once
        if records:
            ledger.audit.append(
                f"consent.{action}",
                subject=subject_ref,
                actor=self.actor,
                data={
                    **audit_extra,
                    "receipt": self.receipt_id,
                    "records": [
                        {
                            "id": r.id,
                            "purpose": r.purpose,
                            "status": r.status,
                            "notice": r.notice_id,
                            "notice_version": r.notice_version,
                            "source": r.source,
                            "method": r.method,
                            "jurisdiction": r.jurisdiction,
                            "supersedes": r.supersedes,
                            "origin": r.origin,
                            "conflict": None if r.conflict is None else r.conflict.to_json(),
                        }
                        for r in records
                    ],
                    "unchanged": unchanged,
                    "deleted": self.deleted,
                },
            )
        involved = {r.purpose for r in records}
        return ConsentReceipt(
            receipt_id=self.receipt_id,
            action=action,
            issued_at=self.now,
            controller=ledger.manifest.controller,
            subject=self.subject,
            subject_ref=subject_ref,
            manifest_sha256=ledger.manifest.sha256,
            records=tuple(records),
            purposes=tuple(p for p in ledger.manifest.purposes if p.id in involved),
            unchanged=tuple(unchanged),
            deleted=self.deleted,
            storage_locations=ledger.storage_locations,
            withdrawal_method=ledger.withdrawal_method,
        )


Plan = Callable[[Transaction], tuple[list[Draft], list[str]]]


def drafts_or_unchanged(
    purposes: Iterable[Purpose], draft_for: Callable[[Purpose], Draft | None]
) -> tuple[list[Draft], list[str]]:
    """What a :data:`Plan` returns: each purpose's draft, and the ids of those that need none."""
    drafts: list[Draft] = []
    unchanged: list[str] = []
    for purpose in purposes:
        draft = draft_for(purpose)
        if draft is None:
            unchanged.append(purpose.id)
        else:
            drafts.append(draft)
    return drafts, unchanged
