"""Events: what a customer did, on which channel, when; and the catalog of known event kinds.

An event is ``(kind, channel, at, properties)``. The envelope is checked here in plain Python
(it is on the ingest hot path); the properties are checked against the kind's JSON Schema:
built-in shop kinds ship in ``schemas/event_properties.json``, custom kinds are registered with
their own schema. Known properties are typed; other properties are accepted (and encrypted like
everything about a subject) unless the kind is *strict*.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from attrs import field, frozen

from personakit._codec import loads
from personakit.exceptions import InvalidInput, Problem
from personakit.schema import SchemaValidator, compile_schema

__all__ = [
    "BUILTIN_KINDS",
    "CHANNELS",
    "Event",
    "EventCatalog",
    "EventKind",
    "event_id_at",
    "event_millis",
    "new_event_id",
    "parse_timestamp",
]

#: Channels an event can come from.
CHANNELS: Final = ("web", "app", "email", "sms", "push", "store", "pos", "api")

_KIND_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _load_builtin() -> dict[str, Any]:
    import importlib.resources  # noqa: PLC0415 (deferred: tempfile and shutil come with it)

    resource = importlib.resources.files("personakit.schemas").joinpath("event_properties.json")
    doc: dict[str, Any] = loads(resource.read_bytes())
    return doc


#: The shop event kinds personakit knows out of the box.
BUILTIN_KINDS: Final = (
    "add_to_cart",
    "checkout_started",
    "email_bounced",
    "email_click",
    "email_delivered",
    "email_open",
    "page_view",
    "product_view",
    "purchase",
    "push_open",
    "remove_from_cart",
    "search",
    "sms_click",
    "store_visit",
)


def new_event_id(at: datetime) -> str:
    """A time-sortable event id: ``evt_`` + milliseconds (11 hex digits) + 48 random bits."""
    return event_id_at(event_millis(at))


def event_millis(at: datetime) -> int:
    """Milliseconds since the epoch of ``at`` (0 before it): the time part of ids and chunks."""
    return max(0, int(at.timestamp() * 1000))


def event_id_at(millis: int) -> str:
    """A fresh event id for a moment given by :func:`event_millis`."""
    return f"evt_{millis:011x}{os.urandom(6).hex()}"


def parse_timestamp(value: object, *, where: str) -> datetime:
    """Parse an ISO 8601 timestamp *with a zone* (``Z`` or an offset) into a UTC datetime.

    :class:`InvalidInput` for anything else, and for a moment whose UTC time falls outside
    years 1 to 9999 (``0001-01-01T00:00:00+14:00`` is still 31 December of year 0 in UTC).
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and 10 <= len(value) <= 40:  # noqa: PLR2004 (ISO 8601 lengths)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(
                "invalid timestamp", [Problem(where=where, what="not an ISO 8601 timestamp")]
            ) from None
    else:
        raise InvalidInput(
            "invalid timestamp", [Problem(where=where, what="must be an ISO 8601 string")]
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            "invalid timestamp",
            [Problem(where=where, what="has no time zone (add Z or an offset like +02:00)")],
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            "invalid timestamp", [Problem(where=where, what="outside the supported date range")]
        ) from None


