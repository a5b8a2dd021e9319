"""Merging two subjects' consent: one ledger copied into another, and the restriction."""

from __future__ import annotations

from personakit.consent._context import ConsentContext
from personakit.consent._ledger import Draft, Ledger, Transaction
from personakit.consent._records import ConsentReceipt
from personakit.consent._restriction import change_restriction
from personakit.consent._state import restriction_exists

__all__ = ["merge_ledgers"]


def merge_ledgers(
    ledger: Ledger, from_subject: str, into_subject: str, context: ConsentContext
) -> ConsentReceipt:
    """Copy the records of ``from_subject`` not copied yet into ``into_subject``'s ledger.

    Both subjects must have been checked. See :meth:`ConsentManager.merge`.
    """

    def plan(transaction: Transaction) -> tuple[list[Draft], list[str]]:
        # The TC strings applied to either pseudonym were acts of the same person: one
        # re-sent after the merge is a repeat, not a new act (see _signals).
        for digest, at in ledger.seen_signals(from_subject):
            transaction.note_signal(digest, at)
        copied = transaction.copied_origins()
        return [
            Draft(
                purpose=record.purpose,
                status=record.status,
                lawful_basis=record.lawful_basis,
                notice_id=record.notice_id,
                notice_version=record.notice_version,
                notice_language=record.notice_language,
                notice_sha256=record.notice_sha256,
                source=record.source,
                method=record.method,
                jurisdiction=record.jurisdiction,
                occurred_at=record.occurred_at,
                expires_at=record.expires_at,
                conflict=record.conflict,
                gpc_confirmed=record.gpc_confirmed,
                evidence=record.evidence,
                origin=record.id,
            )
            for record in ledger.records(from_subject)
            if record.id not in copied and (record.origin is None or record.origin not in copied)
        ], []

    with ledger.store.transaction():
        receipt = ledger.run(
            into_subject,
            "merged",
            context.actor,
            plan,
            audit_extra={"from": ledger.subject_ref(from_subject)},
        )
        # A restriction belongs to the person: once both pseudonyms are known to be the
        # same person, the merged profile stays restricted.
        if restriction_exists(ledger.store, from_subject) and not restriction_exists(
            ledger.store, into_subject
        ):
            restricted = ConsentContext(source="import", method="merge", actor=context.actor)
            change_restriction(
                ledger, into_subject, restrict=True, context=restricted, reference=None
            )
    return receipt
