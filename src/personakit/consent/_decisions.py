"""The records a decision appends: grants, refusals, withdrawals, objections and expiries.

Each function drafts from checked input (the manager checks subjects and raises); the
ledger plans read the current state inside the change's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from attrs import frozen

from personakit._clock import Clock
from personakit.consent._checks import check_notice, check_occurred, check_purposes
from personakit.consent._context import ConsentContext
from personakit.consent._ledger import (
    Draft,
    Plan,
    Transaction,
    current_notice_fields,
    drafts_or_unchanged,
    make_draft,
    notice_fields,
)
from personakit.consent._manifest import Manifest, Notice, Purpose
from personakit.consent._records import Status, from_micros
from personakit.consent._state import evaluate
from personakit.exceptions import Problem

__all__ = ["Shown", "expiry_plan", "explicit_drafts", "objection_plan", "withdrawal_plan"]


@frozen(kw_only=True)
class Shown:
    """What the subject was shown, and when they decided: common to grant and refuse."""

    notice: str
    notice_version: str
    language: str | None
    notice_sha256: str | None
    occurred_at: datetime | None
    gpc_confirmed: bool = False


def explicit_drafts(
    manifest: Manifest,
    clock: Clock,
    status: Status,
    purposes: str | Iterable[str],
    shown: Shown,
    *,
    context: ConsentContext,
    problems: list[Problem],
) -> list[Draft]:
    """The grants or refusals of ``purposes``, appending a problem for every bad input."""
    chosen = check_purposes(manifest, purposes, problems, allow_all=False, basis="consent")
    notice = check_notice(
        manifest,
        problems,
        notice=shown.notice,
        version=shown.notice_version,
        language=shown.language,
        sha256=shown.notice_sha256,
        covering=chosen,
    )
    when = check_occurred(clock, shown.occurred_at, problems)
    flag: object = shown.gpc_confirmed  # callers without a type checker can pass anything
    if not isinstance(flag, bool):
        problems.append(Problem(where="gpc_confirmed", what="must be a bool"))
    if notice is None:
        return []
    return [
        make_draft(
            purpose,
            status,
            context,
            notice_fields(notice),
            occurred_at=when,
            gpc_confirmed=shown.gpc_confirmed and status == "given",
        )
        for _, purpose in chosen
    ]


def withdrawal_plan(
    purposes: Iterable[Purpose],
    notice: Notice | None,
    when: datetime | None,
    context: ConsentContext,
) -> Plan:
    """Withdraw every purpose whose deciding record is a grant; list the others unchanged.

    Each withdrawal records ``notice``, or else the notice of the grant it withdraws.
    """

    def plan(transaction: Transaction) -> tuple[list[Draft], list[str]]:
        def draft_for(purpose: Purpose) -> Draft | None:
            current = transaction.current(purpose.id)
            if current is None or current.status != "given":
                return None
            fields = notice_fields(notice) if notice else transaction.notice_of(current)
            return make_draft(purpose, "withdrawn", context, fields, occurred_at=when)

        return drafts_or_unchanged(purposes, draft_for)

    return plan


def objection_plan(
    manifest: Manifest,
    status: Status,
    target: Purpose,
    when: datetime | None,
    context: ConsentContext,
) -> Plan:
    """Object to ``target``, or lift the objection (only if one is in force)."""

    def plan(transaction: Transaction) -> tuple[list[Draft], list[str]]:
        current = transaction.current(target.id)
        if status == "objection_lifted" and (current is None or current.status != "objected"):
            return [], [target.id]
        draft = make_draft(
            target, status, context, current_notice_fields(manifest, target), occurred_at=when
        )
        return [draft], []

    return plan


def expiry_plan(manifest: Manifest, context: ConsentContext) -> Plan:
    """Record an ``expired`` entry, dated at the expiry, for every grant past its age."""

    def plan(transaction: Transaction) -> tuple[list[Draft], list[str]]:
        drafts: list[Draft] = []
        for purpose in manifest.consent_purposes():
            current = transaction.current(purpose.id)
            if current is None or current.status != "given":
                continue
            state, _, _, expires = evaluate(manifest, purpose, current, transaction.now_us)
            if state != "expired" or expires is None:
                continue
            drafts.append(
                make_draft(
                    purpose,
                    "expired",
                    context,
                    transaction.notice_of(current),
                    occurred_at=from_micros(expires),
                )
            )
        return drafts, []

    return plan
