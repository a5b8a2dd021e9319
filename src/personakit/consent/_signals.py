"""What the GPC, IAB TCF and Google Consent Mode signals change, as ledger plans."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from personakit.consent._context import ConsentContext
from personakit.consent._ledger import Draft, Plan, Transaction, current_notice_fields, make_draft
from personakit.consent._manifest import CONSENT_MODE_TYPES, Manifest, Purpose
from personakit.consent._records import Conflict, Status, to_micros
from personakit.consent._state import PurposeState, evaluate
from personakit.consent._tcf import TCString
from personakit.exceptions import Problem

__all__ = ["consent_mode", "gpc_plan", "gpc_signal", "tcf_plan"]


def gpc_signal(header_value: object, problems: list[Problem]) -> bool:
    """Whether a ``Sec-GPC`` header value is the opt-out signal (``"1"``)."""
    signal = header_value.decode("latin-1") if isinstance(header_value, bytes) else header_value
    if signal is not None and not isinstance(signal, str):
        problems.append(Problem(where="header_value", what="must be str, bytes or None"))
    return isinstance(signal, str) and signal.strip() == "1"


def gpc_plan(manifest: Manifest, context: ConsentContext) -> Plan:
    """Opt out of every ``gpc_opt_out`` purpose not opted out already."""
    targets = [p for p in manifest.purposes if p.gpc_opt_out]

    def plan(transaction: Transaction) -> tuple[list[Draft], list[str]]:
        drafts: list[Draft] = []
        unchanged: list[str] = []
        for purpose in targets:
            draft = _gpc_draft(transaction, purpose, context)
            if draft is None:
                unchanged.append(purpose.id)
            else:
                drafts.append(draft)
        return drafts, unchanged

    return plan


def _gpc_draft(transaction: Transaction, purpose: Purpose, context: ConsentContext) -> Draft | None:
    manifest = transaction.manifest
    current = transaction.current(purpose.id)
    status: Status
    conflict: Conflict | None = None
    if purpose.needs_consent:
        if current is None:
            status = "refused"
        elif current.status == "given" and not current.confirmed:
            status = "withdrawn"
            if evaluate(manifest, purpose, current, transaction.now_us)[1]:
                conflict = Conflict(
                    kind="gpc_vs_opt_in",
                    with_record=current.record_id,
                    resolution="opt_out_honoured",
                )
        else:
            return None
    elif current is None or current.status == "objection_lifted":
        status = "objected"
        if current is not None:
            conflict = Conflict(
                kind="gpc_vs_objection_lifted",
                with_record=current.record_id,
                resolution="opt_out_honoured",
            )
    else:
        return None
    fields = transaction.notice_of(current) if current else current_notice_fields(manifest, purpose)
    return make_draft(purpose, status, context, fields, conflict=conflict)


def tcf_plan(manifest: Manifest, tc: TCString, when: datetime, context: ConsentContext) -> Plan:
    """Grant or refuse / withdraw the purposes mapped to TCF purposes, as ``tc`` says."""
    evidence = {
        "cmp_id": tc.cmp_id,
        "cmp_version": tc.cmp_version,
        "vendor_list_version": tc.vendor_list_version,
        "tcf_policy_version": tc.tcf_policy_version,
        "consent_language": tc.consent_language,
        "publisher_cc": tc.publisher_cc,
        "last_updated": tc.last_updated.isoformat(),
    }
    mapped = [p for p in manifest.consent_purposes() if p.tcf_purposes]

    def plan(transaction: Transaction) -> tuple[list[Draft], list[str]]:
        drafts: list[Draft] = []
        unchanged: list[str] = []
        for purpose in mapped:
            status = _tcf_status(transaction, purpose, tc, when)
            if status is None:
                unchanged.append(purpose.id)
                continue
            current = transaction.current(purpose.id)
            fields = (
                current_notice_fields(manifest, purpose, tc.consent_language.lower())
                if status != "withdrawn" or current is None
                else transaction.notice_of(current)
            )
            drafts.append(
                make_draft(purpose, status, context, fields, occurred_at=when, evidence=evidence)
            )
        return drafts, unchanged

    return plan


def _tcf_status(
    transaction: Transaction, purpose: Purpose, tc: TCString, when: datetime
) -> Status | None:
    manifest = transaction.manifest
    current = transaction.current(purpose.id)
    if purpose.tcf_purposes <= tc.purpose_consents:
        fresh = evaluate(manifest, purpose, current, transaction.now_us)[1]
        if (
            not fresh
            and transaction.beats(purpose.id, when, negative=False)
            and not _lapsed_regrant(manifest, purpose, current, when, transaction.now_us)
        ):
            return "given"
        return None
    if current is None:
        return "refused"
    if current.status == "given" and transaction.beats(purpose.id, when, negative=True):
        return "withdrawn"
    return None


def _lapsed_regrant(
    manifest: Manifest,
    purpose: Purpose,
    current: PurposeState | None,
    when: datetime,
    now_us: int,
) -> bool:
    """Whether a TCF grant dated ``when`` would repeat a grant already in the ledger, expired.

    A TC string older than the maximum consent age yields a grant that is expired at once; it
    is recorded once, but recording it again on every request would grow the ledger and the
    audit chain without changing any answer.
    """
    when_us = to_micros(when)
    return (
        current is not None
        and current.status == "given"
        and current.occurred >= when_us
        and when_us + manifest.max_age_us(purpose.id) <= now_us
    )


def consent_mode(manifest: Manifest, allowed: Callable[[str], bool]) -> dict[str, str]:
    """Google Consent Mode v2 state: type -> ``granted`` / ``denied`` (see the manager)."""
    verdicts: dict[str, bool] = {}
    out: dict[str, str] = {}
    for mode_type in CONSENT_MODE_TYPES:
        purposes = manifest.purposes_for_consent_mode(mode_type)
        for purpose in purposes:
            if purpose.id not in verdicts:
                verdicts[purpose.id] = allowed(purpose.id)
        granted = bool(purposes) and all(verdicts[p.id] for p in purposes)
        out[mode_type] = "granted" if granted else "denied"
    return out
