"""What the GPC, IAB TCF and Google Consent Mode signals change, as ledger plans."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

from personakit.consent._context import ConsentContext
from personakit.consent._ledger import (
    Draft,
    Plan,
    Transaction,
    drafts_or_unchanged,
    make_draft,
    notice_fields,
)
from personakit.consent._manifest import CONSENT_MODE_TYPES, Manifest, Purpose
from personakit.consent._records import Conflict, Status, from_micros, to_micros
from personakit.consent._state import PurposeState, evaluate
from personakit.consent._tcf import TCString
from personakit.exceptions import Problem

__all__ = [
    "GPC_SOURCES",
    "consent_mode",
    "gpc_evidence",
    "gpc_plan",
    "gpc_signal",
    "tcf_evidence",
    "tcf_granted",
    "tcf_plan",
]

_DAY_US = 86_400_000_000


def gpc_signal(header_value: object, problems: list[Problem]) -> bool:
    """Whether a GPC value is the opt-out signal: ``"1"`` (``Sec-GPC``) or ``True`` (navigator)."""
    if header_value is True:
        return True
    signal = header_value.decode("latin-1") if isinstance(header_value, bytes) else header_value
    if signal is not None and not isinstance(signal, (str, bool)):
        problems.append(Problem(where="header_value", what="must be str, bytes, bool or None"))
    return isinstance(signal, str) and signal.strip() == "1"


#: Where a GPC signal was read: the request header, or the browser's JavaScript property.
GPC_SOURCES: Final = {"header": "Sec-GPC", "navigator": "navigator.globalPrivacyControl"}
_METADATA_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_METADATA_ITEMS = 8
_METADATA_VALUE_CHARS = 256


def gpc_evidence(via: object, metadata: object, problems: list[Problem]) -> dict[str, str]:
    """The evidence of a GPC record: the signal's source, and the caller's request metadata.

    ``metadata`` holds at most 8 entries of short lower-case keys and short strings (for
    example ``user_agent_sha256``); values are the caller's, so they should be digests, never
    raw personal values. They are sealed in the subject's ledger and never audited.
    """
    evidence: dict[str, str] = {}
    if not isinstance(via, str) or via not in GPC_SOURCES:
        problems.append(Problem(where="via", what="must be one of: header, navigator"))
    else:
        evidence["signal"] = GPC_SOURCES[via]
    if metadata is None:
        return evidence
    if not isinstance(metadata, Mapping) or len(metadata) > _METADATA_ITEMS:
        what = f"must be a mapping of at most {_METADATA_ITEMS} entries"
        problems.append(Problem(where="request_metadata", what=what))
        return evidence
    for key, value in metadata.items():
        if not isinstance(key, str) or _METADATA_KEY.fullmatch(key) is None:
            what = "keys must be lower-case tokens ([a-z][a-z0-9_]*, at most 40 characters)"
            problems.append(Problem(where="request_metadata", what=what))
        elif key in {"signal", "value"}:
            problems.append(Problem(where="request_metadata", what="keys signal, value are set"))
        elif not isinstance(value, str) or not 0 < len(value) <= _METADATA_VALUE_CHARS:
            what = f"must be a str of 1-{_METADATA_VALUE_CHARS} characters"
            problems.append(Problem(where=f"request_metadata.{key}", what=what))
        else:
            evidence[key] = value
    return evidence


def gpc_plan(manifest: Manifest, context: ConsentContext, evidence: Mapping[str, str]) -> Plan:
    """Opt out of every ``gpc_opt_out`` purpose not opted out already.

    The records name no notice (the person saw none: the signal is their browser's setting)
    and carry ``evidence``.
    """
    targets = [p for p in manifest.purposes if p.gpc_opt_out]

    def plan(transaction: Transaction) -> tuple[list[Draft], list[str]]:
        return drafts_or_unchanged(
            targets, lambda purpose: _gpc_draft(transaction, purpose, context, evidence)
        )

    return plan


def _gpc_draft(
    transaction: Transaction,
    purpose: Purpose,
    context: ConsentContext,
    evidence: Mapping[str, str],
) -> Draft | None:
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
    return make_draft(
        purpose, status, context, notice_fields(None), conflict=conflict, evidence=evidence
    )


def tcf_plan(manifest: Manifest, tc: TCString, digest: str, context: ConsentContext) -> Plan:
    """Grant or refuse / withdraw the purposes mapped to TCF purposes, as ``tc`` says.

    ``digest`` is the SHA-256 of the string as received. The records are dated by when the
    person acted, which the string itself says only to the day (CMPs write ``LastUpdated``
    as that day's midnight):

    * a string applied before (its digest is in the ledger head) keeps the date it was given
      then, so a string re-sent with every request is a repeat, never a new act;
    * a new string whose ``LastUpdated`` is exact (not a midnight) is dated by it;
    * a new day-granular string is dated when it is received, unless its whole day ended
      before the latest decision on its purposes (then it is provably older, and keeps its
      own date): a same-day re-consent, refusal or withdrawal always beats the choice before.
    """
    evidence = tcf_evidence(tc, digest)
    mapped = [p for p in manifest.consent_purposes() if p.tcf_purposes]

    def plan(transaction: Transaction) -> tuple[list[Draft], list[str]]:
        when_us = _tcf_date(transaction, tc, digest, [p.id for p in mapped])
        when = None if when_us is None else from_micros(when_us)

        def draft_for(purpose: Purpose) -> Draft | None:
            status = _tcf_status(transaction, purpose, tc, when_us)
            if status is None:
                return None
            # No notice: the person saw the CMP's texts (named by the evidence), not the shop's.
            fields = notice_fields(None)
            return make_draft(purpose, status, context, fields, occurred_at=when, evidence=evidence)

        return drafts_or_unchanged(mapped, draft_for)

    return plan


def tcf_evidence(tc: TCString, digest: str) -> dict[str, object]:
    """What a TC string proves: its digest and the CMP's own fields (never the string)."""
    return {
        "tc_string_sha256": digest,
        "cmp_id": tc.cmp_id,
        "cmp_version": tc.cmp_version,
        "consent_screen": tc.consent_screen,
        "vendor_list_version": tc.vendor_list_version,
        "tcf_policy_version": tc.tcf_policy_version,
        "consent_language": tc.consent_language,
        "publisher_cc": tc.publisher_cc,
        "is_service_specific": tc.is_service_specific,
        "created": tc.created.isoformat(),
        "last_updated": tc.last_updated.isoformat(),
        "purpose_consents": sorted(tc.purpose_consents),
        "publisher_purpose_consents": None
        if tc.publisher_tc is None
        else sorted(tc.publisher_tc.purpose_consents),
    }


def tcf_granted(manifest: Manifest, purpose: Purpose, tc: TCString) -> bool:
    """Whether ``tc`` grants ``purpose``: every TCF purpose it maps to has consent.

    The core segment holds the person's consents for the vendors (third parties); the
    publisher TC segment, when the CMP writes one, their consents for the publisher itself:
    the shop running personakit. So with a publisher segment the publisher's consents decide,
    and a purpose that discloses data to a recipient other than a processor (a third party
    or another controller) needs the vendors' consent as well; without a publisher segment,
    the core segment decides for both.
    """
    wanted = purpose.tcf_purposes
    vendors = wanted <= tc.purpose_consents
    if tc.publisher_tc is None:
        return vendors
    publisher = wanted <= tc.publisher_tc.purpose_consents
    third_parties = {r.id for r in manifest.recipients if r.role != "processor"}
    if third_parties.intersection(purpose.recipients):
        return publisher and vendors
    return publisher


def _tcf_date(
    transaction: Transaction, tc: TCString, digest: str, purposes: list[str]
) -> int | None:
    """The date (µs) of the records ``tc`` makes; None: now, when it was received."""
    seen = transaction.seen_signal(digest)
    if seen is not None:
        return seen
    now_us = transaction.now_us
    updated = to_micros(tc.last_updated)
    when: int | None = min(updated, now_us)
    if updated % _DAY_US == 0:
        latest = transaction.latest(purposes)
        if latest is None or latest < updated + _DAY_US:
            when = None
    transaction.note_signal(digest, now_us if when is None else when)
    return when


def _tcf_status(
    transaction: Transaction, purpose: Purpose, tc: TCString, when_us: int | None
) -> Status | None:
    """What ``tc`` records for ``purpose`` dated ``when_us`` (None: now), or None: nothing."""
    manifest = transaction.manifest
    current = transaction.current(purpose.id)
    granted = tcf_granted(manifest, purpose, tc)
    if current is None:
        return "given" if granted else "refused"
    # A record dated now always decides (the ledger stamps it after the current record).
    decides = when_us is None or transaction.beats(
        purpose.id, from_micros(when_us), negative=not granted
    )
    if not granted:
        return "withdrawn" if current.status == "given" and decides else None
    fresh = evaluate(manifest, purpose, current, transaction.now_us)[1]
    lapsed = when_us is not None and _lapsed_regrant(
        manifest, purpose, current, when_us, transaction.now_us
    )
    return "given" if decides and not fresh and not lapsed else None


def _lapsed_regrant(
    manifest: Manifest,
    purpose: Purpose,
    current: PurposeState | None,
    when_us: int,
    now_us: int,
) -> bool:
    """Whether a TCF grant dated ``when`` would repeat a grant already in the ledger, expired.

    A TC string older than the maximum consent age yields a grant that is expired at once; it
    is recorded once, but recording it again on every request would grow the ledger and the
    audit chain without changing any answer.
    """
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
