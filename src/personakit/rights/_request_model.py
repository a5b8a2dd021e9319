"""Data-subject requests as values: states, steps, the request record and its JSON codec.

Also the checks of what a new request may carry (its kind, identifiers and parameters);
:class:`~personakit.rights.RequestBook` (``_requests.py``) stores requests and moves them
through their states.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from attrs import field, frozen

from personakit._codec import canonical_json
from personakit.exceptions import InvalidInput, Problem
from personakit.profiles import parse_identifier
from personakit.rights._deadlines import Jurisdiction, RequestKind, days_left, is_overdue

__all__ = [
    "OPEN_STATES",
    "TOKEN_RE",
    "Request",
    "RequestState",
    "RequestTransition",
    "parse_identifiers",
    "parse_kind",
    "parse_parameters",
]

#: A channel or a verification method: a short lower-case token, audited in the clear.
TOKEN_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,31}")

_PARAMETERS: Final[dict[RequestKind, frozenset[str]]] = {
    RequestKind.ACCESS: frozenset({"format"}),
    RequestKind.PORTABILITY: frozenset({"format"}),
    RequestKind.ERASURE: frozenset(),
    RequestKind.RECTIFICATION: frozenset({"values"}),
    RequestKind.RESTRICTION: frozenset({"lift"}),
    RequestKind.OBJECTION: frozenset({"purposes"}),
    RequestKind.OPT_OUT_SALE: frozenset(),
}


class RequestState(StrEnum):
    """Where a request stands."""

    RECEIVED = "received"
    """Logged; the requester's identity is not verified yet."""
    VERIFIED = "verified"
    """The identity was verified; the request can be run."""
    IN_PROGRESS = "in_progress"
    """Being executed (a failed run leaves it here, to be run again)."""
    COMPLETED = "completed"
    """Done; ``result`` says what was done."""
    DENIED = "denied"
    """Refused, with the legal basis in ``denial_basis``."""


OPEN_STATES: Final = frozenset(
    {RequestState.RECEIVED, RequestState.VERIFIED, RequestState.IN_PROGRESS}
)


