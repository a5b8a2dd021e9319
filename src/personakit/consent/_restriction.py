"""Restriction of processing (GDPR Art. 18): setting and lifting it.

Restriction is encoded *in the compact state records*, so that a guard stays one read: while a
subject is restricted, the compact record of every consent and legitimate-interest purpose
carries a restricted flag (a purpose with no decision gets a record holding only the flag), and
the guard denies a flagged purpose whatever the ledger says. Every ledger append while the
subject is restricted keeps the flag. Lifting removes the flags and the flag-only records. The
ledger itself is untouched: restriction is not a consent decision, and lifting it restores
exactly the answer the ledger gave before. ``restriction/current`` is present while processing
is restricted, with when, where and how the restriction was asked for.

Reading of Art. 18(2): while restricted, personal data may be stored but only processed with
consent given *for that processing*, for legal claims, to protect others or for an important
public interest. personakit therefore denies every consent-based and legitimate-interest
purpose (personalisation, analytics, marketing, sale/sharing) until the restriction is lifted,
and leaves contract and legal-obligation purposes allowed: the host must limit those to what
Art. 18(2) still permits (keeping the order records, defending legal claims), since personakit
cannot tell a delivery from a legal claim.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from attrs import frozen

from personakit.consent._context import ConsentContext
from personakit.consent._ledger import Ledger
from personakit.consent._state import (
    RESTRICTED_ONLY,
    RESTRICTION_KIND,
    RESTRICTION_NAME,
    STATE_KIND,
    decode_state,
    restriction_exists,
)
from personakit.exceptions import SubjectNotFound

__all__ = ["RESTRICTED_REASON", "RestrictionChange", "change_restriction"]

RESTRICTED_REASON: Final = "processing restricted (GDPR Art. 18) until the restriction is lifted"


@frozen(kw_only=True)
class RestrictionChange:
    """What :meth:`ConsentManager.restrict` or :meth:`ConsentManager.lift_restriction` did.

    Attributes:
        action: ``restricted`` or ``lifted``.
        subject: The subject's pseudonym.
        subject_ref: The opaque reference used in the audit entry.
        at: When the change was recorded.
        purposes: The purposes whose guard changed (flag set, or removed), in manifest order.
        restricted: Whether the subject is restricted after the change.
    """

    action: Literal["restricted", "lifted"]
    subject: str
    subject_ref: str
    at: datetime
    purposes: tuple[str, ...]
    restricted: bool

    @property
    def changed(self) -> bool:
        """Whether any guard changed."""
        return bool(self.purposes)

    def to_json(self) -> dict[str, Any]:
        """As printed by the CLI and kept in a request's result."""
        return {
            "action": self.action,
            "subject_ref": self.subject_ref,
            "at": self.at.isoformat(),
            "purposes": list(self.purposes),
            "restricted": self.restricted,
        }


def change_restriction(
    ledger: Ledger,
    subject: str,
    *,
    restrict: bool,
    context: ConsentContext,
    reference: str | None,
) -> RestrictionChange:
    """Set (``restrict``) or lift the restriction of a checked subject, in one transaction."""
    vault = ledger.vault
    gated = [p.id for p in ledger.manifest.purposes if p.needs_consent or p.objectable]
    now = ledger.clock.now()
    changed: list[str] = []
    with ledger.store.transaction():
        # Re-checked under the subject's lock, as consent appends are: an erasure that
        # committed after the caller's check must not be followed by state records of it.
        if ledger.subject_exists is not None and not ledger.subject_exists(subject):
            raise SubjectNotFound("subject")
        was_restricted = restriction_exists(ledger.store, subject)
        for purpose in gated:
            state, flagged = decode_state(vault.get(subject, STATE_KIND, purpose))
            if flagged == restrict:
                continue
            changed.append(purpose)
            if state is not None:
                vault.put(subject, STATE_KIND, purpose, state.to_bytes(restricted=restrict))
            elif restrict:
                vault.put(subject, STATE_KIND, purpose, RESTRICTED_ONLY)
            else:
                vault.delete(subject, STATE_KIND, purpose)
        if restrict and not was_restricted:
            vault.put_json(
                subject,
                RESTRICTION_KIND,
                RESTRICTION_NAME,
                {
                    "since": now.isoformat(),
                    "source": context.source,
                    "method": context.method,
                    "jurisdiction": context.jurisdiction,
                    "reference": reference,
                    "actor": context.actor,
                },
            )
        elif not restrict:
            vault.delete(subject, RESTRICTION_KIND, RESTRICTION_NAME)
        if changed or was_restricted != restrict:
            ledger.audit.append(
                "consent.restricted" if restrict else "consent.restriction_lifted",
                subject=ledger.subject_ref(subject),
                actor=context.actor,
                data={
                    "purposes": changed,
                    "source": context.source,
                    "method": context.method,
                    "jurisdiction": context.jurisdiction,
                    "reference": reference,
                },
            )
    return RestrictionChange(
        action="restricted" if restrict else "lifted",
        subject=subject,
        subject_ref=ledger.subject_ref(subject),
        at=now,
        purposes=tuple(changed),
        restricted=restrict,
    )
