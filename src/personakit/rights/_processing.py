"""Restriction (Art. 18), objection (Art. 21) and the CCPA opt-out of sale/sharing.

Objection to direct marketing (Art. 21(2)-(3)) is an absolute stop: every marketing purpose
(an id ``marketing`` or ``marketing.*``, or a purpose with a contact ``channel``) is stopped at
once, whatever its basis: a consent grant is withdrawn (never given: a refusal is recorded), a
legitimate-interest purpose gets an objection. No balancing test applies and nothing but the
subject's own new decision undoes it. The CCPA opt-out of sale/sharing works the same way for
the purposes a GPC signal opts out of (``gpc_opt_out`` in the manifest), with the source and
method of the request recorded in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from attrs import define

from personakit._ids import check_actor
from personakit.audit import AuditLog
from personakit.consent import ConsentManager, ConsentReceipt, Manifest, Purpose, RestrictionChange
from personakit.exceptions import InvalidInput, Problem, SubjectNotFound
from personakit.profiles import IdentityIndex
from personakit.storage import Store

__all__ = ["ProcessingControls"]


@define(kw_only=True, repr=False)
class ProcessingControls:
    """The rights that restrict or stop processing; :class:`~personakit.rights.Rights` has them.

    Arguments named ``subject`` take a pseudonym (``sub_…``) or a host identifier, resolved
    with :meth:`IdentityIndex.subject_of`. Every change goes through the consent ledger.
    """

    identity: IdentityIndex
    consent: ConsentManager
    manifest: Manifest
    store: Store
    audit: AuditLog
    subject_ref: Callable[[str], str]

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
        """Restrict processing (Art. 18); see :meth:`ConsentManager.restrict`.

        The workflows' restriction hooks run in the consent change's transaction.
        """
        return self.consent.restrict(
            self.identity.subject_of(subject),
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
        """Lift a restriction; guards answer from the ledger again (the lifted hooks run)."""
        return self.consent.lift_restriction(
            self.identity.subject_of(subject),
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
            for p in self.manifest.purposes
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
        purposes = [p.id for p in self.manifest.purposes if p.gpc_opt_out]
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
        manifest = self.manifest
        consent = self.consent
        chosen = self._stoppable(purposes, actor)
        # Source and method are audited below even when no consent call checks them.
        consent.validate_context(
            source=source, method=method, jurisdiction=jurisdiction, actor=actor
        )
        pseudonym = self.identity.subject_of(subject)
        common: dict[str, Any] = {
            "source": source,
            "method": method,
            "jurisdiction": jurisdiction,
            "actor": actor,
        }
        receipts: list[ConsentReceipt] = []
        with self.store.transaction():
            # Re-checked under the subject's lock (the read takes it): an erasure committed
            # since subject_of must not be followed by this stop's audit entry for it.
            if not self.identity.exists(pseudonym):
                raise SubjectNotFound("subject")
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
            self.audit.append(
                action,
                subject=self.subject_ref(pseudonym),
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
            found = self.manifest.get_purpose(name) if isinstance(name, str) else None
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
