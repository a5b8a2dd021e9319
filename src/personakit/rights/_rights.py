"""``kit.rights``: the data-subject rights of one kit, in one place.

Export (Art. 15 and 20, CCPA right to know), erasure (Art. 17, CCPA delete) and its replay
after a restore, rectification (Art. 16), restriction (Art. 18), objection (Art. 21), the CCPA
opt-out of sale/sharing (these three in ``_processing.py``), and the request workflow that runs
them by their deadlines.

Arguments named ``subject`` take a pseudonym (``sub_…``) or a host identifier
(``email:…``); an identifier that resolves to nothing raises
:class:`~personakit.exceptions.SubjectNotFound` naming only its kind, a malformed one
:class:`~personakit.exceptions.InvalidInput`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from attrs import define

from personakit._clock import Clock
from personakit._ids import check_actor
from personakit._vault import Vault, names_a_pseudonym
from personakit.audit import AuditLog
from personakit.consent import ConsentManager, Manifest
from personakit.crypto import Keyring
from personakit.exceptions import ConfigurationError, InvalidInput, InvalidTransition, Problem
from personakit.profiles import IdentityIndex
from personakit.rights._deadlines import Jurisdiction, RequestKind
from personakit.rights._erase import Eraser, ErasureLogEntry, ErasureReceipt, ReplayReport
from personakit.rights._export import ExportDocument, Exporter
from personakit.rights._processing import ProcessingControls
from personakit.rights._registry import RightsRegistry
from personakit.rights._request_model import Request, RequestState
from personakit.rights._requests import IdentityVerifier, RequestBook
from personakit.storage import Store
from personakit.workflows import RecordKind, RecordKinds

__all__ = ["Rectifier", "Rights"]

_CONSENT_JURISDICTION: Final = {Jurisdiction.GDPR: "EU", Jurisdiction.CCPA: "US-CA"}
ExportFormat = Literal["json", "csv"]


class Rectifier(Protocol):
    """**Protocol**: what rectification needs of the traits component (``kit.traits`` is one)."""

    def update(
        self,
        subject: str,
        values: Mapping[str, Any],
        *,
        source: str = ...,
        rectification: bool = ...,
        actor: str = ...,
    ) -> Any:
        """Set or remove trait values, all or nothing, audited."""
        ...


#: The record kinds rights keeps: registered so export, erasure and the record-kind test know them.
_RIGHTS_KINDS: Final = (
    ("dsr", "a data subject request and its history, kept by the request's own holder"),
    ("erasure", "progress of an erasure, so that a re-run does not repeat its steps"),
)


@define(kw_only=True, repr=False)
class Rights(ProcessingControls):
    """The rights service of one kit (``kit.rights``); build it with :meth:`build`.

    ``registry`` takes exporters and contribution removers from other components;
    ``requests`` is the :class:`RequestBook` of data-subject requests; ``traits`` is optional
    (only :meth:`rectify` uses it). Restriction, objection and the opt-out of sale come from
    :class:`ProcessingControls`.
    """

    registry: RightsRegistry
    exporter: Exporter
    eraser: Eraser
    requests: RequestBook
    clock: Clock
    traits: Rectifier | None = None

    @classmethod
    def build(
        cls,
        *,
        store: Store,
        key_store: Store,
        vault: Vault,
        keyring: Keyring,
        identity: IdentityIndex,
        consent: ConsentManager,
        manifest: Manifest,
        audit: AuditLog,
        clock: Clock,
        subject_ref: Callable[[str], str],
        traits: Rectifier | None = None,
        kinds: RecordKinds | None = None,
        verifier: IdentityVerifier | None = None,
        holidays: Iterable[date] = (),
    ) -> Rights:
        """The service over a kit's base parts, with its registry, exporter, eraser and book.

        ``kinds`` is the kit's record-kind registry: rights registers its own kinds there
        (requests, erasure progress) and exports and erases every kind registered in it.
        ``verifier`` is the default identity check for requests, ``holidays`` the non-working
        days of business-day deadlines.
        """
        registry = RightsRegistry(kinds)
        if kinds is not None:
            for name, description in _RIGHTS_KINDS:
                kinds.register(RecordKind(name=name, owner="rights", description=description))
        exporter = Exporter(
            vault=vault,
            registry=registry,
            manifest=manifest,
            consent=consent,
            subject_ref=subject_ref,
        )
        registry.register_exporter("profile", exporter.profile_section, kinds="meta")
        registry.register_exporter("identifiers", exporter.identifiers_section, kinds="ident")
        registry.register_exporter("traits", exporter.traits_section)
        registry.register_exporter("events", exporter.events_section)
        registry.register_exporter(
            "consent",
            exporter.consent_section,
            kinds=("consent", "consent-state", "consent-head", "restriction"),
        )
        eraser = Eraser(
            store=store,
            key_store=key_store,
            vault=vault,
            keyring=keyring,
            identity=identity,
            audit=audit,
            clock=clock,
            registry=registry,
            subject_ref=subject_ref,
        )
        requests = RequestBook(
            store=store,
            vault=vault,
            audit=audit,
            clock=clock,
            verifier=verifier,
            holidays=holidays,
        )
        return cls(
            registry=registry,
            exporter=exporter,
            eraser=eraser,
            requests=requests,
            identity=identity,
            consent=consent,
            manifest=manifest,
            store=store,
            audit=audit,
            clock=clock,
            subject_ref=subject_ref,
            traits=traits,
        )

    def __repr__(self) -> str:
        """Render with the registry."""
        return f"Rights({self.registry!r})"

    # -- subjects -------------------------------------------------------------------------

    def subject(self, subject: str) -> str:
        """The pseudonym of a live subject given its pseudonym or a host identifier."""
        return self.identity.subject_of(subject)

    # -- export ---------------------------------------------------------------------------

    def export_document(
        self, subject: str, *, fmt: ExportFormat = "json", actor: str = "system"
    ) -> ExportDocument:
        """Everything held about ``subject``, as an :class:`ExportDocument`; audited.

        ``fmt`` only labels the audit entry (the document offers both forms).
        """
        if not isinstance(fmt, str) or fmt not in {"json", "csv"}:
            raise InvalidInput("invalid export", [Problem(where="fmt", what="must be json or csv")])
        _actor(actor)
        pseudonym = self.subject(subject)
        document = self.exporter.build(pseudonym, self.clock.now())
        data = document.data
        self.audit.append(
            "rights.export",
            subject=self.subject_ref(pseudonym),
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

    # -- rectification --------------------------------------------------------------------

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
        traits = self.traits
        if traits is None:
            raise ConfigurationError("rectification needs a traits component (kit.traits)")
        _actor(actor)  # the traits component audits it as given
        pseudonym = self.subject(subject)
        return traits.update(pseudonym, values, source=source, rectification=True, actor=actor)

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
        result["subject_refs"] = [self.subject_ref(s) for s in subjects]
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
            pseudonym = self.identity.lookup(text)
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
            "subject_ref": self.subject_ref(subject),
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