@frozen(kw_only=True)
class RequestTransition:
    """One step in a request's history.

    Attributes:
        event: ``opened``, ``verified``, ``verification_failed``, ``started``, ``completed``,
            ``extended`` or ``denied``.
        state: The state after the step.
        at: When it happened.
        actor: Who did it (``cli``, ``system``, an operator id).
        note: The verification method, extension reason or denial basis, if any.
    """

    event: str
    state: RequestState
    at: datetime
    actor: str
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As stored and shown."""
        return {
            "event": self.event,
            "state": self.state.value,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RequestTransition:
        """Rebuild from :meth:`to_json` output."""
        return cls(
            event=doc["event"],
            state=RequestState(doc["state"]),
            at=datetime.fromisoformat(doc["at"]),
            actor=doc["actor"],
            note=doc.get("note"),
        )


@frozen(kw_only=True)
class Request:
    """A data-subject request and everything that happened to it.

    Attributes:
        id: ``dsr_…``.
        kind: What is asked for.
        jurisdiction: The law whose deadlines apply.
        channel: How it arrived (``email``, ``web_form``, ``phone``, ``mail``, ``in_store``…).
        identifiers: Normalized host identifiers of the requester (``email:…``); empty once
            redacted. Never shown in ``repr``.
        identifier_kinds: The kinds of the identifiers (kept after redaction).
        received_at: When it was received (the deadline counts from here).
        due_at: The deadline without extension.
        state: Where it stands.
        transitions: Every step, oldest first.
        extended_due_at: The deadline after the one extension, if taken.
        extension_reason: Why it was extended.
        denial_basis: The legal basis cited for a denial.
        verification: How the identity was verified (method, detail), once verified.
        parameters: What the request carries (``values`` to rectify, ``purposes`` objected to,
            ``lift`` for a restriction, export ``format``). Never shown in ``repr``.
        result: What running it did (export files, erasure receipts, …).
        identifiers_redacted: Whether the identifiers were removed after an erasure.
    """

    id: str
    kind: RequestKind
    jurisdiction: Jurisdiction
    channel: str
    identifiers: tuple[str, ...] = field(repr=False)
    identifier_kinds: tuple[str, ...]
    received_at: datetime
    due_at: datetime
    state: RequestState
    transitions: tuple[RequestTransition, ...] = field(repr=False)
    extended_due_at: datetime | None = None
    extension_reason: str | None = None
    denial_basis: str | None = None
    verification: Mapping[str, Any] | None = None
    parameters: Mapping[str, Any] = field(factory=dict, repr=False)
    result: Mapping[str, Any] | None = field(default=None, repr=False)
    identifiers_redacted: bool = False

    @property
    def deadline(self) -> datetime:
        """The deadline in force: the extended one if the request was extended."""
        return self.extended_due_at if self.extended_due_at is not None else self.due_at

    @property
    def is_open(self) -> bool:
        """Whether the request still needs an answer (not completed, not denied)."""
        return self.state in OPEN_STATES

    @property
    def answered_at(self) -> datetime | None:
        """When it was completed or denied, or None while open."""
        if self.is_open:
            return None
        return self.transitions[-1].at

    def overdue(self, now: datetime) -> bool:
        """Whether it is open and past its deadline at ``now``."""
        return self.is_open and is_overdue(self.deadline, now)

    def days_left(self, now: datetime) -> int:
        """Calendar days until the deadline (0 on the due day, negative once overdue)."""
        return days_left(self.deadline, now)

    def summary(self, now: datetime | None = None) -> dict[str, Any]:
        """The request without identifiers, parameters or result (for listings)."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind.value,
            "jurisdiction": self.jurisdiction.value,
            "channel": self.channel,
            "identifier_kinds": list(self.identifier_kinds),
            "state": self.state.value,
            "received_at": self.received_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "extended_due_at": None
            if self.extended_due_at is None
            else self.extended_due_at.isoformat(),
            "deadline": self.deadline.isoformat(),
        }
        if now is not None:
            out["overdue"] = self.overdue(now)
            out["days_left"] = self.days_left(now)
        return out

    def to_json(self) -> dict[str, Any]:
        """The whole request, as stored (sealed) and shown by ``personakit dsr show``."""
        return {
            **self.summary(),
            "identifiers": list(self.identifiers),
            "identifiers_redacted": self.identifiers_redacted,
            "transitions": [t.to_json() for t in self.transitions],
            "extension_reason": self.extension_reason,
            "denial_basis": self.denial_basis,
            "verification": None if self.verification is None else dict(self.verification),
            "parameters": dict(self.parameters),
            "result": None if self.result is None else dict(self.result),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Request:
        """Rebuild from :meth:`to_json` output."""
        extended = doc.get("extended_due_at")
        return cls(
            id=doc["id"],
            kind=RequestKind(doc["kind"]),
            jurisdiction=Jurisdiction(doc["jurisdiction"]),
            channel=doc["channel"],
            identifiers=tuple(doc["identifiers"]),
            identifier_kinds=tuple(doc["identifier_kinds"]),
            received_at=datetime.fromisoformat(doc["received_at"]),
            due_at=datetime.fromisoformat(doc["due_at"]),
            state=RequestState(doc["state"]),
            transitions=tuple(RequestTransition.from_json(t) for t in doc["transitions"]),
            extended_due_at=None if extended is None else datetime.fromisoformat(extended),
            extension_reason=doc.get("extension_reason"),
            denial_basis=doc.get("denial_basis"),
            verification=doc.get("verification"),
            parameters=doc.get("parameters") or {},
            result=doc.get("result"),
            identifiers_redacted=bool(doc.get("identifiers_redacted", False)),
        )


def parse_identifiers(identifiers: str | Sequence[str], problems: list[Problem]) -> list[str]:
    """The requester's identifiers, normalized (``email:…``); problems are appended."""
    given: object = identifiers  # callers without a type checker can pass anything
    if isinstance(given, str):
        listed: list[Any] = [given]
    elif isinstance(given, Iterable):
        listed = list(given)
    else:
        problems.append(Problem(where="identifiers", what="must be a str or a list of str"))
        return []
    if not listed:
        problems.append(Problem(where="identifiers", what="at least one is required"))
    normalized: list[str] = []
    for index, text in enumerate(listed):
        try:
            normalized.append(str(parse_identifier(text, where=f"identifiers[{index}]")))
        except InvalidInput as exc:
            problems.extend(exc.problems)
    return normalized


def parse_kind(kind: object, problems: list[Problem]) -> RequestKind | None:
    """The request kind named by ``kind``, or None (with a problem appended)."""
    found = {k.value: k for k in RequestKind}.get(kind) if isinstance(kind, str) else None
    if found is None:
        problems.append(
            Problem(where="kind", what="must be one of: " + ", ".join(k.value for k in RequestKind))
        )
    return found


def parse_parameters(
    kind: RequestKind | None, parameters: object, problems: list[Problem]
) -> dict[str, Any]:
    """The parameters as a dict of JSON values (stored sealed, as JSON), checked for ``kind``."""
    params = _json_parameters(parameters, problems)
    if kind is not None:
        _check_parameters(kind, params, problems)
    return params


def _json_parameters(parameters: object, problems: list[Problem]) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping) or not all(isinstance(k, str) for k in parameters):
        problems.append(Problem(where="parameters", what="must be a mapping with str keys"))
        return {}
    params = dict(parameters)
    try:
        canonical_json(params)
    except (TypeError, ValueError, RecursionError):  # RecursionError: nested too deep to encode
        problems.append(Problem(where="parameters", what="must hold JSON values only"))
        return {}
    return params


def _check_parameters(kind: RequestKind, params: dict[str, Any], problems: list[Problem]) -> None:
    if set(params) - _PARAMETERS[kind]:
        # The unknown names are not echoed: a caller's key may be anything, even an address.
        accepted = ", ".join(sorted(_PARAMETERS[kind])) or "none"
        problems.append(
            Problem(
                where="parameters",
                what=f"only these are accepted for {kind.value}: {accepted}",
            )
        )
    if "format" in params and params["format"] not in {"json", "csv"}:
        problems.append(Problem(where="parameters.format", what="must be json or csv"))
    if kind is RequestKind.RECTIFICATION and (
        not isinstance(params.get("values"), dict) or not params["values"]
    ):
        problems.append(
            Problem(where="parameters.values", what="required: the trait values to correct")
        )
    if "lift" in params and not isinstance(params["lift"], bool):
        problems.append(Problem(where="parameters.lift", what="must be a bool"))
    purposes = params.get("purposes")
    if purposes is not None and (
        not isinstance(purposes, list)
        or not purposes
        or not all(isinstance(p, str) for p in purposes)
    ):
        problems.append(
            Problem(where="parameters.purposes", what="must be a non-empty list of purpose ids")
        )
