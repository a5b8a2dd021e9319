"""The consent manager: guards that answer "may I process this?", and consent decisions.

A guard (:meth:`ConsentManager.allowed`) is one store read and one decrypt: it reads the
compact state of the purpose's deciding record (``_state``), which every ledger append
rewrites in the same transaction (``_ledger``). Restriction of processing (GDPR Art. 18) is a
flag in those same records (``_restriction``). The GPC, TCF and Consent Mode signals
(``_signals``) and identity merge (``_merge``) are ledger plans like the decisions here.

Nothing is cached between calls: every guard reads the store, so a withdrawal committed by
one process is seen by the very next guard call in any other process sharing the store.

Which record decides a purpose: the one with the greatest ``(occurred_at, negative)``, where
``negative`` is true for refused / withdrawn / expired / objected; exact ties go to the record
appended last. So a grant never beats a refusal or withdrawal that is newer or equally old,
whichever ledger either came from (this is what makes :meth:`ConsentManager.merge` safe). A
record made *now* (no ``occurred_at`` given) is stamped at least one microsecond after the
current deciding record, so clock skew between processes can never order a live withdrawal
before the grant it withdraws.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from personakit._args import check_str_items
from personakit._clock import Clock
from personakit._vault import Vault, valid_subject_id
from personakit.audit import AuditLog
from personakit.consent._bulk import BatchLedger, BulkDecisions
from personakit.consent._cascade import CascadeRegistry
from personakit.consent._checks import (
    bad_subject,
    check_notice,
    check_occurred,
    check_purposes,
    check_reference,
    check_subjects,
    raise_problems,
)
from personakit.consent._context import ConsentContext, check_context
from personakit.consent._decisions import (
    Shown,
    expiry_plan,
    explicit_drafts,
    objection_plan,
    withdrawal_plan,
)
from personakit.consent._ledger import Ledger
from personakit.consent._manifest import Manifest, Notice
from personakit.consent._merge import merge_ledgers
from personakit.consent._records import (
    ConsentReceipt,
    ConsentRecord,
    ConsentState,
    StateName,
    Status,
    from_micros,
    to_micros,
)
from personakit.consent._restriction import (
    RESTRICTED_REASON,
    RestrictionChange,
    change_restriction,
)
from personakit.consent._signals import (
    consent_mode,
    gpc_evidence,
    gpc_plan,
    gpc_signal,
    tcf_plan,
)
from personakit.consent._state import (
    RESTRICTION_KIND,
    RESTRICTION_NAME,
    STATE_KIND,
    decode_state,
    evaluate,
    restriction_exists,
)
from personakit.consent._tcf import decode_tc_string
from personakit.exceptions import ConsentRequired, InvalidInput, Problem
from personakit.storage import Store

__all__ = ["ConsentManager", "decide"]


def decide(records: Iterable[ConsentRecord]) -> dict[str, ConsentRecord]:
    """The deciding record per purpose, from a ledger in append order (the slow, full path).

    The compact state the guards read must always equal what this returns.
    """
    deciding: dict[str, ConsentRecord] = {}
    for record in records:
        current = deciding.get(record.purpose)
        if current is None or (to_micros(record.occurred_at), record.negative) >= (
            to_micros(current.occurred_at),
            current.negative,
        ):
            deciding[record.purpose] = record
    return deciding


class ConsentManager:
    """Consent ledger, guards and signals for one kit (``kit.consent``).

    Every change appends to the ledger, updates the compact state, runs the withdrawal
    cascade and appends an audit entry in one store transaction, then returns a
    :class:`ConsentReceipt`. Bad input raises :class:`InvalidInput` before anything is written.

    Who recorded a change and how (``source``, ``method``, ``jurisdiction``, ``actor``) is
    given either as those keyword arguments or as one :class:`ConsentContext` (``context=``).
    """

    def __init__(
        self,
        *,
        store: Store,
        vault: Vault,
        audit: AuditLog,
        clock: Clock,
        manifest: Manifest,
        subject_ref: Callable[[str], str],
        subject_exists: Callable[[str], bool],
    ) -> None:
        """Wire the manager to the kit's store, vault, audit log, clock and manifest.

        ``subject_ref`` maps a pseudonym to the opaque reference used in audit entries;
        ``subject_exists`` says whether a pseudonym names a live subject.
        """
        self.store = store
        self.vault = vault
        self.audit = audit
        self.clock = clock
        self.manifest = manifest
        self.cascade = CascadeRegistry(manifest)
        self._subject_ref = subject_ref
        self._subject_exists = subject_exists
        self._ledger = Ledger(
            store=store,
            vault=vault,
            audit=audit,
            clock=clock,
            manifest=manifest,
            cascade=self.cascade,
            subject_ref=subject_ref,
            subject_exists=subject_exists,
        )

    def __repr__(self) -> str:
        """Render with the manifest digest."""
        return f"ConsentManager(manifest={self.manifest.sha256[:12]!r})"

    # -- guards -----------------------------------------------------------------------------

    def allowed(self, subject: str, purpose: str) -> bool:
        """Whether processing ``purpose`` for ``subject`` has a lawful basis right now.

        Consent purposes need a current grant under the current notice version that has not
        expired; legitimate-interest purposes are allowed unless the subject objected;
        contract and legal-obligation purposes are always allowed. While the subject's
        processing is restricted (:meth:`restrict`), consent and legitimate-interest purposes
        are denied. One store read.
        """
        return self._verdict(subject, purpose)[1]

    def require(self, subject: str, purpose: str) -> None:
        """Return if :meth:`allowed`, else raise :class:`ConsentRequired` saying why."""
        _, ok, reason, _ = self._verdict(subject, purpose)
        if not ok:
            raise ConsentRequired(subject, purpose, reason)

    def _verdict(self, subject: str, purpose: str) -> tuple[StateName, bool, str, int | None]:
        found = self.manifest.get_purpose(purpose) if isinstance(purpose, str) else None
        if found is None:
            raise InvalidInput(
                "unknown purpose", [Problem(where="purpose", what="not a purpose in the manifest")]
            )
        if not (found.needs_consent or found.objectable):
            return "not_required", True, f"lawful basis is {found.lawful_basis}", None
        try:
            state, restricted = self._ledger.state(subject, purpose)
        except (ValueError, TypeError):
            raise bad_subject() from None
        if state is None and not restricted and not found.needs_consent:
            # A legitimate-interest purpose with no state record would read as allowed; it may
            # have been added to the manifest after the subject was restricted, so the
            # subject-level restriction record decides (one extra read, only on this path).
            restricted = restriction_exists(self.store, subject)
        verdict = evaluate(self.manifest, found, state, to_micros(self.clock.now()))
        if restricted:
            return verdict[0], False, RESTRICTED_REASON, verdict[3]
        return verdict

    def allowed_many(self, subject: str, purposes: Iterable[str]) -> dict[str, bool]:
        """:meth:`allowed` for several purposes at once, with one store read.

        Bulk ingest uses this to check every purpose of an event kind in one go.
        """
        if isinstance(purposes, str):
            purposes = [purposes]
        try:
            listed = list(purposes)
        except TypeError:
            raise InvalidInput(
                "unknown purpose", [Problem(where="purposes", what="must be an iterable of str")]
            ) from None
        if not isinstance(subject, str):
            raise bad_subject()
        verdicts = self.verdicts_many([subject], listed)
        return {purpose: verdicts[(subject, purpose)] for purpose in listed}

    def verdicts_many(
        self, subjects: Iterable[str], purposes: Iterable[str]
    ) -> dict[tuple[str, str], bool]:
        """:meth:`allowed` for every (subject, purpose) pair, in one store read.

        Bulk ingest warms its per-batch cache with this. Subjects must exist (callers pass
        pseudonyms they just resolved).
        """
        return self.verdicts_until(subjects, purposes)[0]

    def verdicts_until(
        self, subjects: Iterable[str], purposes: Iterable[str]
    ) -> tuple[dict[tuple[str, str], bool], int | None]:
        """:meth:`verdicts_many`, and until when (µs since the epoch) they hold without a write.

        Time alone changes a verdict only one way: an allowed consent expires. The second
        value is the earliest such expiry among the allowed pairs (None: none expires); before
        it, only a write to the store (a decision, restriction, objection, link or erasure)
        can change any of these verdicts.
        """
        problems: list[Problem] = []
        people = list(dict.fromkeys(check_str_items(subjects, "subjects", problems)))
        names = check_str_items(purposes, "purposes", problems)
        raise_problems(problems)
        wanted = {p: self.manifest.purpose(p) for p in names}
        guarded = [p for p, found in wanted.items() if found.needs_consent or found.objectable]
        result = {(s, p): True for s in people for p in wanted if p not in guarded}
        if not guarded or not people:
            return result, None
        records = [(s, STATE_KIND, p) for s in people for p in guarded]
        records += [(s, RESTRICTION_KIND, RESTRICTION_NAME) for s in people]
        try:
            raws = self._ledger.raw_many(records)
        except (ValueError, TypeError):
            raise bad_subject() from None
        now = to_micros(self.clock.now())
        horizon: int | None = None
        for subject in people:
            restricted_subject = (subject, RESTRICTION_KIND, RESTRICTION_NAME) in raws
            for purpose in guarded:
                state, restricted = decode_state(raws.get((subject, STATE_KIND, purpose)))
                if state is None and not restricted and not wanted[purpose].needs_consent:
                    restricted = restricted_subject  # see _verdict
                _, ok, _, expires = evaluate(self.manifest, wanted[purpose], state, now)
                ok = ok and not restricted
                result[(subject, purpose)] = ok
                if ok and expires is not None and (horizon is None or expires < horizon):
                    horizon = expires
        return result, horizon

    def state(self, subject: str, purpose: str) -> ConsentState:
        """The derived state of one purpose, with the deciding ledger record."""
        name, ok, reason, expires = self._verdict(subject, purpose)
        current = self._ledger.state(subject, purpose)[0]
        record = None if current is None else self._ledger.record(subject, current.name)
        found = self.manifest.purpose(purpose)
        return ConsentState(
            purpose=purpose,
            lawful_basis=found.lawful_basis,
            state=name,
            allowed=ok,
            reason=reason,
            record=record,
            expires_at=None if expires is None else from_micros(expires),
        )

    def states(self, subject: str) -> dict[str, ConsentState]:
        """The derived state of every purpose in the manifest, in manifest order."""
        self._check_subject(subject)
        return {p.id: self.state(subject, p.id) for p in self.manifest.purposes}

    def consent_mode(self, subject: str) -> dict[str, str]:
        """Google Consent Mode v2 state of ``subject``: type -> ``granted`` / ``denied``.

        A type is granted only if every purpose the manifest maps to it is allowed now; a type
        no purpose maps to is denied.
        """
        return consent_mode(self.manifest, lambda purpose: self.allowed(subject, purpose))

    # -- reading the ledger -------------------------------------------------------------------

    def ledger(self, subject: str, purpose: str | None = None) -> list[ConsentRecord]:
        """The subject's ledger records (of one purpose), in append order."""
        self._check_subject(subject)
        records = self._ledger.records(subject)
        return [r for r in records if purpose is None or r.purpose == purpose]

    def decisions(self, subject: str) -> dict[str, ConsentRecord]:
        """The deciding record per purpose recomputed from the whole ledger (see :func:`decide`)."""
        return decide(self.ledger(subject))

    def conflicts(self, subject: str) -> list[ConsentRecord]:
        """Records that resolved a conflict (a GPC opt-out against an explicit opt-in, …)."""
        return [record for record in self.ledger(subject) if record.conflict is not None]

    # -- explicit decisions -------------------------------------------------------------------

    def grant(
        self,
        subject: str,
        purposes: str | Iterable[str],
        *,
        notice: str,
        notice_version: str,
        source: str | None = None,
        method: str = "explicit",
        jurisdiction: str | None = None,
        language: str | None = None,
        notice_sha256: str | None = None,
        occurred_at: datetime | None = None,
        gpc_confirmed: bool = False,
        actor: str = "system",
        context: ConsentContext | None = None,
    ) -> ConsentReceipt:
        """Record that ``subject`` gave consent to ``purposes`` after seeing ``notice``.

        ``notice`` must be the purposes' notice and ``notice_version`` a listed version of it
        (a grant under an older version is recorded truthfully, and is stale at once).
        ``language`` picks the text when the version exists in several languages;
        ``notice_sha256``, if given, must match the manifest. ``occurred_at`` (aware, not in
        the future) backdates the decision, e.g. for an import. ``gpc_confirmed`` marks an
        opt-in the subject confirmed after being told it conflicts with their GPC signal.
        ``source`` is required unless ``context`` gives it (see :class:`ConsentContext`).
        """
        problems: list[Problem] = []
        ctx = check_context(context, source, method, jurisdiction, actor, problems=problems)
        shown = Shown(
            notice=notice,
            notice_version=notice_version,
            language=language,
            notice_sha256=notice_sha256,
            occurred_at=occurred_at,
            gpc_confirmed=gpc_confirmed,
        )
        return self._explicit("given", subject, purposes, shown=shown, ctx=ctx, problems=problems)

    def refuse(
        self,
        subject: str,
        purposes: str | Iterable[str],
        *,
        notice: str,
        notice_version: str,
        source: str | None = None,
        method: str = "explicit",
        jurisdiction: str | None = None,
        language: str | None = None,
        notice_sha256: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
        context: ConsentContext | None = None,
    ) -> ConsentReceipt:
        """Record that ``subject`` refused consent to ``purposes`` (same arguments as grant)."""
        problems: list[Problem] = []
        ctx = check_context(context, source, method, jurisdiction, actor, problems=problems)
        shown = Shown(
            notice=notice,
            notice_version=notice_version,
            language=language,
            notice_sha256=notice_sha256,
            occurred_at=occurred_at,
        )
        return self._explicit("refused", subject, purposes, shown=shown, ctx=ctx, problems=problems)

    def validate_decision(
        self,
        status: Literal["given", "refused"],
        purposes: str | Iterable[str],
        *,
        notice: str,
        notice_version: str,
        source: str | None = None,
        method: str = "explicit",
        jurisdiction: str | None = None,
        language: str | None = None,
        notice_sha256: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
        context: ConsentContext | None = None,
    ) -> None:
        """Check a grant or refusal without recording it (before creating a subject, say).

        Raises the :class:`InvalidInput` that :meth:`grant` / :meth:`refuse` would raise.
        """
        problems: list[Problem] = []
        if status not in ("given", "refused"):  # a tuple: an unhashable status compares, too
            raise_problems([Problem(where="status", what="must be one of: given, refused")])
        ctx = check_context(context, source, method, jurisdiction, actor, problems=problems)
        shown = Shown(
            notice=notice,
            notice_version=notice_version,
            language=language,
            notice_sha256=notice_sha256,
            occurred_at=occurred_at,
        )
        explicit_drafts(
            self.manifest, self.clock, status, purposes, shown, context=ctx, problems=problems
        )
        raise_problems(problems)

    def validate_context(
        self,
        *,
        source: str | None = None,
        method: str = "explicit",
        jurisdiction: str | None = None,
        actor: str = "system",
        context: ConsentContext | None = None,
    ) -> None:
        """Check who and how (source, method, jurisdiction, actor) as every change does.

        For callers that audit these fields themselves, even when no change is recorded.
        Raises :class:`InvalidInput` listing every problem.
        """
        problems: list[Problem] = []
        check_context(context, source, method, jurisdiction, actor, problems=problems)
        raise_problems(problems)

    def _explicit(
        self,
        status: Status,
        subject: str,
        purposes: str | Iterable[str],
        *,
        shown: Shown,
        ctx: ConsentContext,
        problems: list[Problem],
    ) -> ConsentReceipt:
        drafts = explicit_drafts(
            self.manifest, self.clock, status, purposes, shown, context=ctx, problems=problems
        )
        self._check(subject, problems)
        return self._ledger.run(subject, status, ctx.actor, lambda _: (drafts, []), gate=False)

    def withdraw(
        self,
        subject: str,
        purposes: str | Iterable[str] = "all",
        *,
        source: str | None = None,
        method: str = "explicit",
        jurisdiction: str | None = None,
        notice: str | None = None,
        notice_version: str | None = None,
        language: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
        context: ConsentContext | None = None,
    ) -> ConsentReceipt:
        """Withdraw consent to ``purposes`` (``"all"``: every consent purpose) in one call.

        Only purposes whose deciding record is a grant (current, stale or expired) get a
        withdrawal record; the others are listed in ``receipt.unchanged``. Each withdrawal
        records the notice of the grant it withdraws, unless ``notice`` names the notice shown
        on the withdrawal page. The withdrawal cascade deletes the purposes' derived data in
        the same transaction.
        """
        problems: list[Problem] = []
        checked = self._withdrawal_inputs(
            purposes,
            source,
            method,
            jurisdiction,
            notice,
            notice_version,
            language,
            occurred_at,
            actor,
            context,
            problems,
        )
        self._check(subject, problems)
        ctx, chosen, shown, when = checked
        plan = withdrawal_plan([p for _, p in chosen], shown, when, ctx)
        return self._ledger.run(subject, "withdrawn", ctx.actor, plan)

    def validate_withdrawal(
        self,
        purposes: str | Iterable[str] = "all",
        *,
        source: str | None = None,
        method: str = "explicit",
        jurisdiction: str | None = None,
        notice: str | None = None,
        notice_version: str | None = None,
        language: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
        context: ConsentContext | None = None,
    ) -> None:
        """Check a withdrawal without recording it (before creating a subject, say).

        Raises the :class:`InvalidInput` that :meth:`withdraw` would raise for these inputs.
        """
        problems: list[Problem] = []
        self._withdrawal_inputs(
            purposes,
            source,
            method,
            jurisdiction,
            notice,
            notice_version,
            language,
            occurred_at,
            actor,
            context,
            problems,
        )
        raise_problems(problems)

    def _withdrawal_inputs(  # noqa: PLR0917 (the withdrawal's own inputs, once)
        self,
        purposes: str | Iterable[str],
        source: str | None,
        method: str,
        jurisdiction: str | None,
        notice: str | None,
        notice_version: str | None,
        language: str | None,
        occurred_at: datetime | None,
        actor: str,
        context: ConsentContext | None,
        problems: list[Problem],
    ) -> tuple[ConsentContext, Any, Notice | None, datetime | None]:
        ctx = check_context(context, source, method, jurisdiction, actor, problems=problems)
        chosen = check_purposes(self.manifest, purposes, problems, allow_all=True, basis="consent")
        shown: Notice | None = None
        if notice is not None or notice_version is not None:
            shown = check_notice(
                self.manifest,
                problems,
                notice=notice,
                version=notice_version,
                language=language,
                covering=chosen,
            )
        return ctx, chosen, shown, check_occurred(self.clock, occurred_at, problems)

    def object(
        self,
        subject: str,
        purpose: str,
        *,
        source: str | None = None,
        method: str = "explicit",
        jurisdiction: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
        context: ConsentContext | None = None,
    ) -> ConsentReceipt:
        """Record an objection (GDPR Art. 21) to a legitimate-interest purpose.

        From then on the guard denies the purpose, and its cascade deletes derived data.
        """
        problems: list[Problem] = []
        ctx = check_context(context, source, method, jurisdiction, actor, problems=problems)
        return self._objection(
            "objected", subject, purpose, ctx=ctx, occurred_at=occurred_at, problems=problems
        )

    def lift_objection(
        self,
        subject: str,
        purpose: str,
        *,
        source: str | None = None,
        method: str = "explicit",
        jurisdiction: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
        context: ConsentContext | None = None,
    ) -> ConsentReceipt:
        """Record that the subject lifted their objection (only if one is in force)."""
        problems: list[Problem] = []
        ctx = check_context(context, source, method, jurisdiction, actor, problems=problems)
        return self._objection(
            "objection_lifted",
            subject,
            purpose,
            ctx=ctx,
            occurred_at=occurred_at,
            problems=problems,
        )

    def _objection(
        self,
        status: Status,
        subject: str,
        purpose: str,
        *,
        ctx: ConsentContext,
        occurred_at: datetime | None,
        problems: list[Problem],
    ) -> ConsentReceipt:
        chosen = check_purposes(
            self.manifest, purpose, problems, allow_all=False, basis="legitimate_interest"
        )
        when = check_occurred(self.clock, occurred_at, problems)
        self._check(subject, problems)
        target = chosen[0][1]

        plan = objection_plan(self.manifest, status, target, when, ctx)
        gate = status == "objection_lifted"
        return self._ledger.run(subject, status, ctx.actor, plan, gate=gate)

    def expire(self, subject: str, *, actor: str = "system") -> ConsentReceipt:
        """Record an ``expired`` entry for every grant past its maximum age, and cascade.

        Guards already deny expired grants without this (expiry is derived at read time);
        this makes the expiry part of the ledger and deletes the derived data it stops.
        """
        problems: list[Problem] = []
        ctx = check_context(None, "api", "expiry", None, actor, problems=problems)
        self._check(subject, problems)

        return self._ledger.run(subject, "expired", ctx.actor, expiry_plan(self.manifest, ctx))

    # -- restriction (GDPR Art. 18) -------------------------------------------------------------

    def restrict(
        self,
        subject: str,
        *,
        source: str | None = None,
        method: str = "explicit",
        jurisdiction: str | None = None,
        reference: str | None = None,
        actor: str = "system",
        context: ConsentContext | None = None,
    ) -> RestrictionChange:
        """Restrict processing of ``subject`` (GDPR Art. 18): guards deny until it is lifted.

        Flags the compact state of every consent and legitimate-interest purpose (creating a
        flag-only record for a purpose with no decision) and writes the restriction record
        and an audit entry, in one transaction. Idempotent: restricting again flags only
        purposes added to the manifest since (and records nothing if there are none).
        ``reference`` ties it to a request (``dsr_…``); it must be a short token.
        """
        problems: list[Problem] = []
        ctx = check_context(context, source, method, jurisdiction, actor, problems=problems)
        check_reference(reference, problems)
        self._check(subject, problems)
        return change_restriction(
            self._ledger, subject, restrict=True, context=ctx, reference=reference
        )

    def lift_restriction(
        self,
        subject: str,
        *,
        source: str | None = None,
        method: str = "explicit",
        jurisdiction: str | None = None,
        reference: str | None = None,
        actor: str = "system",
        context: ConsentContext | None = None,
    ) -> RestrictionChange:
        """Lift a restriction: every guard answers from the ledger again, as before it.

        Removes the flags and the flag-only records, deletes the restriction record and
        appends an audit entry, in one transaction. Records nothing if the subject is not
        restricted.
        """
        problems: list[Problem] = []
        ctx = check_context(context, source, method, jurisdiction, actor, problems=problems)
        check_reference(reference, problems)
        self._check(subject, problems)
        return change_restriction(
            self._ledger, subject, restrict=False, context=ctx, reference=reference
        )

    def restriction(self, subject: str) -> dict[str, Any] | None:
        """The restriction in force for ``subject`` (since, source, method, …), or None."""
        self._check_subject(subject)
        doc = self.vault.get_json(subject, RESTRICTION_KIND, RESTRICTION_NAME)
        return dict(doc) if isinstance(doc, dict) else None

    def is_restricted(self, subject: str) -> bool:
        """Whether processing of ``subject`` is restricted (no decryption needed)."""
        self._check_subject(subject)
        return restriction_exists(self.store, subject)

    # -- signals ------------------------------------------------------------------------------

    def record_gpc(
        self,
        subject: str,
        header_value: str | bytes | bool | None,  # noqa: FBT001  # the value as read: navigator gives a bool
        *,
        via: Literal["header", "navigator"] = "header",
        request_metadata: Mapping[str, str] | None = None,
        jurisdiction: str | None = None,
        actor: str = "system",
    ) -> ConsentReceipt:
        """Honour a Global Privacy Control signal (the ``Sec-GPC`` request header's value).

        ``"1"`` (or ``True``, read from ``navigator.globalPrivacyControl``: ``via="navigator"``)
        opts the subject out of every purpose marked ``gpc_opt_out`` (a refusal, or a
        withdrawal of a grant; an objection for a legitimate-interest purpose), with source
        and method ``gpc``. Anything else is no signal and records nothing. Repeated signals
        record nothing new while the opt-out stands. The records name no notice (none was
        shown); their evidence is the signal's source and value, and ``request_metadata``
        (short tokens the caller supplies, such as ``user_agent_sha256``: digests, never raw
        personal values).

        A conflict with an explicit opt-in in force is *recorded*, not hidden: the opt-out is
        honoured (CCPA regulations, 11 CCR § 7025(c)(3)) and the withdrawal record carries a
        :class:`Conflict` naming the opt-in, listed by :meth:`conflicts`, so the business may
        ask the consumer to confirm. A grant made with ``gpc_confirmed=True`` (the consumer
        confirmed after being told) is not withdrawn by later signals.
        """
        problems: list[Problem] = []
        ctx = check_context(None, "gpc", "gpc", jurisdiction, actor, problems=problems)
        opt_out = gpc_signal(header_value, problems)
        evidence = gpc_evidence(via, request_metadata, problems)
        self._check(subject, problems)
        if not opt_out:
            return self._ledger.empty_receipt(subject, "gpc", [])
        evidence = {**evidence, "value": "true" if header_value is True else "1"}
        return self._ledger.run(subject, "gpc", ctx.actor, gpc_plan(self.manifest, ctx, evidence))

    def apply_tc_string(
        self,
        subject: str,
        tc_string: str,
        *,
        jurisdiction: str | None = None,
        actor: str = "system",
    ) -> ConsentReceipt:
        """Apply an IAB TCF v2.2 TC string to the purposes the manifest maps to TCF purposes.

        A consent purpose counts as granted when *every* TCF purpose it maps to has consent in
        the string, refused otherwise (source and method ``tcf``; the evidence is the string's
        SHA-256 and the CMP's fields, never the string). Signals are ordered by when the
        person acted, so a later choice always wins: a new string is dated by its exact
        ``LastUpdated``, or, when that is day-granular (a midnight, as CMPs write it) and the
        day reaches the latest decision, by when it was received; a string applied before
        keeps its first date, so re-sending it (strings arrive with every request) records
        nothing, and an older string never overrides a newer decision. A malformed string
        raises :class:`InvalidInput` and records nothing. Legitimate-interest purposes are
        not changed by TCF signals.
        """
        problems: list[Problem] = []
        ctx = check_context(None, "tcf", "tcf", jurisdiction, actor, problems=problems)
        self._check(subject, problems)
        tc = decode_tc_string(tc_string)
        digest = hashlib.sha256(tc_string.encode()).hexdigest()
        plan = tcf_plan(self.manifest, tc, digest, ctx)
        return self._ledger.run(subject, "tcf", ctx.actor, plan)

    # -- identity merge -----------------------------------------------------------------------

    def merge(
        self, from_subject: str, into_subject: str, *, actor: str = "system"
    ) -> ConsentReceipt:
        """Copy ``from_subject``'s ledger into ``into_subject``'s (an anonymous visitor logs in).

        Records are copied in their original order with their original ``occurred_at``,
        ``origin`` pointing at the copied record and ``supersedes`` at the record each copy
        replaced. The deciding rule is the ledger's own (see the module docs): per purpose
        the latest ``occurred_at`` wins and a refusal, withdrawal, expiry or objection beats
        a grant of the same instant, so a refusal or withdrawal is never overridden by an
        older (or equally old) grant from either side. Merging again copies nothing twice.
        ``from_subject``'s ledger is left as it was. A restriction of ``from_subject``
        carries over to ``into_subject``.
        """
        problems: list[Problem] = []
        ctx = check_context(None, "import", "merge", None, actor, problems=problems)
        # Compared only as text: two deeply nested non-str values would recurse past the limit.
        if isinstance(from_subject, str) and from_subject == into_subject:
            problems.append(Problem(where="from_subject", what="is the same subject as into"))
        named = [(from_subject, "from_subject"), (into_subject, "into_subject")]
        check_subjects(named, problems, self._subject_exists)
        return merge_ledgers(self._ledger, from_subject, into_subject, ctx)

    # -- bulk ingest --------------------------------------------------------------------------

    def bulk(self) -> BulkDecisions:
        """Decisions for one bulk-ingest batch, inside the caller's store transaction.

        The decisions are this manager's own (same checks, records, receipts and audit
        entries); each subject's ledger writes are held until :meth:`BulkDecisions.flush`.
        """
        ledger = BatchLedger.like(self._ledger)
        view = copy.copy(self)
        view._ledger = ledger  # noqa: SLF001 (a copy of self; the kit's manager keeps its own)
        exists = self._subject_exists
        # A subject the batch just created exists: no store read to check it per decision.
        view._subject_exists = lambda subject: subject in ledger.fresh or exists(subject)  # noqa: SLF001
        return BulkDecisions(view, ledger)

    # -- plumbing -----------------------------------------------------------------------------

    def _check_subject(self, subject: str) -> None:
        if not valid_subject_id(subject):
            raise bad_subject()

    def _check(self, subject: str, problems: list[Problem]) -> None:
        # Never dispatch on the subject's type: a caller's non-str subject must be reported as
        # a bad subject, not unpacked as a list of (subject, where) pairs.
        check_subjects([(subject, "subject")], problems, self._subject_exists)
