"""``kit.rights``: the data-subject rights of one kit, in one place.

Export (Art. 15 and 20, CCPA right to know), erasure (Art. 17, CCPA delete) and its replay
after a restore, rectification (Art. 16), restriction (Art. 18), objection (Art. 21), the CCPA
opt-out of sale/sharing, and the request workflow that runs them by their deadlines.

Arguments named ``subject`` take a pseudonym (``sub_…``) or a host identifier
(``email:…``); an identifier that resolves to nothing raises
:class:`~personakit.exceptions.SubjectNotFound` naming only its kind, a malformed one
:class:`~personakit.exceptions.InvalidInput`.

Objection to direct marketing (Art. 21(2)-(3)) is an absolute stop: every marketing purpose
(an id ``marketing`` or ``marketing.*``, or a purpose with a contact ``channel``) is stopped at
once, whatever its basis: a consent grant is withdrawn (never given: a refusal is recorded), a
legitimate-interest purpose gets an objection. No balancing test applies and nothing but the
subject's own new decision undoes it. The CCPA opt-out of sale/sharing works the same way for
the purposes a GPC signal opts out of (``gpc_opt_out`` in the manifest), with the source and
method of the request recorded in the ledger.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from personakit._clock import Clock
from personakit._vault import Vault, names_a_pseudonym
from personakit.audit import AuditLog
from personakit.consent import ConsentManager, ConsentReceipt, Manifest, Purpose
from personakit.consent._manager import RestrictionChange
from personakit.crypto import Keyring
from personakit.exceptions import (
    ConfigurationError,
    InvalidInput,
    InvalidTransition,
    Problem,
)
from personakit.profiles import IdentityIndex
from personakit.rights._deadlines import Jurisdiction, RequestKind
from personakit.rights._erase import Eraser, ErasureLogEntry, ErasureReceipt, ReplayReport
from personakit.rights._export import ExportDocument, Exporter
from personakit.rights._registry import RightsRegistry
from personakit.rights._request_model import Request, RequestState
from personakit.rights._requests import IdentityVerifier, RequestBook
from personakit.rights._text import check_actor
from personakit.storage import Store

__all__ = ["Rights", "RightsHost"]

_CONSENT_JURISDICTION: Final = {Jurisdiction.GDPR: "EU", Jurisdiction.CCPA: "US-CA"}
ExportFormat = Literal["json", "csv"]


class RightsHost(Protocol):
    """**Protocol**: the parts of a kit the rights service uses (a :class:`Personakit` is one).

    ``traits`` is optional: :meth:`Rights.rectify` needs it and says so when it is missing.
    """

    @property
    def store(self) -> Store:
        """The data store."""
        ...

    @property
    def key_store(self) -> Store:
        """The key store (holds the erasure log)."""
        ...

    @property
    def vault(self) -> Vault:
        """Sealed subject records."""
        ...

    @property
    def keyring(self) -> Keyring:
        """Data keys and derived keys."""
        ...

    @property
    def identity(self) -> IdentityIndex:
        """Identifier resolution."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The audit chain."""
        ...

    @property
    def consent(self) -> ConsentManager:
        """The consent ledger and guards."""
        ...

    @property
    def manifest(self) -> Manifest:
        """The purposes manifest."""
        ...

    @property
    def clock(self) -> Clock:
        """The kit's clock."""
        ...

    def subject_ref(self, subject: str) -> str:
        """The keyed reference of a subject (audit entries, tombstones)."""
        ...