@frozen(kw_only=True)
class Event:
    """One thing a subject did. ``purposes``: the purposes it was collected for, with a basis."""

    id: str
    kind: str
    channel: str
    at: datetime
    properties: Mapping[str, Any] = field(factory=dict)
    purposes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The stored / exported form."""
        return {
            "id": self.id,
            "kind": self.kind,
            "channel": self.channel,
            "at": self.at.isoformat(),
            "properties": dict(self.properties),
            "purposes": list(self.purposes),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Event:
        """Rebuild from :meth:`to_json` output (trusted: it was decrypted from our store)."""
        return cls(
            id=doc["id"],
            kind=doc["kind"],
            channel=doc["channel"],
            at=datetime.fromisoformat(doc["at"]),
            properties=doc.get("properties", {}),
            purposes=tuple(doc.get("purposes", ())),
        )


@frozen(kw_only=True)
class EventKind:
    """A known event kind: its data category, the purposes that may use it, its schema."""

    name: str
    category: str
    purposes: tuple[str, ...]
    strict: bool = False
    validator: SchemaValidator = field(repr=False, eq=False)


class EventCatalog:
    """The event kinds one kit accepts: built-in ones plus custom ones, as the manifest maps them.

    ``declarations`` is the manifest's ``events`` section: ``{kind: {"category": …,
    "purposes": […], "strict": bool, "schema": {…}}}``; ``schema`` is required for a custom kind
    and optional for a built-in one (it then replaces the built-in property schema).
    """

    def __init__(self, declarations: Mapping[str, Mapping[str, Any]]) -> None:
        """Compile a validator per declared kind; :class:`InvalidInput` lists every problem."""
        builtin = _load_builtin()
        defs = builtin.get("$defs", {})
        self._kinds: dict[str, EventKind] = {}
        problems: list[Problem] = []
        for name, decl in declarations.items():
            where = f"$.events.{name}"
            if not _KIND_RE.fullmatch(name):
                problems.append(Problem(where="$.events", what="kind names are [a-z][a-z0-9_]*"))
                continue
            schema = decl.get("schema", builtin.get(name))
            if schema is None:
                problems.append(Problem(where=where, what="custom kind needs a 'schema'"))
                continue
            try:
                self._kinds[name] = _compile_kind(name, decl, schema, defs)
            except InvalidInput as exc:
                problems.extend(
                    Problem(where=f"{where}.schema{p.where[1:]}", what=p.what) for p in exc.problems
                )
        if problems:
            raise InvalidInput("invalid event declarations", problems)

    @classmethod
    def from_manifest(cls, declarations: Iterable[Any]) -> EventCatalog:
        """Build from the manifest's event declarations.

        Each declaration has ``kind``, ``category``, ``purposes``, ``strict`` and ``schema``.
        """
        return cls(
            {
                d.kind: {
                    "category": d.category,
                    "purposes": list(d.purposes),
                    "strict": bool(d.strict),
                    **({} if d.schema is None else {"schema": d.schema}),
                }
                for d in declarations
            }
        )

    def __repr__(self) -> str:
        """Render with the kind names."""
        return f"EventCatalog({sorted(self._kinds)!r})"

    def __contains__(self, kind: object) -> bool:
        """Whether ``kind`` is known."""
        return kind in self._kinds

    def kinds(self) -> list[str]:
        """The known kinds, sorted."""
        return sorted(self._kinds)

    @property
    def kinds_map(self) -> Mapping[str, EventKind]:
        """The declared kinds by name (read-only view, for hot paths)."""
        return self._kinds

    def get(self, kind: str) -> EventKind:
        """The declaration of ``kind`` (KeyError if unknown)."""
        return self._kinds[kind]

    def category_of(self, kind: str) -> str | None:
        """The data category of ``kind``, or None for a kind not (or no longer) declared."""
        found = self._kinds.get(kind)
        return None if found is None else found.category

    def register(
        self,
        kind: str,
        *,
        schema: Mapping[str, Any],
        category: str,
        purposes: Iterable[str],
        strict: bool = False,
    ) -> EventKind:
        """Add (or replace) a custom kind at run time."""
        if not _KIND_RE.fullmatch(kind):
            raise InvalidInput(
                "invalid event kind", [Problem(where="kind", what="must match [a-z][a-z0-9_]*")]
            )
        declared = _compile_kind(
            kind,
            {"category": category, "purposes": list(purposes), "strict": strict},
            schema,
            _load_builtin().get("$defs", {}),
        )
        self._kinds[kind] = declared
        return declared

    def build(self, raw: Mapping[str, Any], *, where: str = "$", now: datetime) -> Event:
        """Validate an event given as ``{"name"|"kind", "channel", "at", "properties"}``.

        Reports every problem at once; never echoes a value. ``at`` defaults to ``now``.
        """
        problems: list[Problem] = []
        kind = raw.get("name", raw.get("kind"))
        declared = self._kinds.get(kind) if isinstance(kind, str) else None
        if declared is None:
            problems.append(
                Problem(where=f"{where}.name", what="unknown event kind (register it first)")
            )
        channel = raw.get("channel")
        if channel not in CHANNELS:
            problems.append(
                Problem(where=f"{where}.channel", what="must be one of: " + ", ".join(CHANNELS))
            )
        at = now
        if raw.get("at") is not None:
            try:
                at = parse_timestamp(raw["at"], where=f"{where}.at")
            except InvalidInput as exc:
                problems.extend(exc.problems)
        properties = raw.get("properties", {})
        if not isinstance(properties, dict):
            problems.append(Problem(where=f"{where}.properties", what="must be an object"))
        elif declared is not None and not declared.validator.is_valid(properties):
            problems.extend(declared.validator.problems(properties, where=f"{where}.properties"))
        if problems:
            raise InvalidInput("invalid event", problems)
        assert declared is not None
        assert isinstance(channel, str)
        return Event(
            id=new_event_id(at),
            kind=declared.name,
            channel=channel,
            at=at,
            properties=properties,
        )


def _compile_kind(
    name: str, decl: Mapping[str, Any], schema: Mapping[str, Any], defs: Mapping[str, Any]
) -> EventKind:
    body: dict[str, Any] = {"$defs": dict(defs), **schema}
    if decl.get("strict"):
        # unevaluatedProperties (not additionalProperties) also sees properties that the
        # schema declares through $ref / allOf, as the built-in cart and message kinds do.
        body = {"$defs": dict(defs), "allOf": [dict(schema)], "unevaluatedProperties": False}
    return EventKind(
        name=name,
        category=str(decl.get("category", "")),
        purposes=tuple(decl.get("purposes", ())),
        strict=bool(decl.get("strict", False)),
        validator=compile_schema(body),
    )
