"""Data-subject requests: intake, identity verification, deadlines, extension, denial, result.

A request moves through::

    received ──verify──> verified ──start──> in_progress ──complete──> completed
        │                   │                     │
        └───────────────────┴──────deny───────────┴──> denied (legal basis cited)

``extend`` (once, with a reason, before the original deadline, where the law allows one)
recomputes the deadline with :func:`~personakit.rights.extended_due_date`; ``verify`` with a
negative answer records the attempt and leaves the request ``received``. Any other step raises
:class:`~personakit.exceptions.InvalidTransition`. Every step is timestamped in the request and
appended to the audit log (request id, kind, states; never identifiers).

A request is personal data (it names the requester), so it is stored like a subject: each
request gets its own pseudonym and data key, and its one record ``s/<pseudonym>/dsr/request``
is sealed with that key. The pointer ``d/<request id>`` -> pseudonym is the only clear text.
Identifiers never reach the disk in the clear; an erasure request's identifiers are removed
from it once the erasure is done (its kinds are kept, as proof of what was asked).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Container, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal, Protocol, TypeVar, runtime_checkable

from attrs import evolve, frozen

from personakit._clock import Clock
from personakit._ids import check_actor, new_id
from personakit._vault import Vault, new_subject_id
from personakit.audit import AuditLog
from personakit.exceptions import (
    ConfigurationError,
    InvalidInput,
    InvalidTransition,
    Problem,
    SubjectNotFound,
)
from personakit.rights._deadlines import (
    Jurisdiction,
    RequestKind,
    due_date,
    extended_due_date,
    holiday_calendar,
    is_overdue,
    policy,
)
from personakit.rights._request_model import (
    OPEN_STATES,
    TOKEN_RE,
    Request,
    RequestState,
    RequestTransition,
    parse_identifiers,
    parse_kind,
    parse_parameters,
)
from personakit.rights._text import check_note
from personakit.storage import Store

# Request, RequestState and RequestTransition live in _request_model; they stay importable
# from here for the callers that predate the split (the CLI).
__all__ = [
    "IdentityVerifier",
    "OperatorAttestation",
    "Request",
    "RequestBook",
    "RequestState",
    "RequestTransition",
    "VerificationResult",
]

_E = TypeVar("_E", bound=StrEnum)

_POINTER_PREFIX: Final = "d/"
_KIND: Final = "dsr"
_NAME: Final = "request"
_ID_RE: Final = re.compile(r"dsr_[a-z2-7]{26}")


@frozen(kw_only=True)
class VerificationResult:
    """What an :class:`IdentityVerifier` concluded, and how (``method``: ``email_link``, …)."""

    verified: bool
    method: str
    detail: str | None = None


@runtime_checkable
class IdentityVerifier(Protocol):
    """**Protocol**: the host's check that the requester is who the identifiers say.

    GDPR Art. 12(6) and CCPA regulations (11 CCR § 7060 ff.) require a reasonable verification
    before acting; how (a signed-in session, a confirmation link, a document check) is the
    host's call. ``verify`` sees the request (its identifiers included) and returns a
    :class:`VerificationResult` (or a bool, read as method ``host``). It must not raise for a
    negative answer.
    """

    def verify(self, request: Request) -> VerificationResult | bool:
        """Decide whether the requester's identity is verified."""
        ...


@frozen(kw_only=True)
class OperatorAttestation:
    """An :class:`IdentityVerifier` for the CLI: an operator attests how they verified."""

    method: str
    verified: bool = True

    def verify(self, request: Request) -> VerificationResult:  # noqa: ARG002 (the protocol's)
        """Return the operator's attestation."""
        return VerificationResult(verified=self.verified, method=self.method)