class Rights:
    """The rights service of one kit (``kit.rights``).

    ``registry`` takes exporters and contribution removers from other components;
    ``requests`` is the :class:`RequestBook` of data-subject requests.
    """

    def __init__(
        self,
        host: RightsHost,
        *,
        verifier: IdentityVerifier | None = None,
        holidays: Iterable[date] = (),
    ) -> None:
        """Wire the service to ``host``; ``verifier`` is the default identity check for requests."""
        self._host = host
        self.registry = RightsRegistry()
        self.exporter = Exporter(
            vault=host.vault,
            registry=self.registry,
            manifest=host.manifest,
            consent=host.consent,
            subject_ref=host.subject_ref,
        )
        self.eraser = Eraser(
            store=host.store,
            key_store=host.key_store,
            vault=host.vault,
            keyring=host.keyring,
            identity=host.identity,
            audit=host.audit,
            clock=host.clock,
            registry=self.registry,
            subject_ref=host.subject_ref,
        )
        self.requests = RequestBook(
            store=host.store,
            vault=host.vault,
            audit=host.audit,
            clock=host.clock,
            verifier=verifier,
            holidays=holidays,
        )
        exporter = self.exporter
        self.registry.register_exporter("profile", exporter.profile_section, kinds="meta")
        self.registry.register_exporter("identifiers", exporter.identifiers_section, kinds="ident")
        self.registry.register_exporter("traits", exporter.traits_section)
        self.registry.register_exporter("events", exporter.events_section)
        self.registry.register_exporter(
            "consent",
            exporter.consent_section,
            kinds=("consent", "consent-state", "consent-head", "restriction"),
        )

    def __repr__(self) -> str:
        """Render with the registry."""
        return f"Rights({self.registry!r})"

    # -- subjects -------------------------------------------------------------------------

    def subject(self, subject: str) -> str:
        """The pseudonym of a live subject given its pseudonym or a host identifier."""
        return self._host.identity.subject_of(subject)

    # -- export ---------------------------------------------------------------------------

    def export_document(
        self, subject: str, *, fmt: ExportFormat = "json", actor: str = "system"
    ) -> ExportDocument:
        """Everything held about ``subject``, as an :class:`ExportDocument`; audited.

        ``fmt`` only labels the audit entry (the document offers both forms).
        """
        _actor(actor)
        pseudonym = self.subject(subject)
        document = self.exporter.build(pseudonym, self._host.clock.now())
        data = document.data
        self._host.audit.append(
            "rights.export",
            subject=self._host.subject_ref(pseudonym),
            actor=actor,
            data={
                "format": fmt,
                "counts": {
                    "identifiers": len(data["identifiers"]),
                    "traits": len(data["traits"]),
                    "events": len(data["events"]),
                    "consent_records": len(data["consent"].get("history", [])),
                    "derived_sections": len(data["derived_data"]),
                    "other_records": len(data["other_records"]),
                },
            },
        )
        return document

    def export(self, subject: str, *, actor: str = "system") -> dict[str, Any]:
        """The export of ``subject`` as a JSON-ready dict (see ``schemas/export.schema.json``)."""
        return self.export_document(subject, actor=actor).to_json()

    def export_csv(self, subject: str, *, actor: str = "system") -> bytes:
        """The export of ``subject`` as a zip of CSV files (one per record type)."""
        return self.export_document(subject, fmt="csv", actor=actor).csv_zip()

    # -- erasure --------------------------------------------------------------------------

    def erase(
        self, subject: str, *, reason: str | None = None, actor: str = "system"
    ) -> ErasureReceipt:
        """Erase ``subject`` (pseudonym or identifier); see :class:`~personakit.rights.Eraser`.

        By pseudonym this also finishes an erasure interrupted after the key was shredded.
        """
        # A pseudonym need not be live: its erasure may have stopped after the key was shredded.
        pseudonym = subject if names_a_pseudonym(subject) else self.subject(subject)
        return self.eraser.erase(pseudonym, reason=reason, actor=actor)

    def erasure_log(self) -> list[ErasureLogEntry]:
        """The tombstones of the erasure log (kept in the key store)."""
        return self.eraser.log.entries()

    def resume_erasures(self, *, actor: str = "system") -> list[ErasureReceipt]:
        """Finish every erasure interrupted half-way."""
        return self.eraser.resume(actor=actor)

    def replay_erasures(self, *, actor: str = "system") -> ReplayReport:
        """Re-apply the erasure log after restoring a data backup; see :meth:`Eraser.replay`."""
        return self.eraser.replay(actor=actor)

    # -- rectification, restriction, objection, opt-out -----------------------------------

    def rectify(
        self,
        subject: str,
        values: Mapping[str, Any],
        *,
        source: str = "api",
        actor: str = "system",
    ) -> Any:
        """Correct trait values (Art. 16): a traits update marked as rectification, audited.

        Returns the traits component's update summary. Raises :class:`ConfigurationError` if
        this kit has no traits component.
        """
        traits = getattr(self._host, "traits", None)
        if traits is None:
            raise ConfigurationError("rectification needs a traits component (kit.traits)")
        _actor(actor)  # the traits component audits it as given
        pseudonym = self.subject(subject)
        return traits.update(pseudonym, values, source=source, rectification=True, actor=actor)

    def restrict(
        self,
        subject: str,
        *,
        source: str = "api",
        method: str = "explicit",
        jurisdiction: str | None = None,
        reference: str | None = None,
        actor: str = "system",
    ) -> RestrictionChange:
        """Restrict processing (Art. 18); see :meth:`ConsentManager.restrict`."""
        return self._host.consent.restrict(
            self.subject(subject),
            source=source,
            method=method,
            jurisdiction=jurisdiction,
            reference=reference,
            actor=actor,
        )

    def lift_restriction(
        self,
        subject: str,
        *,
        source: str = "api",
        method: str = "explicit",
        jurisdiction: str | None = None,
        reference: str | None = None,
        actor: str = "system",
    ) -> RestrictionChange:
        """Lift a restriction; guards answer from the ledger again."""
        return self._host.consent.lift_restriction(
            self.subject(subject),
            source=source,
            method=method,
            jurisdiction=jurisdiction,
            reference=reference,
            actor=actor,
        )

    def marketing_purposes(self) -> tuple[Purpose, ...]:
        """The direct-marketing purposes: id ``marketing`` or ``marketing.*``, or a channel."""
        return tuple(
            p
            for p in self._host.manifest.purposes
            if (p.id == "marketing" or p.id.startswith("marketing.") or p.channel is not None)
            and (p.needs_consent or p.objectable)
        )

    def object_to_direct_marketing(
        self,
        subject: str,
        *,
        source: str = "api",
        method: str = "explicit",
        jurisdiction: str | None = None,
        actor: str = "system",
    ) -> tuple[ConsentReceipt, ...]:
        """Object to direct marketing (Art. 21(2)): stop every marketing purpose at once."""
        purposes = [p.id for p in self.marketing_purposes()]
        return self._stop(
            "rights.objection", subject, purposes, (source, method, jurisdiction, actor)
        )

    def object(
        self,
        subject: str,
        purposes: str | Iterable[str],
        *,
        source: str = "api",
        method: str = "explicit",
        jurisdiction: str | None = None,
        actor: str = "system",
    ) -> tuple[ConsentReceipt, ...]:
        """Object to ``purposes`` (Art. 21) and stop them.

        Legitimate-interest purposes get an objection, consent purposes a withdrawal (or a
        refusal if never given); contract and legal-obligation purposes are refused with
        :class:`InvalidInput` (no right to object applies to them).
        """
        if isinstance(purposes, str):
            listed: list[str] = [purposes]
        else:
            try:
                listed = list(purposes)
            except TypeError:
                listed = []
        if not listed:
            raise InvalidInput(
                "invalid objection",
                [Problem(where="purposes", what="must name at least one purpose")],
            )
        return self._stop(
            "rights.objection", subject, listed, (source, method, jurisdiction, actor)
        )

    def opt_out_of_sale(
        self,
        subject: str,
        *,
        source: str = "api",
        method: str = "explicit",
        jurisdiction: str | None = "US-CA",
        actor: str = "system",
    ) -> tuple[ConsentReceipt, ...]:
        """CCPA opt-out of sale/sharing: refuse or withdraw every ``gpc_opt_out`` purpose."""
        purposes = [p.id for p in self._host.manifest.purposes if p.gpc_opt_out]
        return self._stop(
            "rights.opt_out_sale", subject, purposes, (source, method, jurisdiction, actor)
        )

    def _stop(
        self,
        action: str,
        subject: str,
        purposes: list[str],
        context: tuple[str, str, str | None, str],
    ) -> tuple[ConsentReceipt, ...]:
        source, method, jurisdiction, actor = context
        manifest = self._host.manifest
        consent = self._host.consent
        chosen = self._stoppable(purposes, actor)
        # Source and method are audited below even when no consent call checks them.
        consent.validate_context(
            source=source, method=method, jurisdiction=jurisdiction, actor=actor
        )
        pseudonym = self.subject(subject)
        common: dict[str, Any] = {
            "source": source,
            "method": method,
            "jurisdiction": jurisdiction,
            "actor": actor,
        }
        receipts: list[ConsentReceipt] = []
        with self._host.store.transaction():
            for purpose in chosen:
                state = consent.state(pseudonym, purpose.id)
                status = None if state.record is None else state.record.status
                if purpose.objectable:
                    if status != "objected":
                        receipts.append(consent.object(pseudonym, purpose.id, **common))
                elif status == "given":
                    receipts.append(consent.withdraw(pseudonym, purpose.id, **common))
                elif status in {None, "expired"}:
                    notice = purpose.notice or ""
                    receipts.append(
                        consent.refuse(
                            pseudonym,
                            purpose.id,
                            notice=notice,
                            notice_version=manifest.current_notice_version(notice) or "",
                            **common,
                        )
                    )
            self._host.audit.append(
                action,
                subject=self._host.subject_ref(pseudonym),
                actor=actor,
                data={
                    "purposes": [p.id for p in chosen],
                    "changed": sorted({r.purpose for rc in receipts for r in rc.records}),
                    "receipts": [rc.receipt_id for rc in receipts],
                    "source": source,
                    "method": method,
                },
            )
        return tuple(receipts)

    def _stoppable(self, purposes: list[str], actor: str) -> list[Purpose]:
        """The purposes, checked: each must exist and allow a withdrawal or an objection."""
        problems: list[Problem] = []
        chosen: list[Purpose] = []
        for index, name in enumerate(purposes):
            found = self._host.manifest.get_purpose(name) if isinstance(name, str) else None
            if found is None:
                problems.append(Problem(where=f"purposes[{index}]", what="not in the manifest"))
            elif not (found.needs_consent or found.objectable):
                problems.append(
                    Problem(
                        where=f"purposes[{index}]",
                        what=f"lawful basis {found.lawful_basis} allows no objection",
                    )
                )
            elif found.needs_consent and found.notice is None:
                problems.append(Problem(where=f"purposes[{index}]", what="has no notice"))
            else:
                chosen.append(found)
        check_actor(actor, problems)
        if problems:
            raise InvalidInput("invalid objection", problems)
        return chosen

    # -- requests -------------------------------------------------------------------------

    def run_request(
        self,
        request_id: str,
        *,
        out_dir: str | os.PathLike[str] | None = None,
        actor: str = "system",
    ) -> Request:
        """Execute a verified request (or retry one left in progress) and complete it.

        Access and portability write one export file per subject into ``out_dir`` (created
        with mode 600, never overwriting); erasure erases; rectification, restriction,
        objection and opt-out apply the request's parameters. Identifiers that resolve to no
        subject are reported, not an error (there is nothing to act on). If execution fails the
        request stays ``in_progress`` and can be run again.
        """
        _actor(actor)
        book = self.requests
        request = book.get(request_id)
        if request.state is RequestState.VERIFIED:
            request = book.start(request_id, actor=actor)
        elif request.state is not RequestState.IN_PROGRESS:
            raise InvalidTransition("run", request.state.value, "only a verified request runs")
        if request.kind in {RequestKind.ACCESS, RequestKind.PORTABILITY} and out_dir is None:
            raise InvalidInput(
                "cannot run request",
                [Problem(where="out_dir", what="required for access and portability requests")],
            )
        subjects, resolved = self._request_subjects(request)
        result = self._execute(request, subjects, out_dir, actor)
        result["subject_refs"] = [self._host.subject_ref(s) for s in subjects]
        result["unresolved_identifiers"] = len(request.identifiers) - resolved
        return book.complete(
            request_id,
            result,
            actor=actor,
            redact_identifiers=request.kind is RequestKind.ERASURE,
        )

    def _request_subjects(self, request: Request) -> tuple[list[str], int]:
        """The distinct subjects the request's identifiers resolve to, and how many resolved."""
        found: dict[str, None] = {}
        resolved = 0
        for text in request.identifiers:
            pseudonym = self._host.identity.lookup(text)
            if pseudonym is not None:
                resolved += 1
                found[pseudonym] = None
        return list(found), resolved

    def _execute(
        self,
        request: Request,
        subjects: list[str],
        out_dir: str | os.PathLike[str] | None,
        actor: str,
    ) -> dict[str, Any]:
        kind = request.kind
        params = request.parameters
        common: dict[str, Any] = {
            "source": "api",
            "method": "dsr",
            "jurisdiction": _CONSENT_JURISDICTION.get(request.jurisdiction),
            "actor": actor,
        }
        outcome: dict[str, Any] = {"subjects": len(subjects)}
        if kind in {RequestKind.ACCESS, RequestKind.PORTABILITY}:
            fmt: ExportFormat = "csv" if params.get("format") == "csv" else "json"
            outcome["exports"] = [
                self._write_export(
                    request_id=request.id,
                    index=index,
                    subject=subject,
                    fmt=fmt,
                    out_dir=Path(out_dir or "."),
                    actor=actor,
                )
                for index, subject in enumerate(subjects, start=1)
            ]
        elif kind is RequestKind.ERASURE:
            reason = f"request {request.id}"
            outcome["receipts"] = [
                self.erase(subject, reason=reason, actor=actor).to_json() for subject in subjects
            ]
        elif kind is RequestKind.RECTIFICATION:
            updates = [
                self.rectify(subject, params["values"], source="dsr", actor=actor)
                for subject in subjects
            ]
            outcome["rectified"] = [
                {"set": list(u.set), "removed": list(u.removed)} for u in updates
            ]
        elif kind is RequestKind.RESTRICTION:
            change = self.lift_restriction if params.get("lift") else self.restrict
            outcome["restriction"] = [
                change(subject, reference=request.id, **common).to_json() for subject in subjects
            ]
        elif kind is RequestKind.OBJECTION:
            purposes = params.get("purposes")
            receipts = [
                self.object(subject, purposes, **common)
                if purposes
                else self.object_to_direct_marketing(subject, **common)
                for subject in subjects
            ]
            outcome["receipts"] = [[r.receipt_id for r in group] for group in receipts]
        else:
            receipts = [self.opt_out_of_sale(subject, **common) for subject in subjects]
            outcome["receipts"] = [[r.receipt_id for r in group] for group in receipts]
        return outcome

    def _write_export(
        self,
        *,
        request_id: str,
        index: int,
        subject: str,
        fmt: ExportFormat,
        out_dir: Path,
        actor: str,
    ) -> dict[str, Any]:
        document = self.export_document(subject, fmt=fmt, actor=actor)
        payload = document.csv_zip() if fmt == "csv" else _pretty(document)
        path = out_dir / f"{request_id}-{index}.{'zip' if fmt == 'csv' else 'json'}"
        write_private(path, payload)
        return {
            "file": str(path),
            "format": fmt,
            "sha256": hashlib.sha256(payload).hexdigest(),
            "subject_ref": self._host.subject_ref(subject),
        }


def _pretty(document: ExportDocument) -> bytes:
    import json  # noqa: PLC0415 (only for pretty output)

    return (
        json.dumps(document.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    ).encode("utf-8")


def write_private(path: Path, payload: bytes) -> None:
    """Write ``payload`` to a *new* file readable by its owner only (exports are personal data)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InvalidInput(
            "refusing to overwrite", [Problem(where="out", what="file already exists")]
        ) from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(payload)


def _actor(actor: str) -> None:
    problems: list[Problem] = []
    check_actor(actor, problems)
    if problems:
        raise InvalidInput("invalid actor", problems)
