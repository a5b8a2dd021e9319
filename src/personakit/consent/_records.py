"""Value objects of the consent ledger: records, derived states, receipts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

from attrs import field, frozen

from personakit._clock import from_micros, to_micros
from personakit.consent._manifest import Controller, LawfulBasis, Purpose

__all__ = [
    "IMPLIED_METHODS",
    "NEGATIVE_STATUSES",
    "RECEIPT_SCHEMA_VERSION",
    "SOURCES",
    "STATUSES",
    "Conflict",
    "ConsentReceipt",
    "ConsentRecord",
    "ConsentState",
    "EventType",
    "StateName",
    "Status",
    "from_micros",
    "to_micros",
]

Status = Literal["given", "refused", "withdrawn", "expired", "objected", "objection_lifted"]

#: Every status a ledger record can have. The first four apply to consent purposes; the last
#: two record an objection (GDPR Art. 21) to a legitimate-interest purpose and its lifting.
STATUSES: Final[tuple[Status, ...]] = (
    "given",
    "refused",
    "withdrawn",
    "expired",
    "objected",
    "objection_lifted",
)

#: Statuses that deny processing. At equal ``occurred_at`` they beat a grant.
NEGATIVE_STATUSES: Final = frozenset({"refused", "withdrawn", "expired", "objected"})

#: Where a decision was expressed.
SOURCES: Final = ("web", "checkout", "store", "email_link", "api", "gpc", "tcf", "import")

#: The receipt format, after ISO/IEC TS 27560:2023 (consent record information structure).
#: Version 2 added storage locations, the withdrawal method and each entry's event type, and
#: shows ``notice`` as null where none was shown. Ledger records are unchanged.
RECEIPT_SCHEMA_VERSION: Final = "personakit.consent-receipt/2 (ISO/IEC TS 27560:2023)"

EventType = Literal["explicit", "implied"]

#: Methods whose records no act of the person on a presented choice made: a browser-wide GPC
#: setting applied by the site, and an expiry derived from time.
IMPLIED_METHODS: Final = frozenset({"gpc", "expiry"})


@frozen(kw_only=True)
class Conflict:
    """A signal that contradicted an explicit earlier choice, and how it was resolved.

    Attributes:
        kind: What conflicted (``gpc_vs_opt_in``: a GPC opt-out against an explicit opt-in).
        with_record: Id of the record the signal contradicted.
        resolution: What personakit did (``opt_out_honoured``).
    """

    kind: str
    with_record: str
    resolution: str

    def to_json(self) -> dict[str, str]:
        """As stored in the ledger and shown in receipts."""
        return {"kind": self.kind, "with_record": self.with_record, "resolution": self.resolution}


@frozen(kw_only=True)
class ConsentRecord:
    """One append-only ledger entry: a decision about one purpose, with its proof.

    Attributes:
        id: Unique record id (``cr_…``).
        seq: Position in the subject's ledger (1, 2, …): the order records were appended.
        purpose: The purpose decided on.
        status: What was decided.
        lawful_basis: The purpose's lawful basis when the record was made.
        notice_id: The notice shown (or governing, for withdrawals and expiries).
        notice_version: Its version.
        notice_language: The language of the text shown.
        notice_sha256: SHA-256 of the notice text shown.
        source: Where the decision was expressed (see :data:`SOURCES`).
        method: How (``explicit``, ``gpc``, ``tcf``, ``cli``, ``double_opt_in``, …).
        jurisdiction: Legal regime, e.g. ``EU``, ``US-CA``; None if unknown.
        occurred_at: When the decision was made.
        recorded_at: When personakit appended the record.
        expires_at: For grants, when they lapse (the manifest may shorten it later).
        supersedes: Id of the deciding record this one replaced, if it replaced one.
        receipt_id: The receipt issued for the change that wrote this record.
        manifest_sha256: Digest of the manifest in force.
        actor: Who recorded it (``system``, ``cli``, an operator id — never a subject id).
        origin: For a record copied by a merge, the id of the record it copies.
        conflict: A conflict this record resolved, if any.
        gpc_confirmed: On a grant of a GPC opt-out purpose: the subject confirmed the opt-in
            after being told about the conflict with their GPC signal.
        evidence: Extra proof (TCF metadata: CMP id and version, vendor list version, …).
    """

    id: str
    seq: int
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
    occurred_at: datetime
    recorded_at: datetime
    expires_at: datetime | None = None
    supersedes: str | None = None
    receipt_id: str = ""
    manifest_sha256: str = ""
    actor: str = "system"
    origin: str | None = None
    conflict: Conflict | None = None
    gpc_confirmed: bool = False
    evidence: Mapping[str, Any] = field(factory=dict)

    @property
    def negative(self) -> bool:
        """True when the status denies processing."""
        return self.status in NEGATIVE_STATUSES

    @property
    def event_type(self) -> EventType:
        """``explicit`` when the person acted on a presented choice, else ``implied``.

        Implied: a GPC signal (their browser's standing setting) or an expiry.
        """
        return "implied" if self.method in IMPLIED_METHODS else "explicit"

    @property
    def name(self) -> str:
        """The record's name in the vault: sorts by ledger position."""
        return f"{self.seq:010d}.{self.id}"

    def to_json(self) -> dict[str, Any]:
        """The record as stored (encrypted) and exported."""
        out: dict[str, Any] = {
            "id": self.id,
            "seq": self.seq,
            "purpose": self.purpose,
            "status": self.status,
            "lawful_basis": self.lawful_basis,
            "notice": {
                "id": self.notice_id,
                "version": self.notice_version,
                "language": self.notice_language,
                "text_sha256": self.notice_sha256,
            },
            "source": self.source,
            "method": self.method,
            "jurisdiction": self.jurisdiction,
            "occurred_at": self.occurred_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "supersedes": self.supersedes,
            "receipt_id": self.receipt_id,
            "manifest_sha256": self.manifest_sha256,
            "actor": self.actor,
            "origin": self.origin,
            "conflict": None if self.conflict is None else self.conflict.to_json(),
            "gpc_confirmed": self.gpc_confirmed,
            "evidence": dict(self.evidence),
        }
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ConsentRecord:
        """Rebuild a record from :meth:`to_json` output."""
        notice = doc["notice"]
        conflict = doc.get("conflict")
        expires = doc.get("expires_at")
        return cls(
            id=doc["id"],
            seq=int(doc["seq"]),
            purpose=doc["purpose"],
            status=doc["status"],
            lawful_basis=doc["lawful_basis"],
            notice_id=notice["id"],
            notice_version=notice["version"],
            notice_language=notice["language"],
            notice_sha256=notice["text_sha256"],
            source=doc["source"],
            method=doc["method"],
            jurisdiction=doc["jurisdiction"],
            occurred_at=datetime.fromisoformat(doc["occurred_at"]),
            recorded_at=datetime.fromisoformat(doc["recorded_at"]),
            expires_at=None if expires is None else datetime.fromisoformat(expires),
            supersedes=doc.get("supersedes"),
            receipt_id=doc.get("receipt_id", ""),
            manifest_sha256=doc.get("manifest_sha256", ""),
            actor=doc.get("actor", "system"),
            origin=doc.get("origin"),
            conflict=None if conflict is None else Conflict(**conflict),
            gpc_confirmed=bool(doc.get("gpc_confirmed", False)),
            evidence=doc.get("evidence", {}),
        )


#: What a derived state can be: ``none`` (no decision), ``given``, ``stale`` (given under an
#: older notice version), ``expired``, ``refused``, ``withdrawn``, ``objected``,
#: ``not_objected`` (legitimate interest, no objection) and ``not_required`` (contract, legal
#: obligation).
StateName = Literal[
    "none",
    "given",
    "stale",
    "expired",
    "refused",
    "withdrawn",
    "objected",
    "not_objected",
    "not_required",
]


@frozen(kw_only=True)
class ConsentState:
    """The current state of one purpose for one subject, derived from the ledger.

    Attributes:
        purpose: The purpose.
        lawful_basis: Its lawful basis.
        state: See :data:`StateName`.
        allowed: Whether processing for the purpose is allowed now.
        reason: Why (or why not), in words fit for an explanation.
        record: The deciding ledger record, if any.
        expires_at: When the current grant lapses (after the manifest's maximum age).
    """

    purpose: str
    lawful_basis: LawfulBasis
    state: StateName
    allowed: bool
    reason: str
    record: ConsentRecord | None = None
    expires_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """As shown by ``personakit consent show``."""
        return {
            "purpose": self.purpose,
            "lawful_basis": self.lawful_basis,
            "state": self.state,
            "allowed": self.allowed,
            "reason": self.reason,
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "record": None if self.record is None else self.record.to_json(),
        }


@frozen(kw_only=True)
class ConsentReceipt:
    """What a consent change did, as a receipt for the subject and the controller.

    Fields follow ISO/IEC TS 27560 (consent record information structure): schema version,
    receipt id, timestamps, controller, subject, storage locations of the records, how to
    withdraw, and per purpose the lawful basis, notice (null where none was shown), status,
    event type (explicit or implied), method, source, jurisdiction, expiry. ``records`` is
    empty when nothing needed recording (``unchanged`` then names the purposes left as they
    were).
    """

    receipt_id: str
    action: str
    issued_at: datetime
    controller: Controller
    subject: str
    subject_ref: str
    manifest_sha256: str
    records: tuple[ConsentRecord, ...]
    purposes: tuple[Purpose, ...]
    unchanged: tuple[str, ...] = ()
    deleted: Mapping[str, Mapping[str, int]] = field(factory=dict)
    storage_locations: tuple[str, ...] = ()
    withdrawal_method: str = ""
    schema_version: str = RECEIPT_SCHEMA_VERSION

    @property
    def changed(self) -> bool:
        """Whether any record was appended."""
        return bool(self.records)

    @property
    def conflicts(self) -> tuple[ConsentRecord, ...]:
        """The records of this change that resolved a conflict."""
        return tuple(record for record in self.records if record.conflict is not None)

    def to_json(self) -> dict[str, Any]:
        """The receipt as JSON (what the CLI prints and a host app hands to the subject)."""
        by_id = {purpose.id: purpose for purpose in self.purposes}
        entries = []
        for record in self.records:
            purpose = by_id.get(record.purpose)
            entries.append(
                {
                    "purpose": record.purpose,
                    "name": None if purpose is None else purpose.name,
                    "lawful_basis": record.lawful_basis,
                    "data_categories": [] if purpose is None else list(purpose.data_categories),
                    "recipients": [] if purpose is None else list(purpose.recipients),
                    "retention_days": None if purpose is None else purpose.retention_days,
                    "status": record.status,
                    "event_type": record.event_type,
                    "record_id": record.id,
                    "supersedes": record.supersedes,
                    "origin": record.origin,
                    # None when no notice was shown (GPC and TCF signals).
                    "notice": None
                    if record.notice_id is None
                    else {
                        "id": record.notice_id,
                        "version": record.notice_version,
                        "language": record.notice_language,
                        "text_sha256": record.notice_sha256,
                    },
                    "method": record.method,
                    "source": record.source,
                    "jurisdiction": record.jurisdiction,
                    "occurred_at": record.occurred_at.isoformat(),
                    "recorded_at": record.recorded_at.isoformat(),
                    "expires_at": None
                    if record.expires_at is None
                    else record.expires_at.isoformat(),
                    "conflict": None if record.conflict is None else record.conflict.to_json(),
                }
            )
        return {
            "schema_version": self.schema_version,
            "receipt_id": self.receipt_id,
            "action": self.action,
            "issued_at": self.issued_at.isoformat(),
            "controller": self.controller.to_json(),
            "subject": {"id": self.subject, "ref": self.subject_ref},
            "manifest_sha256": self.manifest_sha256,
            "storage_locations": list(self.storage_locations),
            "withdrawal_method": self.withdrawal_method,
            "purposes": entries,
            "unchanged": list(self.unchanged),
            "deleted": {purpose: dict(done) for purpose, done in self.deleted.items()},
        }
