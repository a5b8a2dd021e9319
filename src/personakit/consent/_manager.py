"""The consent ledger, its guards, signals (GPC, TCF, Consent Mode) and identity merge.

Storage, per subject, all sealed with the subject's data key through the vault:

* ``consent/<seq:010d>.<record id>``: the append-only ledger, one JSON record per decision;
  the zero-padded sequence number makes a scan return records in the order they were appended.
* ``consent-state/<purpose>``: a compact summary of the *deciding* record of each purpose,
  rewritten in the same transaction as every append, so a guard is one read and one decrypt.
* ``consent-head/ledger``: the last sequence number used.
* ``restriction/current``: present while processing is restricted (GDPR Art. 18), with when,
  where and how the restriction was asked for.

Restriction is encoded *in the compact state records*, so that a guard stays one read: while a
subject is restricted, the compact record of every consent and legitimate-interest purpose
carries a restricted flag (a purpose with no decision gets a record holding only the flag), and
the guard denies a flagged purpose whatever the ledger says. Every ledger append while the
subject is restricted keeps the flag. Lifting removes the flags and the flag-only records. The
ledger itself is untouched: restriction is not a consent decision, and lifting it restores
exactly the answer the ledger gave before.

Reading of Art. 18(2): while restricted, personal data may be stored but only processed with
consent given *for that processing*, for legal claims, to protect others or for an important
public interest. personakit therefore denies every consent-based and legitimate-interest
purpose (personalisation, analytics, marketing, sale/sharing) until the restriction is lifted,
and leaves contract and legal-obligation purposes allowed: the host must limit those to what
Art. 18(2) still permits (keeping the order records, defending legal claims), since personakit
cannot tell a delivery from a legal claim.

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

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final, Literal

from attrs import frozen

from personakit._clock import Clock
from personakit._codec import loads
from personakit._ids import ACTOR_RE, check_actor, new_id
from personakit._vault import Vault, valid_subject_id
from personakit.audit import AuditLog
from personakit.consent._cascade import CascadeRegistry
from personakit.consent._manifest import (
    CONSENT_MODE_TYPES,
    LawfulBasis,
    Manifest,
    Notice,
    Purpose,
)
from personakit.consent._records import (
    NEGATIVE_STATUSES,
    SOURCES,
    Conflict,
    ConsentReceipt,
    ConsentRecord,
    ConsentState,
    StateName,
    Status,
    from_micros,
    to_micros,
)
from personakit.consent._tcf import decode_tc_string
from personakit.exceptions import (
    ConsentRequired,
    IntegrityError,
    InvalidInput,
    Problem,
    SubjectNotFound,
)
from personakit.storage import Store

__all__ = ["ConsentManager", "RestrictionChange", "decide"]

LEDGER_KIND: Final = "consent"
STATE_KIND: Final = "consent-state"
HEAD_KIND: Final = "consent-head"
HEAD_NAME: Final = "ledger"
RESTRICTION_KIND: Final = "restriction"
RESTRICTION_NAME: Final = "current"

_METHOD_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,31}")
_JURISDICTION_RE: Final = re.compile(r"[A-Z]{2,3}(-[A-Z0-9]{1,3})?")

_COMPACT_FORMAT: Final = "c1"
# A compact record that holds only the restriction flag (the purpose has no decision yet).
_RESTRICTED_ONLY: Final = b"r1"
_RESTRICTED_FLAG: Final = "R"
# Positions in the compact state record (kept small for the guard's hot path).
_STATUS, _OCCURRED, _EXPIRES, _NOTICE, _VERSION, _NAME, _METHOD, _CONFIRMED = range(8)
_PLAIN_FIELDS: Final = 9  # the format tag and the eight fields above
_RESTRICTED_FIELDS: Final = 10  # ... and the restricted flag
_RESTRICTED_REASON: Final = "processing restricted (GDPR Art. 18) until the restriction is lifted"


def _ranks_before(occurred_us: int, negative: bool, other: list[Any]) -> bool:  # noqa: FBT001
    """Whether a record (occurred_us, negative) appended now beats the compact ``other``."""
    other_negative = other[_STATUS] in NEGATIVE_STATUSES
    return (occurred_us, negative) >= (other[_OCCURRED], other_negative)


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


@frozen(kw_only=True)
class _Draft:
    """A record about to be appended (the ledger fills in id, seq, supersedes, timestamps)."""

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
    occurred_at: datetime | None = None  # None: now (a live decision)
    expires_at: datetime | None = None  # None on a grant: occurred_at + maximum age
    conflict: Conflict | None = None
    gpc_confirmed: bool = False
    evidence: Mapping[str, Any] | None = None
    origin: str | None = None


@frozen(kw_only=True)
class _Context:
    """Who and how, common to every record of one change."""

    source: str
    method: str
    jurisdiction: str | None
    actor: str


class ConsentManager:
    """Consent ledger, guards and signals for one kit (``kit.consent``).

    Every change appends to the ledger, updates the compact state, runs the withdrawal
    cascade and appends an audit entry in one store transaction, then returns a
    :class:`ConsentReceipt`. Bad input raises :class:`InvalidInput` before anything is written.
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
            compact, restricted = _read_state(self.vault, subject, purpose)
        except (ValueError, TypeError):
            raise _bad_subject() from None
        if compact is None and not restricted and not found.needs_consent:
            # A legitimate-interest purpose with no state record would read as allowed; it may
            # have been added to the manifest after the subject was restricted, so the
            # subject-level restriction record decides (one extra read, only on this path).
            restricted = self._restricted_record_exists(subject)
        verdict = _evaluate(self.manifest, found, compact, to_micros(self.clock.now()))
        if restricted:
            return verdict[0], False, _RESTRICTED_REASON, verdict[3]
        return verdict

    def _restricted_record_exists(self, subject: str) -> bool:
        return self.store.get(Vault.key(subject, RESTRICTION_KIND, RESTRICTION_NAME)) is not None

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
            raise _bad_subject()
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
        wanted = {p: self.manifest.purpose(p) for p in purposes}
        guarded = [p for p, found in wanted.items() if found.needs_consent or found.objectable]
        people = list(dict.fromkeys(subjects))
        result = {(s, p): True for s in people for p in wanted if p not in guarded}
        if not guarded or not people:
            return result, None
        records = [(s, STATE_KIND, p) for s in people for p in guarded]
        records += [(s, RESTRICTION_KIND, RESTRICTION_NAME) for s in people]
        try:
            raws = self.vault.get_many(records)
        except (ValueError, TypeError):
            raise _bad_subject() from None
        now = to_micros(self.clock.now())
        horizon: int | None = None
        for subject in people:
            restricted_subject = (subject, RESTRICTION_KIND, RESTRICTION_NAME) in raws
            for purpose in guarded:
                compact, restricted = _decode_state(raws.get((subject, STATE_KIND, purpose)))
                if compact is None and not restricted and not wanted[purpose].needs_consent:
                    restricted = restricted_subject  # see _verdict
                _, ok, _, expires = _evaluate(self.manifest, wanted[purpose], compact, now)
                ok = ok and not restricted
                result[(subject, purpose)] = ok
                if ok and expires is not None and (horizon is None or expires < horizon):
                    horizon = expires
        return result, horizon

    def state(self, subject: str, purpose: str) -> ConsentState:
        """The derived state of one purpose, with the deciding ledger record."""
        name, ok, reason, expires = self._verdict(subject, purpose)
        compact = _read_compact(self.vault, subject, purpose)
        record = None if compact is None else self._record(subject, compact[_NAME])
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
        verdicts: dict[str, bool] = {}
        out: dict[str, str] = {}
        for mode_type in CONSENT_MODE_TYPES:
            purposes = self.manifest.purposes_for_consent_mode(mode_type)
            for purpose in purposes:
                if purpose.id not in verdicts:
                    verdicts[purpose.id] = self.allowed(subject, purpose.id)
            granted = bool(purposes) and all(verdicts[p.id] for p in purposes)
            out[mode_type] = "granted" if granted else "denied"
        return out

    # -- reading the ledger -------------------------------------------------------------------

    def ledger(self, subject: str, purpose: str | None = None) -> list[ConsentRecord]:
        """The subject's ledger records (of one purpose), in append order."""
        self._check_subject(subject)
        records = [
            ConsentRecord.from_json(loads(raw))
            for _, _, raw in self.vault.scan(subject, LEDGER_KIND)
        ]
        return [r for r in records if purpose is None or r.purpose == purpose]

    def decisions(self, subject: str) -> dict[str, ConsentRecord]:
        """The deciding record per purpose recomputed from the whole ledger (see :func:`decide`)."""
        return decide(self.ledger(subject))

    def conflicts(self, subject: str) -> list[ConsentRecord]:
        """Records that resolved a conflict (a GPC opt-out against an explicit opt-in, …)."""
        return [record for record in self.ledger(subject) if record.conflict is not None]

    def _record(self, subject: str, name: str) -> ConsentRecord | None:
        doc = self.vault.get_json(subject, LEDGER_KIND, name)
        return None if doc is None else ConsentRecord.from_json(doc)

    # -- explicit decisions -------------------------------------------------------------------

    def grant(
        self,
        subject: str,
        purposes: str | Iterable[str],
        *,
        notice: str,
        notice_version: str,
        source: str,
        method: str = "explicit",
        jurisdiction: str | None = None,
        language: str | None = None,
        notice_sha256: str | None = None,
        occurred_at: datetime | None = None,
        gpc_confirmed: bool = False,
        actor: str = "system",
    ) -> ConsentReceipt:
        """Record that ``subject`` gave consent to ``purposes`` after seeing ``notice``.

        ``notice`` must be the purposes' notice and ``notice_version`` a listed version of it
        (a grant under an older version is recorded truthfully, and is stale at once).
        ``language`` picks the text when the version exists in several languages;
        ``notice_sha256``, if given, must match the manifest. ``occurred_at`` (aware, not in
        the future) backdates the decision, e.g. for an import. ``gpc_confirmed`` marks an
        opt-in the subject confirmed after being told it conflicts with their GPC signal.
        """
        return self._explicit(
            "given",
            subject,
            purposes,
            notice=notice,
            notice_version=notice_version,
            language=language,
            notice_sha256=notice_sha256,
            occurred_at=occurred_at,
            gpc_confirmed=gpc_confirmed,
            context=(source, method, jurisdiction, actor),
        )

    def refuse(
        self,
        subject: str,
        purposes: str | Iterable[str],
        *,
        notice: str,
        notice_version: str,
        source: str,
        method: str = "explicit",
        jurisdiction: str | None = None,
        language: str | None = None,
        notice_sha256: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
    ) -> ConsentReceipt:
        """Record that ``subject`` refused consent to ``purposes`` (same arguments as grant)."""
        return self._explicit(
            "refused",
            subject,
            purposes,
            notice=notice,
            notice_version=notice_version,
            language=language,
            notice_sha256=notice_sha256,
            occurred_at=occurred_at,
            gpc_confirmed=False,
            context=(source, method, jurisdiction, actor),
        )

    def validate_decision(
        self,
        status: Literal["given", "refused"],
        purposes: str | Iterable[str],
        *,
        notice: str,
        notice_version: str,
        source: str,
        method: str = "explicit",
        jurisdiction: str | None = None,
        language: str | None = None,
        notice_sha256: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
    ) -> None:
        """Check a grant or refusal without recording it (before creating a subject, say).

        Raises the :class:`InvalidInput` that :meth:`grant` / :meth:`refuse` would raise.
        """
        _, _, problems = self._explicit_drafts(
            status,
            purposes,
            notice=notice,
            notice_version=notice_version,
            language=language,
            notice_sha256=notice_sha256,
            occurred_at=occurred_at,
            gpc_confirmed=False,
            context=(source, method, jurisdiction, actor),
        )
        if status not in {"given", "refused"}:
            problems.append(Problem(where="status", what="must be one of: given, refused"))
        if problems:
            raise InvalidInput("invalid consent request", problems)

    def validate_context(
        self,
        *,
        source: str,
        method: str = "explicit",
        jurisdiction: str | None = None,
        actor: str = "system",
    ) -> None:
        """Check who and how (source, method, jurisdiction, actor) as every change does.

        For callers that audit these fields themselves, even when no change is recorded.
        Raises :class:`InvalidInput` listing every problem.
        """
        problems: list[Problem] = []
        _context(source, method, jurisdiction, actor, problems=problems)
        if problems:
            raise InvalidInput("invalid consent request", problems)

    def _explicit(
        self,
        status: Status,
        subject: str,
        purposes: str | Iterable[str],
        *,
        notice: str,
        notice_version: str,
        language: str | None,
        notice_sha256: str | None,
        occurred_at: datetime | None,
        gpc_confirmed: bool,
        context: tuple[str, str, str | None, str],
    ) -> ConsentReceipt:
        ctx, drafts, problems = self._explicit_drafts(
            status,
            purposes,
            notice=notice,
            notice_version=notice_version,
            language=language,
            notice_sha256=notice_sha256,
            occurred_at=occurred_at,
            gpc_confirmed=gpc_confirmed,
            context=context,
        )
        self._check(subject, problems)
        return self._run(subject, status, ctx.actor, lambda _: (drafts, []), gate=False)

    def _explicit_drafts(
        self,
        status: Status,
        purposes: str | Iterable[str],
        *,
        notice: str,
        notice_version: str,
        language: str | None,
        notice_sha256: str | None,
        occurred_at: datetime | None,
        gpc_confirmed: bool,
        context: tuple[str, str, str | None, str],
    ) -> tuple[_Context, list[_Draft], list[Problem]]:
        problems: list[Problem] = []
        ctx = _context(*context, problems=problems)
        chosen = self._purposes(purposes, problems, allow_all=False, basis="consent")
        shown = self._notice(notice, notice_version, language, notice_sha256, problems)
        for index, purpose in chosen:
            if shown is not None and purpose.notice != shown.id:
                problems.append(
                    Problem(where=_at("purpose", index), what="is not covered by this notice")
                )
        when = self._occurred(occurred_at, problems)
        flag: object = gpc_confirmed  # callers without a type checker can pass anything
        if not isinstance(flag, bool):
            problems.append(Problem(where="gpc_confirmed", what="must be a bool"))
        if shown is None:
            return ctx, [], problems
        drafts = [
            _Draft(
                purpose=purpose.id,
                status=status,
                lawful_basis=purpose.lawful_basis,
                **_notice_fields(shown),
                source=ctx.source,
                method=ctx.method,
                jurisdiction=ctx.jurisdiction,
                occurred_at=when,
                gpc_confirmed=gpc_confirmed and status == "given",
            )
            for _, purpose in chosen
        ]
        return ctx, drafts, problems

    def withdraw(
        self,
        subject: str,
        purposes: str | Iterable[str] = "all",
        *,
        source: str,
        method: str = "explicit",
        jurisdiction: str | None = None,
        notice: str | None = None,
        notice_version: str | None = None,
        language: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
    ) -> ConsentReceipt:
        """Withdraw consent to ``purposes`` (``"all"``: every consent purpose) in one call.

        Only purposes whose deciding record is a grant (current, stale or expired) get a
        withdrawal record; the others are listed in ``receipt.unchanged``. Each withdrawal
        records the notice of the grant it withdraws, unless ``notice`` names the notice shown
        on the withdrawal page. The withdrawal cascade deletes the purposes' derived data in
        the same transaction.
        """
        problems: list[Problem] = []
        ctx = _context(source, method, jurisdiction, actor, problems=problems)
        chosen = self._purposes(purposes, problems, allow_all=True, basis="consent")
        shown: Notice | None = None
        if notice is not None or notice_version is not None:
            shown = self._notice(notice, notice_version, language, None, problems)
            for index, purpose in chosen:
                if shown is not None and purpose.notice != shown.id:
                    problems.append(
                        Problem(where=_at("purpose", index), what="is not covered by this notice")
                    )
        when = self._occurred(occurred_at, problems)
        self._check(subject, problems)

        def plan(ledger: _Ledger) -> tuple[list[_Draft], list[str]]:
            drafts: list[_Draft] = []
            unchanged: list[str] = []
            for _, purpose in chosen:
                current = ledger.current(purpose.id)
                if current is None or current[_STATUS] != "given":
                    unchanged.append(purpose.id)
                    continue
                fields = _notice_fields(shown) if shown else ledger.notice_of(current)
                drafts.append(
                    _Draft(
                        purpose=purpose.id,
                        status="withdrawn",
                        lawful_basis=purpose.lawful_basis,
                        **fields,
                        source=ctx.source,
                        method=ctx.method,
                        jurisdiction=ctx.jurisdiction,
                        occurred_at=when,
                    )
                )
            return drafts, unchanged

        return self._run(subject, "withdrawn", ctx.actor, plan)

    def object(
        self,
        subject: str,
        purpose: str,
        *,
        source: str,
        method: str = "explicit",
        jurisdiction: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
    ) -> ConsentReceipt:
        """Record an objection (GDPR Art. 21) to a legitimate-interest purpose.

        From then on the guard denies the purpose, and its cascade deletes derived data.
        """
        return self._objection(
            "objected", subject, purpose, (source, method, jurisdiction, actor), occurred_at
        )

    def lift_objection(
        self,
        subject: str,
        purpose: str,
        *,
        source: str,
        method: str = "explicit",
        jurisdiction: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "system",
    ) -> ConsentReceipt:
        """Record that the subject lifted their objection (only if one is in force)."""
        return self._objection(
            "objection_lifted", subject, purpose, (source, method, jurisdiction, actor), occurred_at
        )

    def _objection(
        self,
        status: Status,
        subject: str,
        purpose: str,
        context: tuple[str, str, str | None, str],
        occurred_at: datetime | None,
    ) -> ConsentReceipt:
        problems: list[Problem] = []
        ctx = _context(*context, problems=problems)
        chosen = self._purposes(purpose, problems, allow_all=False, basis="legitimate_interest")
        when = self._occurred(occurred_at, problems)
        self._check(subject, problems)
        target = chosen[0][1]

        def plan(ledger: _Ledger) -> tuple[list[_Draft], list[str]]:
            current = ledger.current(target.id)
            if status == "objection_lifted" and (current is None or current[_STATUS] != "objected"):
                return [], [target.id]
            draft = _Draft(
                purpose=target.id,
                status=status,
                lawful_basis=target.lawful_basis,
                **self._current_notice_fields(target),
                source=ctx.source,
                method=ctx.method,
                jurisdiction=ctx.jurisdiction,
                occurred_at=when,
            )
            return [draft], []

        return self._run(subject, status, ctx.actor, plan, gate=status == "objection_lifted")

    def expire(self, subject: str, *, actor: str = "system") -> ConsentReceipt:
        """Record an ``expired`` entry for every grant past its maximum age, and cascade.

        Guards already deny expired grants without this (expiry is derived at read time);
        this makes the expiry part of the ledger and deletes the derived data it stops.
        """
        problems: list[Problem] = []
        ctx = _context("api", "expiry", None, actor, problems=problems)
        self._check(subject, problems)

        def plan(ledger: _Ledger) -> tuple[list[_Draft], list[str]]:
            drafts: list[_Draft] = []
            for purpose in self.manifest.consent_purposes():
                current = ledger.current(purpose.id)
                if current is None or current[_STATUS] != "given":
                    continue
                state, _, _, expires = _evaluate(self.manifest, purpose, current, ledger.now_us)
                if state != "expired" or expires is None:
                    continue
                drafts.append(
                    _Draft(
                        purpose=purpose.id,
                        status="expired",
                        lawful_basis=purpose.lawful_basis,
                        **ledger.notice_of(current),
                        source=ctx.source,
                        method=ctx.method,
                        jurisdiction=None,
                        occurred_at=from_micros(expires),
                    )
                )
            return drafts, []

        return self._run(subject, "expired", ctx.actor, plan)

    # -- restriction (GDPR Art. 18) -------------------------------------------------------------

    def restrict(
        self,
        subject: str,
        *,
        source: str,
        method: str = "explicit",
        jurisdiction: str | None = None,
        reference: str | None = None,
        actor: str = "system",
    ) -> RestrictionChange:
        """Restrict processing of ``subject`` (GDPR Art. 18): guards deny until it is lifted.

        Flags the compact state of every consent and legitimate-interest purpose (creating a
        flag-only record for a purpose with no decision) and writes the restriction record
        and an audit entry, in one transaction. Idempotent: restricting again flags only
        purposes added to the manifest since (and records nothing if there are none).
        ``reference`` ties it to a request (``dsr_…``); it must be a short token.
        """
        return self._restriction(
            subject,
            restrict=True,
            context=(source, method, jurisdiction, actor),
            reference=reference,
        )

    def lift_restriction(
        self,
        subject: str,
        *,
        source: str,
        method: str = "explicit",
        jurisdiction: str | None = None,
        reference: str | None = None,
        actor: str = "system",
    ) -> RestrictionChange:
        """Lift a restriction: every guard answers from the ledger again, as before it.

        Removes the flags and the flag-only records, deletes the restriction record and
        appends an audit entry, in one transaction. Records nothing if the subject is not
        restricted.
        """
        return self._restriction(
            subject,
            restrict=False,
            context=(source, method, jurisdiction, actor),
            reference=reference,
        )

    def restriction(self, subject: str) -> dict[str, Any] | None:
        """The restriction in force for ``subject`` (since, source, method, …), or None."""
        self._check_subject(subject)
        doc = self.vault.get_json(subject, RESTRICTION_KIND, RESTRICTION_NAME)
        return dict(doc) if isinstance(doc, dict) else None

    def is_restricted(self, subject: str) -> bool:
        """Whether processing of ``subject`` is restricted (no decryption needed)."""
        self._check_subject(subject)
        return self._restricted_record_exists(subject)

    def _restriction(
        self,
        subject: str,
        *,
        restrict: bool,
        context: tuple[str, str, str | None, str],
        reference: str | None,
    ) -> RestrictionChange:
        problems: list[Problem] = []
        ctx = _context(*context, problems=problems)
        if reference is not None and (
            not isinstance(reference, str) or not ACTOR_RE.fullmatch(reference)
        ):
            problems.append(Problem(where="reference", what="must match [a-z][a-z0-9_.:-]{0,63}"))
        self._check(subject, problems)
        gated = [p.id for p in self.manifest.purposes if p.needs_consent or p.objectable]
        now = self.clock.now()
        changed: list[str] = []
        with self.store.transaction():
            was_restricted = self.is_restricted(subject)
            for purpose in gated:
                raw = self.vault.get(subject, STATE_KIND, purpose)
                compact, flagged = _decode_state(raw)
                if flagged == restrict:
                    continue
                changed.append(purpose)
                if compact is not None:
                    self.vault.put(
                        subject, STATE_KIND, purpose, _encode_compact(compact, restricted=restrict)
                    )
                elif restrict:
                    self.vault.put(subject, STATE_KIND, purpose, _RESTRICTED_ONLY)
                else:
                    self.vault.delete(subject, STATE_KIND, purpose)
            if restrict and not was_restricted:
                self.vault.put_json(
                    subject,
                    RESTRICTION_KIND,
                    RESTRICTION_NAME,
                    {
                        "since": now.isoformat(),
                        "source": ctx.source,
                        "method": ctx.method,
                        "jurisdiction": ctx.jurisdiction,
                        "reference": reference,
                        "actor": ctx.actor,
                    },
                )
            elif not restrict:
                self.vault.delete(subject, RESTRICTION_KIND, RESTRICTION_NAME)
            if changed or was_restricted != restrict:
                self.audit.append(
                    "consent.restricted" if restrict else "consent.restriction_lifted",
                    subject=self._subject_ref(subject),
                    actor=ctx.actor,
                    data={
                        "purposes": changed,
                        "source": ctx.source,
                        "method": ctx.method,
                        "jurisdiction": ctx.jurisdiction,
                        "reference": reference,
                    },
                )
        return RestrictionChange(
            action="restricted" if restrict else "lifted",
            subject=subject,
            subject_ref=self._subject_ref(subject),
            at=now,
            purposes=tuple(changed),
            restricted=restrict,
        )

    # -- signals ------------------------------------------------------------------------------

    def record_gpc(
        self,
        subject: str,
        header_value: str | bytes | None,
        *,
        jurisdiction: str | None = None,
        actor: str = "system",
    ) -> ConsentReceipt:
        """Honour a Global Privacy Control signal (the ``Sec-GPC`` request header's value).

        ``"1"`` opts the subject out of every purpose marked ``gpc_opt_out`` (a refusal, or a
        withdrawal of a grant; an objection for a legitimate-interest purpose), with source
        and method ``gpc``. Anything else is no signal and records nothing. Repeated signals
        record nothing new while the opt-out stands.

        A conflict with an explicit opt-in in force is *recorded*, not hidden: the opt-out is
        honoured (CCPA regulations, 11 CCR § 7025(c)(3)) and the withdrawal record carries a
        :class:`Conflict` naming the opt-in, listed by :meth:`conflicts`, so the business may
        ask the consumer to confirm. A grant made with ``gpc_confirmed=True`` (the consumer
        confirmed after being told) is not withdrawn by later signals.
        """
        problems: list[Problem] = []
        ctx = _context("gpc", "gpc", jurisdiction, actor, problems=problems)
        signal: object = (
            header_value.decode("latin-1") if isinstance(header_value, bytes) else header_value
        )
        if signal is not None and not isinstance(signal, str):
            problems.append(Problem(where="header_value", what="must be str, bytes or None"))
        self._check(subject, problems)
        if not isinstance(signal, str) or signal.strip() != "1":
            return self._empty_receipt(subject, "gpc", [])
        targets = [p for p in self.manifest.purposes if p.gpc_opt_out]

        def plan(ledger: _Ledger) -> tuple[list[_Draft], list[str]]:
            drafts: list[_Draft] = []
            unchanged: list[str] = []
            for purpose in targets:
                draft = self._gpc_draft(ledger, purpose, ctx)
                if draft is None:
                    unchanged.append(purpose.id)
                else:
                    drafts.append(draft)
            return drafts, unchanged

        return self._run(subject, "gpc", ctx.actor, plan)

    def _gpc_draft(self, ledger: _Ledger, purpose: Purpose, ctx: _Context) -> _Draft | None:
        current = ledger.current(purpose.id)
        status: Status
        conflict: Conflict | None = None
        if purpose.needs_consent:
            if current is None:
                status = "refused"
            elif current[_STATUS] == "given" and not current[_CONFIRMED]:
                status = "withdrawn"
                if _evaluate(self.manifest, purpose, current, ledger.now_us)[1]:
                    conflict = Conflict(
                        kind="gpc_vs_opt_in",
                        with_record=_record_id(current),
                        resolution="opt_out_honoured",
                    )
            else:
                return None
        elif current is None or current[_STATUS] == "objection_lifted":
            status = "objected"
            if current is not None:
                conflict = Conflict(
                    kind="gpc_vs_objection_lifted",
                    with_record=_record_id(current),
                    resolution="opt_out_honoured",
                )
        else:
            return None
        fields = ledger.notice_of(current) if current else self._current_notice_fields(purpose)
        return _Draft(
            purpose=purpose.id,
            status=status,
            lawful_basis=purpose.lawful_basis,
            **fields,
            source=ctx.source,
            method=ctx.method,
            jurisdiction=ctx.jurisdiction,
            conflict=conflict,
        )

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
        the string, refused otherwise. Records are dated with the string's ``last_updated``
        (source and method ``tcf``, CMP metadata as evidence), so an older string never
        overrides a newer decision; purposes whose decision would not change are left as they
        are (strings arrive with every request). A malformed string raises
        :class:`InvalidInput` and records nothing. Legitimate-interest purposes are not
        changed by TCF signals.
        """
        problems: list[Problem] = []
        ctx = _context("tcf", "tcf", jurisdiction, actor, problems=problems)
        self._check(subject, problems)
        tc = decode_tc_string(tc_string)
        when = min(tc.last_updated, self.clock.now())
        evidence = {
            "cmp_id": tc.cmp_id,
            "cmp_version": tc.cmp_version,
            "vendor_list_version": tc.vendor_list_version,
            "tcf_policy_version": tc.tcf_policy_version,
            "consent_language": tc.consent_language,
            "publisher_cc": tc.publisher_cc,
            "last_updated": tc.last_updated.isoformat(),
        }
        mapped = [p for p in self.manifest.consent_purposes() if p.tcf_purposes]

        def plan(ledger: _Ledger) -> tuple[list[_Draft], list[str]]:
            drafts: list[_Draft] = []
            unchanged: list[str] = []
            for purpose in mapped:
                wanted = purpose.tcf_purposes <= tc.purpose_consents
                current = ledger.current(purpose.id)
                status: Status | None = None
                if wanted:
                    fresh = _evaluate(self.manifest, purpose, current, ledger.now_us)[1]
                    if (
                        not fresh
                        and ledger.beats(purpose.id, when, negative=False)
                        and not _lapsed_regrant(self.manifest, purpose, current, when, ledger)
                    ):
                        status = "given"
                elif current is None:
                    status = "refused"
                elif current[_STATUS] == "given" and ledger.beats(purpose.id, when, negative=True):
                    status = "withdrawn"
                if status is None:
                    unchanged.append(purpose.id)
                    continue
                fields = (
                    self._current_notice_fields(purpose, tc.consent_language.lower())
                    if status != "withdrawn" or current is None
                    else ledger.notice_of(current)
                )
                drafts.append(
                    _Draft(
                        purpose=purpose.id,
                        status=status,
                        lawful_basis=purpose.lawful_basis,
                        **fields,
                        source=ctx.source,
                        method=ctx.method,
                        jurisdiction=ctx.jurisdiction,
                        occurred_at=when,
                        evidence=evidence,
                    )
                )
            return drafts, unchanged

        return self._run(subject, "tcf", ctx.actor, plan)

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
        ``from_subject``'s ledger is left as it was.
        """
        problems: list[Problem] = []
        ctx = _context("import", "merge", None, actor, problems=problems)
        if from_subject == into_subject:
            problems.append(Problem(where="from_subject", what="is the same subject as into"))
        self._check_all([(from_subject, "from_subject"), (into_subject, "into_subject")], problems)

        def plan(ledger: _Ledger) -> tuple[list[_Draft], list[str]]:
            copied = ledger.copied_origins()
            source_records = self.ledger(from_subject)
            return [
                _Draft(
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
                for record in source_records
                if record.id not in copied
                and (record.origin is None or record.origin not in copied)
            ], []

        with self.store.transaction():
            receipt = self._run(
                into_subject,
                "merged",
                ctx.actor,
                plan,
                audit_extra={"from": self._subject_ref(from_subject)},
            )
            # A restriction belongs to the person: once both pseudonyms are known to be the
            # same person, the merged profile stays restricted.
            if self.is_restricted(from_subject) and not self.is_restricted(into_subject):
                self.restrict(into_subject, source="import", method="merge", actor=ctx.actor)
        return receipt

    # -- plumbing -----------------------------------------------------------------------------

    def _run(
        self,
        subject: str,
        action: str,
        actor: str,
        plan: Callable[[_Ledger], tuple[list[_Draft], list[str]]],
        *,
        gate: bool = True,
        audit_extra: Mapping[str, Any] | None = None,
    ) -> ConsentReceipt:
        if gate:
            # A read-only pass first: signals repeat on every request, and most change nothing,
            # so they should not take the store's write lock.
            drafts, unchanged = plan(_Ledger(self, subject, actor))
            if not drafts:
                return self._empty_receipt(subject, action, unchanged)
        with self.store.transaction():
            ledger = _Ledger(self, subject, actor)
            drafts, unchanged = plan(ledger)
            for draft in drafts:
                ledger.append(draft)
            return ledger.commit(action, unchanged, audit_extra or {})

    def _empty_receipt(self, subject: str, action: str, unchanged: list[str]) -> ConsentReceipt:
        return ConsentReceipt(
            receipt_id=new_id("rc_"),
            action=action,
            issued_at=self.clock.now(),
            controller=self.manifest.controller,
            subject=subject,
            subject_ref=self._subject_ref(subject),
            manifest_sha256=self.manifest.sha256,
            records=(),
            purposes=(),
            unchanged=tuple(unchanged),
        )

    def _check_subject(self, subject: str) -> None:
        if not valid_subject_id(subject):
            raise _bad_subject()

    def _check(self, subject: str, problems: list[Problem]) -> None:
        # Never dispatch on the subject's type: a caller's non-str subject must be reported as
        # a bad subject, not unpacked as a list of (subject, where) pairs.
        self._check_all([(subject, "subject")], problems)

    def _check_all(self, named: list[tuple[str, str]], problems: list[Problem]) -> None:
        for subject, where in named:
            if not valid_subject_id(subject):
                problems.append(Problem(where=where, what="not a subject pseudonym (sub_…)"))
        if problems:
            raise InvalidInput("invalid consent request", problems)
        for subject, _ in named:
            if not self._subject_exists(subject):
                raise SubjectNotFound("subject")

    def _purposes(
        self,
        purposes: str | Iterable[str],
        problems: list[Problem],
        *,
        allow_all: bool,
        basis: str,
    ) -> list[tuple[int | None, Purpose]]:
        if isinstance(purposes, str):
            if allow_all and purposes == "all":
                return [(None, p) for p in self.manifest.purposes if p.lawful_basis == basis]
            names: list[Any] = [purposes]
            single = True
        else:
            try:
                names = list(purposes)
            except TypeError:
                problems.append(Problem(where="purposes", what="must be a str or an iterable"))
                return []
            single = False
            if not names:
                problems.append(Problem(where="purposes", what="must name at least one purpose"))
        chosen: list[tuple[int | None, Purpose]] = []
        seen: set[str] = set()
        for index, name in enumerate(names):
            where = "purpose" if single else f"purposes[{index}]"
            found = self.manifest.get_purpose(name) if isinstance(name, str) else None
            if found is None:
                problems.append(Problem(where=where, what="not a purpose in the manifest"))
            elif found.lawful_basis != basis:
                problems.append(Problem(where=where, what=_wrong_basis(found, basis)))
            elif found.id not in seen:
                seen.add(found.id)
                chosen.append((None if single else index, found))
        return chosen

    def _notice(
        self,
        notice: Any,
        version: Any,
        language: Any,
        sha256: Any,
        problems: list[Problem],
    ) -> Notice | None:
        if not isinstance(notice, str) or not self.manifest.notice_versions(notice):
            problems.append(Problem(where="notice", what="not a notice in the manifest"))
            return None
        listed = [n for n in self.manifest.notice_versions(notice) if n.version == version]
        if not listed:
            problems.append(
                Problem(where="notice_version", what="not a listed version of this notice")
            )
            return None
        if language is None:
            if len(listed) > 1:
                problems.append(
                    Problem(
                        where="language", what="required: this notice version has several languages"
                    )
                )
                return None
            found = listed[0]
        else:
            matching = [n for n in listed if n.language == language]
            if not matching:
                problems.append(
                    Problem(
                        where="language", what="no text of this notice version in this language"
                    )
                )
                return None
            found = matching[0]
        if sha256 is not None and sha256 != found.text_sha256:
            problems.append(
                Problem(
                    where="notice_sha256", what="does not match the manifest's hash of this text"
                )
            )
        return found

    def _current_notice_fields(
        self, purpose: Purpose, language: str | None = None
    ) -> dict[str, Any]:
        if purpose.notice is None:
            return _notice_fields(None)
        version = self.manifest.current_notice_version(purpose.notice)
        listed = [n for n in self.manifest.notice_versions(purpose.notice) if n.version == version]
        preferred = [n for n in listed if n.language == language]
        return _notice_fields((preferred or listed)[0])

    def _occurred(self, occurred_at: Any, problems: list[Problem]) -> datetime | None:
        if occurred_at is None:
            return None
        if not isinstance(occurred_at, datetime):
            problems.append(Problem(where="occurred_at", what="must be a datetime"))
            return None
        if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
            problems.append(Problem(where="occurred_at", what="must be timezone-aware"))
            return None
        if occurred_at > self.clock.now():
            problems.append(Problem(where="occurred_at", what="is in the future"))
            return None
        return occurred_at


class _Ledger:
    """One change to one subject's ledger: reads see its own appends; commit writes the rest."""

    def __init__(self, manager: ConsentManager, subject: str, actor: str) -> None:
        self.manager = manager
        self.subject = subject
        self.actor = actor
        self.now = manager.clock.now()
        self.now_us = to_micros(self.now)
        self.receipt_id = new_id("rc_")
        self.records: list[ConsentRecord] = []
        self.deleted: dict[str, dict[str, int]] = {}
        self._states: dict[str, list[Any] | None] = {}
        self._seq: int | None = None
        self._restricted: bool | None = None

    def restricted(self) -> bool:
        """Whether the subject is restricted: every compact state written keeps the flag."""
        if self._restricted is None:
            self._restricted = self.manager.is_restricted(self.subject)
        return self._restricted

    def current(self, purpose: str) -> list[Any] | None:
        if purpose not in self._states:
            self._states[purpose] = _read_compact(self.manager.vault, self.subject, purpose)
        return self._states[purpose]

    def beats(self, purpose: str, when: datetime, *, negative: bool) -> bool:
        current = self.current(purpose)
        return current is None or _ranks_before(to_micros(when), negative, current)

    def notice_of(self, compact: list[Any]) -> dict[str, Any]:
        record = self.manager._record(self.subject, compact[_NAME])  # noqa: SLF001
        if record is None:
            return _notice_fields(None)
        return {
            "notice_id": record.notice_id,
            "notice_version": record.notice_version,
            "notice_language": record.notice_language,
            "notice_sha256": record.notice_sha256,
        }

    def copied_origins(self) -> set[str]:
        seen: set[str] = set()
        for record in self.manager.ledger(self.subject):
            seen.add(record.id)
            if record.origin is not None:
                seen.add(record.origin)
        return seen

    def _next_seq(self) -> int:
        if self._seq is None:
            head = self.manager.vault.get_json(self.subject, HEAD_KIND, HEAD_NAME)
            self._seq = 0 if head is None else int(head["seq"])
        self._seq += 1
        return self._seq

    def append(self, draft: _Draft) -> ConsentRecord:
        manifest = self.manager.manifest
        current = self.current(draft.purpose)
        negative = draft.status in NEGATIVE_STATUSES
        if draft.occurred_at is None:
            occurred_us = self.now_us
            if current is not None:
                occurred_us = max(occurred_us, current[_OCCURRED] + 1)
        else:
            occurred_us = to_micros(draft.occurred_at)
        decides = current is None or _ranks_before(occurred_us, negative, current)
        occurred = from_micros(occurred_us)
        expires = draft.expires_at
        if draft.status == "given" and expires is None:
            purpose = manifest.get_purpose(draft.purpose)
            age = manifest.max_consent_age if purpose is None else purpose.max_consent_age
            expires = occurred + age
        record = ConsentRecord(
            id=new_id("cr_"),
            seq=self._next_seq(),
            purpose=draft.purpose,
            status=draft.status,
            lawful_basis=draft.lawful_basis,
            notice_id=draft.notice_id,
            notice_version=draft.notice_version,
            notice_language=draft.notice_language,
            notice_sha256=draft.notice_sha256,
            source=draft.source,
            method=draft.method,
            jurisdiction=draft.jurisdiction,
            occurred_at=occurred,
            recorded_at=self.now,
            expires_at=expires,
            supersedes=_record_id(current) if decides and current is not None else None,
            receipt_id=self.receipt_id,
            manifest_sha256=manifest.sha256,
            actor=self.actor,
            origin=draft.origin,
            conflict=draft.conflict,
            gpc_confirmed=draft.gpc_confirmed,
            evidence=dict(draft.evidence or {}),
        )
        vault = self.manager.vault
        vault.put_json(self.subject, LEDGER_KIND, record.name, record.to_json())
        if decides:
            compact = [
                record.status,
                occurred_us,
                None if expires is None else to_micros(expires),
                record.notice_id,
                record.notice_version,
                record.name,
                record.method,
                record.gpc_confirmed,
            ]
            self._states[draft.purpose] = compact
            vault.put(
                self.subject,
                STATE_KIND,
                draft.purpose,
                _encode_compact(compact, restricted=self.restricted()),
            )
            if negative:
                done = self.manager.cascade.run(draft.purpose, self.subject)
                if done:
                    merged = self.deleted.setdefault(draft.purpose, {})
                    for name, count in done.items():
                        merged[name] = merged.get(name, 0) + count
        self.records.append(record)
        return record

    def commit(
        self, action: str, unchanged: list[str], audit_extra: Mapping[str, Any]
    ) -> ConsentReceipt:
        manager = self.manager
        if self._seq is not None:
            manager.vault.put_json(self.subject, HEAD_KIND, HEAD_NAME, {"seq": self._seq})
        records = self.records
        if records:
            manager.audit.append(
                f"consent.{action}",
                subject=manager._subject_ref(self.subject),  # noqa: SLF001
                actor=self.actor,
                data={
                    **audit_extra,
                    "receipt": self.receipt_id,
                    "records": [
                        {
                            "id": r.id,
                            "purpose": r.purpose,
                            "status": r.status,
                            "notice": r.notice_id,
                            "notice_version": r.notice_version,
                            "source": r.source,
                            "method": r.method,
                            "jurisdiction": r.jurisdiction,
                            "supersedes": r.supersedes,
                            "origin": r.origin,
                            "conflict": None if r.conflict is None else r.conflict.to_json(),
                        }
                        for r in records
                    ],
                    "unchanged": unchanged,
                    "deleted": self.deleted,
                },
            )
        involved = {r.purpose for r in records}
        return ConsentReceipt(
            receipt_id=self.receipt_id,
            action=action,
            issued_at=self.now,
            controller=manager.manifest.controller,
            subject=self.subject,
            subject_ref=manager._subject_ref(self.subject),  # noqa: SLF001
            manifest_sha256=manager.manifest.sha256,
            records=tuple(records),
            purposes=tuple(p for p in manager.manifest.purposes if p.id in involved),
            unchanged=tuple(unchanged),
            deleted=self.deleted,
        )


def _evaluate(
    manifest: Manifest, purpose: Purpose, compact: list[Any] | None, now_us: int
) -> tuple[StateName, bool, str, int | None]:
    """(state, allowed, reason, effective expiry in µs) of one purpose from its compact state."""
    if purpose.objectable:
        if compact is not None and compact[_STATUS] == "objected":
            return "objected", False, "the subject objected", None
        return "not_objected", True, "legitimate interest, no objection", None
    if compact is None:
        return "none", False, "no consent recorded", None
    status = compact[_STATUS]
    if status != "given":
        return status, False, f"consent {status}", None
    # The manifest's maximum age applies at read time, so shortening it takes effect at once.
    expires = compact[_OCCURRED] + manifest.max_age_us(purpose.id)
    if compact[_EXPIRES] is not None:
        expires = min(expires, compact[_EXPIRES])
    current = (purpose.notice, manifest.current_notice_version(purpose.notice or ""))
    if now_us >= expires:
        state: StateName = "expired"
        reason = "consent expired"
    elif (compact[_NOTICE], compact[_VERSION]) != current:
        state, reason = "stale", "consent given under an older notice version"
    else:
        state, reason = "given", "consent given"
    return state, state == "given", reason, expires


def _lapsed_regrant(
    manifest: Manifest, purpose: Purpose, current: list[Any] | None, when: datetime, ledger: _Ledger
) -> bool:
    """Whether a TCF grant dated ``when`` would repeat a grant already in the ledger, expired.

    A TC string older than the maximum consent age yields a grant that is expired at once; it
    is recorded once, but recording it again on every request would grow the ledger and the
    audit chain without changing any answer.
    """
    when_us = to_micros(when)
    return (
        current is not None
        and current[_STATUS] == "given"
        and current[_OCCURRED] >= when_us
        and when_us + manifest.max_age_us(purpose.id) <= ledger.now_us
    )


def _wrong_basis(purpose: Purpose, wanted: str) -> str:
    if purpose.objectable:
        return "relies on legitimate interest: use object() / lift_objection()"
    if wanted == "consent":
        return f"needs no consent (lawful basis is {purpose.lawful_basis})"
    return f"does not rely on legitimate interest (lawful basis is {purpose.lawful_basis})"


def _encode_compact(compact: list[Any], *, restricted: bool = False) -> bytes:
    # Every field is a token that cannot contain "|" (the manifest schema, the method pattern
    # and the record names guarantee it), so a separator is enough: no JSON parse on the
    # guard's hot path.
    status, occurred, expires, notice, version, name, method, confirmed = compact
    fields = [status, str(occurred), "" if expires is None else str(expires)]
    fields += [notice or "", version or "", name, method, "1" if confirmed else "0"]
    if any("|" in field for field in fields):
        msg = "compact consent state field contains the separator"
        raise ValueError(msg)
    if restricted:
        fields.append(_RESTRICTED_FLAG)
    return ("|".join([_COMPACT_FORMAT, *fields])).encode()


def _read_compact(vault: Vault, subject: str, purpose: str) -> list[Any] | None:
    return _read_state(vault, subject, purpose)[0]


def _read_state(vault: Vault, subject: str, purpose: str) -> tuple[list[Any] | None, bool]:
    """The compact state of a purpose (None: no decision) and whether it is restricted."""
    return _decode_state(vault.get(subject, STATE_KIND, purpose))


def _decode_state(raw: bytes | None) -> tuple[list[Any] | None, bool]:
    if raw is None:
        return None, False
    if raw == _RESTRICTED_ONLY:
        return None, True
    fields = raw.decode().split("|")
    restricted = len(fields) == _RESTRICTED_FIELDS and fields[-1] == _RESTRICTED_FLAG
    if restricted:
        fields.pop()
    if len(fields) != _PLAIN_FIELDS or fields[0] != _COMPACT_FORMAT:
        raise IntegrityError("consent state record is not in a known format")
    _, status, occurred, expires, notice, version, name, method, confirmed = fields
    compact = [
        status,
        int(occurred),
        int(expires) if expires else None,
        notice or None,
        version or None,
        name,
        method,
        confirmed == "1",
    ]
    return compact, restricted


def _record_id(compact: list[Any]) -> str:
    return str(compact[_NAME]).partition(".")[2]


def _notice_fields(notice: Notice | None) -> dict[str, Any]:
    return {
        "notice_id": None if notice is None else notice.id,
        "notice_version": None if notice is None else notice.version,
        "notice_language": None if notice is None else notice.language,
        "notice_sha256": None if notice is None else notice.text_sha256,
    }


def _context(
    source: object, method: object, jurisdiction: object, actor: object, *, problems: list[Problem]
) -> _Context:
    if source not in SOURCES:
        problems.append(Problem(where="source", what="must be one of: " + ", ".join(SOURCES)))
    if not isinstance(method, str) or not _METHOD_RE.fullmatch(method):
        problems.append(Problem(where="method", what="must match [a-z][a-z0-9_.-]{0,31}"))
    if jurisdiction is not None and (
        not isinstance(jurisdiction, str) or not _JURISDICTION_RE.fullmatch(jurisdiction)
    ):
        problems.append(
            Problem(where="jurisdiction", what="must be a region code like EU, GB or US-CA")
        )
    check_actor(actor, problems)
    return _Context(
        source=str(source),
        method=str(method),
        jurisdiction=jurisdiction if isinstance(jurisdiction, str) else None,
        actor=str(actor),
    )


def _at(where: str, index: int | None) -> str:
    return where if index is None else f"purposes[{index}]"


def _bad_subject() -> InvalidInput:
    return InvalidInput(
        "invalid subject", [Problem(where="subject", what="not a subject pseudonym (sub_…)")]
    )
