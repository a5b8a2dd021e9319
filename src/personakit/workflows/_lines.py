"""Bulk-ingest records: parse and fully validate one JSON Lines record before anything is written.

One record a line::

    {"kind": "consent", "subject": "customer:c1", "purpose": "personalization",
     "status": "given", "notice": "banner", "notice_version": "3", "source": "web",
     "at": "2026-01-05T10:00:00Z"}
    {"kind": "traits", "subject": "customer:c1", "traits": {"email": "a@example.com"}, "at": "…"}
    {"kind": "event", "subject": "customer:c1", "name": "purchase", "channel": "store",
     "at": "…", "properties": {"item": "sourdough", "category": "bread", "value_cents": 450}}
    {"kind": "link", "subject": "anon:9f2c", "to": "customer:c1", "at": "…"}

Unknown fields are refused (a typo such as ``"purpouse"`` must not pass silently). A line is
UTF-8 JSON of at most :data:`MAX_LINE_BYTES`, decoded by :func:`~personakit._codec.loads_input`
(no duplicate keys, no lone surrogates, finite numbers, nesting at most
:data:`~personakit._codec.MAX_DEPTH` deep); a record given as a mapping is held to the same
rules by :func:`~personakit._codec.check_value`. Any value in any field yields either a parsed
line or :class:`InvalidInput`, never another exception (a property test holds it to that).

Checks that need the store (does the purpose exist, is there a lawful basis) happen when the
record is applied; everything that can be checked on the line alone is checked here, and every
problem of a line is reported together.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

from attrs import field, frozen

from personakit._codec import check_value, loads_input
from personakit.consent import ConsentContext
from personakit.events import Event, parse_timestamp
from personakit.exceptions import InvalidInput, Problem
from personakit.profiles import Identifier, parse_identifier

__all__ = [
    "MAX_LINE_BYTES",
    "ConsentLine",
    "EventLine",
    "Line",
    "LinkLine",
    "TraitsLine",
    "parse_line",
    "too_long",
]

#: The longest line accepted, in UTF-8 bytes (without its line break): longer ones are refused
#: before they are decoded, whatever their kind.
MAX_LINE_BYTES: Final = 1 << 20

_COMMON: Final = frozenset({"kind", "subject", "at"})
_FIELDS: Final[dict[str, frozenset[str]]] = {
    "consent": _COMMON
    | {"purpose", "status", "notice", "notice_version", "source", "method", "jurisdiction"},
    "traits": _COMMON | {"traits", "source"},
    "event": _COMMON | {"name", "channel", "properties"},
    "link": _COMMON | {"to"},
}
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "consent": ("purpose", "status", "source"),
    "traits": ("traits",),
    "event": ("name", "channel"),
    "link": ("to",),
}
# Tuples, not sets: a value from the line may be an unhashable list or object.
_CONSENT_STATUSES: Final = ("given", "refused", "withdrawn")
_NEEDS_NOTICE: Final = ("given", "refused")
_MAX_TOKEN: Final = 128


@frozen(kw_only=True)
class ConsentLine:
    """A consent decision to record."""

    subject: Identifier
    at: datetime
    purpose: str
    status: Literal["given", "refused", "withdrawn"]
    notice: str | None
    notice_version: str | None
    source: str
    method: str
    jurisdiction: str | None

    def context(self) -> ConsentContext:
        """Who recorded the decision and how, as the consent API takes it: by ``ingest``."""
        return ConsentContext(
            source=self.source, method=self.method, jurisdiction=self.jurisdiction, actor="ingest"
        )


@frozen(kw_only=True)
class TraitsLine:
    """A trait update (values are validated against the manifest when applied)."""

    subject: Identifier
    at: datetime
    traits: Mapping[str, Any]
    source: str


@frozen(kw_only=True)
class EventLine:
    """An event (its properties are validated against the kind's schema when applied)."""

    subject: Identifier
    at: datetime
    raw: Mapping[str, Any] = field(repr=False)
    event: Event | None = field(default=None, repr=False)  # set once validated


@frozen(kw_only=True)
class LinkLine:
    """Merge ``subject`` (typically ``anon:…``) into ``to``."""

    subject: Identifier
    at: datetime
    to: Identifier


Line = ConsentLine | TraitsLine | EventLine | LinkLine


def parse_line(line: str | bytes | Mapping[str, Any]) -> Line:
    """Parse one record (a JSON text or an already-decoded mapping); raise with every problem."""
    if isinstance(line, (str, bytes)):
        if too_long(line):
            raise InvalidInput(
                "invalid record", [Problem(where="$", what="line longer than 1 MiB")]
            )
        try:
            doc = loads_input(line)
        except InvalidInput as exc:
            raise InvalidInput("invalid record", exc.problems) from None
    else:
        doc = line
    if not isinstance(doc, Mapping):
        raise InvalidInput("invalid record", [Problem(where="$", what="must be a JSON object")])
    if doc is line:
        try:
            check_value(dict(doc))
        except InvalidInput as exc:
            raise InvalidInput("invalid record", exc.problems) from None
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise InvalidInput(
            "invalid record",
            [Problem(where="$.kind", what="must be one of: " + ", ".join(_FIELDS))],
        )
    problems: list[Problem] = [
        Problem(where="$", what="unknown field (check its spelling)")
        for name in doc
        if name not in _FIELDS[kind]
    ]
    problems.extend(
        Problem(where=f"$.{name}", what="is required")
        for name in ("subject", "at", *_REQUIRED[kind])
        if doc.get(name) is None
    )
    subject = _identifier(doc.get("subject"), "$.subject", problems)
    at = _timestamp(doc.get("at"), problems)
    parsed = _PARSERS[kind](doc, problems)
    if problems or subject is None or at is None or parsed is None:
        raise InvalidInput("invalid record", problems)
    return _build(kind, subject, at, parsed)


def too_long(line: str | bytes) -> bool:
    """Whether ``line`` is over :data:`MAX_LINE_BYTES` in UTF-8 (a str is measured encoded)."""
    if len(line) > MAX_LINE_BYTES:
        return True
    # A character is at most 4 bytes: only a str that could be over is encoded to find out.
    return (
        isinstance(line, str)
        and len(line) * 4 > MAX_LINE_BYTES
        and len(line.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES
    )


def _identifier(value: object, where: str, problems: list[Problem]) -> Identifier | None:
    if value is None:
        return None
    try:
        return parse_identifier(value, where=where)
    except InvalidInput as exc:
        problems.extend(exc.problems)
        return None


def _timestamp(value: object, problems: list[Problem]) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value, where="$.at")
    except InvalidInput as exc:
        problems.extend(exc.problems)
        return None


def _token(doc: Mapping[str, Any], name: str, problems: list[Problem]) -> str | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_TOKEN:
        problems.append(Problem(where=f"$.{name}", what="must be a string of 1 to 128 characters"))
        return None
    return value


def _consent(doc: Mapping[str, Any], problems: list[Problem]) -> dict[str, Any] | None:
    status = doc.get("status")
    if status is not None and status not in _CONSENT_STATUSES:
        problems.append(
            Problem(where="$.status", what="must be one of: " + ", ".join(_CONSENT_STATUSES))
        )
    fields = {
        name: _token(doc, name, problems)
        for name in ("purpose", "notice", "notice_version", "source", "method", "jurisdiction")
    }
    if isinstance(doc.get("notice_version"), int) and not isinstance(
        doc.get("notice_version"), bool
    ):
        # "notice_version": 3 is a common slip for "3"; accept it as the same version.
        problems[:] = [p for p in problems if p.where != "$.notice_version"]
        fields["notice_version"] = str(doc["notice_version"])
    if status in _NEEDS_NOTICE and (fields["notice"] is None or fields["notice_version"] is None):
        problems.append(
            Problem(
                where="$.notice", what="a grant or refusal needs the notice id and version shown"
            )
        )
    return {**fields, "status": status}


def _traits(doc: Mapping[str, Any], problems: list[Problem]) -> dict[str, Any] | None:
    traits = doc.get("traits")
    if traits is not None and (not isinstance(traits, dict) or not traits):
        problems.append(Problem(where="$.traits", what="must be a non-empty object"))
    return {"traits": traits, "source": _token(doc, "source", problems) or "import"}


def _event(doc: Mapping[str, Any], problems: list[Problem]) -> dict[str, Any] | None:
    properties = doc.get("properties", {})
    if not isinstance(properties, dict):
        problems.append(Problem(where="$.properties", what="must be an object"))
    return {"raw": {k: doc[k] for k in ("name", "channel", "properties") if k in doc}}


def _link(doc: Mapping[str, Any], problems: list[Problem]) -> dict[str, Any] | None:
    return {"to": _identifier(doc.get("to"), "$.to", problems)}


_PARSERS: Final = {"consent": _consent, "traits": _traits, "event": _event, "link": _link}


def _build(kind: str, subject: Identifier, at: datetime, parsed: dict[str, Any]) -> Line:
    if kind == "consent":
        return ConsentLine(
            subject=subject,
            at=at,
            purpose=parsed["purpose"],
            status=parsed["status"],
            notice=parsed["notice"],
            notice_version=parsed["notice_version"],
            source=parsed["source"],
            method=parsed["method"] or "import",
            jurisdiction=parsed["jurisdiction"],
        )
    if kind == "traits":
        return TraitsLine(subject=subject, at=at, traits=parsed["traits"], source=parsed["source"])
    if kind == "event":
        return EventLine(subject=subject, at=at, raw={**parsed["raw"], "at": at})
    return LinkLine(subject=subject, at=at, to=parsed["to"])