class RequestBook:
    """Stores requests (sealed) and moves them through their states, auditing every step."""

    def __init__(
        self,
        *,
        store: Store,
        vault: Vault,
        audit: AuditLog,
        clock: Clock,
        verifier: IdentityVerifier | None = None,
        holidays: Container[date] | Iterable[date] = (),
    ) -> None:
        """Wire the book to the kit; ``verifier`` is the host's default identity check.

        ``holidays`` are the non-working days skipped by business-day deadlines (CCPA opt-out):
        dates, or a calendar asked day by day (see :func:`~personakit.rights.due_date`).
        """
        self.store = store
        self.vault = vault
        self.audit = audit
        self.clock = clock
        self.verifier = verifier
        self.holidays = holiday_calendar(holidays)

    def __repr__(self) -> str:
        """Render with the verifier."""
        return f"RequestBook(verifier={self.verifier!r})"

    # -- reading --------------------------------------------------------------------------

    def get(self, request_id: str) -> Request:
        """The request ``request_id``; :class:`SubjectNotFound` (``request``) if there is none."""
        if not isinstance(request_id, str) or not _ID_RE.fullmatch(request_id):
            raise InvalidInput(
                "invalid request id", [Problem(where="request_id", what="expected dsr_…")]
            )
        pointer = self.store.get(_POINTER_PREFIX + request_id)
        if pointer is None:
            raise SubjectNotFound("request")
        doc = self.vault.get_json(pointer.decode("ascii"), _KIND, _NAME)
        if doc is None:
            raise SubjectNotFound("request")
        return Request.from_json(doc)

    def list(
        self, *, state: RequestState | str | None = None, kind: RequestKind | str | None = None
    ) -> builtins.list[Request]:
        """Every request (of one state / kind), by deadline then id. O(requests)."""
        wanted_state = _member(RequestState, state)
        wanted_kind = _member(RequestKind, kind)
        if wanted_state is False or wanted_kind is False:
            raise InvalidInput(
                "invalid filter",
                [Problem(where="state or kind", what="not a request state or kind")],
            )
        found = []
        for key, pointer in self.store.scan(_POINTER_PREFIX):
            doc = self.vault.get_json(pointer.decode("ascii"), _KIND, _NAME)
            if doc is None:
                continue
            request = Request.from_json(doc)
            if request.id != key[len(_POINTER_PREFIX) :]:
                continue
            if wanted_state not in {None, request.state}:
                continue
            if wanted_kind not in {None, request.kind}:
                continue
            found.append(request)
        return sorted(found, key=lambda r: (r.deadline, r.id))

    def overdue(self, now: datetime | None = None) -> builtins.list[Request]:
        """Open requests past their deadline, most overdue first."""
        at = now if now is not None else self.clock.now()
        return [r for r in self.list() if r.overdue(at)]

    def due_soon(
        self, within: timedelta = timedelta(days=7), now: datetime | None = None
    ) -> builtins.list[Request]:
        """Open requests not yet overdue whose deadline falls within ``within``."""
        at = now if now is not None else self.clock.now()
        if not isinstance(within, timedelta) or within < timedelta(0):
            raise InvalidInput(
                "invalid window", [Problem(where="within", what="must be a timedelta >= 0")]
            )
        try:
            horizon = at + within
        except OverflowError:
            horizon = datetime.max.replace(tzinfo=at.tzinfo)
        return [r for r in self.list() if r.is_open and not r.overdue(at) and r.deadline <= horizon]

    # -- transitions ----------------------------------------------------------------------

    def open(
        self,
        kind: RequestKind | str,
        identifiers: str | Sequence[str],
        *,
        jurisdiction: Jurisdiction | str,
        channel: str,
        received_at: datetime | None = None,
        parameters: Mapping[str, Any] | None = None,
        actor: str = "system",
    ) -> Request:
        """Log a new request; its deadline is computed from the jurisdiction and kind.

        ``identifiers`` are host identifiers (``email:…``, ``customer:…``); they are validated
        and normalized. ``received_at`` defaults to now and may not be in the future.
        Raises :class:`InvalidInput` listing every problem; nothing is written then.
        """
        problems: list[Problem] = []
        normalized = parse_identifiers(identifiers, problems)
        if not isinstance(channel, str) or not TOKEN_RE.fullmatch(channel):
            problems.append(Problem(where="channel", what="must match [a-z][a-z0-9_.-]{0,31}"))
        check_actor(actor, problems)
        now = self.clock.now()
        received = now if received_at is None else received_at
        if not isinstance(received, datetime) or received.utcoffset() is None:
            problems.append(Problem(where="received_at", what="must be a timezone-aware datetime"))
            received = now
        elif received > now:
            problems.append(Problem(where="received_at", what="is in the future"))
        parsed_kind = parse_kind(kind, problems)
        params = parse_parameters(parsed_kind, parameters, problems)
        due: datetime | None = None
        if parsed_kind is not None and not problems:
            try:
                due = due_date(parsed_kind, jurisdiction, received, holidays=self.holidays)
            except InvalidInput as exc:
                problems.extend(exc.problems)
        if problems or parsed_kind is None or due is None:
            raise InvalidInput("invalid request", problems)
        found = policy(parsed_kind, jurisdiction)
        unique = tuple(dict.fromkeys(normalized))
        request = Request(
            id=new_id("dsr_"),
            kind=parsed_kind,
            jurisdiction=found.jurisdiction,
            channel=channel,
            identifiers=unique,
            identifier_kinds=tuple(sorted({i.partition(":")[0] for i in unique})),
            received_at=received,
            due_at=due,
            state=RequestState.RECEIVED,
            transitions=(
                RequestTransition(event="opened", state=RequestState.RECEIVED, at=now, actor=actor),
            ),
            parameters=params,
        )
        with self.store.transaction():
            holder = new_subject_id()
            self.store.put(_POINTER_PREFIX + request.id, holder.encode("ascii"))
            self._save(request, "opened", actor, holder=holder)
        return request

    def verify(
        self, request_id: str, *, verifier: IdentityVerifier | None = None, actor: str = "system"
    ) -> Request:
        """Ask the identity verifier; a positive answer moves the request to ``verified``.

        A negative answer is recorded (``verification_failed``) and leaves it ``received``:
        ask for more information, or deny it citing the basis. Raises
        :class:`ConfigurationError` when no verifier is given or configured.
        """
        if verifier is not None and not callable(getattr(verifier, "verify", None)):
            raise InvalidInput(
                "invalid verifier", [Problem(where="verifier", what="must have verify(request)")]
            )
        chosen = verifier if verifier is not None else self.verifier
        if chosen is None:
            raise ConfigurationError(
                "no identity verifier: pass verifier= or configure kit.rights.requests.verifier"
            )
        self._check_actor(actor)
        request = self.get(request_id)
        _require(request, "verify", {RequestState.RECEIVED}, "only a received request")
        answer: object = chosen.verify(request)
        if isinstance(answer, bool):
            answer = VerificationResult(verified=answer, method="host")
        if not isinstance(answer, VerificationResult):
            raise InvalidInput(
                "invalid verification result",
                [Problem(where="verifier", what="must return a VerificationResult or a bool")],
            )
        problems: list[Problem] = []
        # A truthy non-bool ("no", 1) must never count as a verified identity.
        verified: object = answer.verified  # a host's verifier may not be type-checked
        method: object = answer.method
        if not isinstance(verified, bool):
            problems.append(Problem(where="verified", what="must be a bool"))
        if not isinstance(method, str) or not TOKEN_RE.fullmatch(method):
            problems.append(Problem(where="method", what="must match [a-z][a-z0-9_.-]{0,31}"))
        check_note(answer.detail, "detail", problems)
        if problems:
            raise InvalidInput("invalid verification result", problems)
        event = "verified" if answer.verified else "verification_failed"
        state = RequestState.VERIFIED if answer.verified else RequestState.RECEIVED
        changes: dict[str, Any] = {}
        if answer.verified:
            changes["verification"] = {"method": answer.method, "detail": answer.detail}
        return self._step(
            request_id,
            event,
            state,
            actor,
            note=answer.method,
            allowed=({RequestState.RECEIVED}, "only a received request can be verified"),
            **changes,
        )

    def start(self, request_id: str, *, actor: str = "system") -> Request:
        """Move a verified request to ``in_progress`` (a run does this itself)."""
        return self._step(
            request_id,
            "started",
            RequestState.IN_PROGRESS,
            actor,
            allowed=({RequestState.VERIFIED}, "only a verified request can be started"),
        )

    def complete(
        self,
        request_id: str,
        result: Mapping[str, Any],
        *,
        actor: str = "system",
        redact_identifiers: bool = False,
    ) -> Request:
        """Record the result and move an ``in_progress`` request to ``completed``."""
        if not isinstance(result, Mapping):
            raise InvalidInput(
                "invalid result", [Problem(where="result", what="must be a mapping")]
            )
        changes: dict[str, Any] = {"result": dict(result)}
        if redact_identifiers:
            changes.update(identifiers=(), identifiers_redacted=True)
        return self._step(
            request_id,
            "completed",
            RequestState.COMPLETED,
            actor,
            allowed=({RequestState.IN_PROGRESS}, "only a request in progress can complete"),
            **changes,
        )

    def extend(self, request_id: str, *, reason: str, actor: str = "system") -> Request:
        """Take the one extension the law allows, with the reason given to the requester.

        Allowed once, while the request is open and before its original deadline (GDPR Art.
        12(3) and CCPA § 7021(b) require telling the requester within the first period), and
        only where an extension exists (not for a CCPA opt-out).
        """
        problems: list[Problem] = []
        check_note(reason, "reason", problems, required=True)
        if problems:
            raise InvalidInput("invalid extension", problems)
        self._check_actor(actor)
        with self.store.transaction():
            request = self.get(request_id)
            _require(request, "extend", OPEN_STATES, "the request is closed")
            if request.extended_due_at is not None:
                raise InvalidTransition(
                    "extend", request.state.value, "it was already extended once"
                )
            if not policy(request.kind, request.jurisdiction).extendable:
                raise InvalidTransition(
                    "extend", request.state.value, "the law allows no extension"
                )
            if is_overdue(request.due_at, self.clock.now()):
                raise InvalidTransition(
                    "extend", request.state.value, "the original deadline has passed"
                )
            extended = extended_due_date(
                request.kind, request.jurisdiction, request.received_at, holidays=self.holidays
            )
            return self._step(
                request_id,
                "extended",
                request.state,
                actor,
                note=reason,
                extended_due_at=extended,
                extension_reason=reason,
            )

    def deny(self, request_id: str, *, basis: str, actor: str = "system") -> Request:
        """Deny an open request, citing the legal basis (e.g. ``GDPR Art 12(5)(b)``)."""
        problems: list[Problem] = []
        check_note(basis, "basis", problems, required=True)
        if problems:
            raise InvalidInput("a denial must cite its legal basis", problems)
        return self._step(
            request_id,
            "denied",
            RequestState.DENIED,
            actor,
            note=basis,
            allowed=(OPEN_STATES, "the request is closed"),
            denial_basis=basis,
        )

    # -- plumbing -------------------------------------------------------------------------

    def _check_actor(self, actor: str) -> None:
        problems: list[Problem] = []
        check_actor(actor, problems)
        if problems:
            raise InvalidInput("invalid actor", problems)

    def _step(
        self,
        request_id: str,
        event: str,
        state: RequestState,
        actor: str,
        *,
        note: str | None = None,
        allowed: tuple[Iterable[RequestState], str] | None = None,
        **changes: Any,
    ) -> Request:
        self._check_actor(actor)
        with self.store.transaction():
            request = self.get(request_id)
            if allowed is not None:
                _require(request, event, set(allowed[0]), allowed[1])
            transition = RequestTransition(
                event=event, state=state, at=self.clock.now(), actor=actor, note=note
            )
            updated = evolve(
                request,
                state=state,
                transitions=(*request.transitions, transition),
                **changes,
            )
            self._save(updated, event, actor)
        return updated

    def _save(self, request: Request, event: str, actor: str, *, holder: str | None = None) -> None:
        pointer = holder or self._holder(request.id)
        self.vault.put_json(pointer, _KIND, _NAME, request.to_json())
        data: dict[str, Any] = {
            "request": request.id,
            "kind": request.kind.value,
            "jurisdiction": request.jurisdiction.value,
            "state": request.state.value,
            "deadline": request.deadline.isoformat(),
        }
        if event == "opened":
            data["channel"] = request.channel
            data["identifier_kinds"] = list(request.identifier_kinds)
        elif event == "extended":
            data["reason"] = request.extension_reason
        elif event == "denied":
            data["basis"] = request.denial_basis
        elif event in {"verified", "verification_failed"}:
            data["method"] = request.transitions[-1].note
        elif event == "completed" and request.result is not None:
            data["subjects"] = list(request.result.get("subject_refs", []))
        self.audit.append(f"dsr.{event}", actor=actor, data=data)

    def _holder(self, request_id: str) -> str:
        raw = self.store.get(_POINTER_PREFIX + request_id)
        if raw is None:
            raise SubjectNotFound("request")
        return raw.decode("ascii")


def _require(request: Request, action: str, states: AbstractSet[RequestState], why: str) -> None:
    if request.state not in states:
        raise InvalidTransition(action, request.state.value, why)


def _member(enum: type[_E], value: object) -> _E | Literal[False] | None:
    """The member ``value`` names, None for None, False for anything else.

    Only a str is tried: the enum's own error would repr any other value (a deep one fails).
    """
    if value is None:
        return None
    if not isinstance(value, str):
        return False
    try:
        return enum(value)
    except ValueError:
        return False
