"""Events: the event model, the catalog of known kinds, and per-subject chunked storage."""

from personakit.events._model import (
    BUILTIN_KINDS,
    CHANNELS,
    Event,
    EventCatalog,
    EventKind,
    event_id_at,
    event_millis,
    new_event_id,
    parse_timestamp,
)
from personakit.events._store import EventLog

__all__ = [
    "BUILTIN_KINDS",
    "CHANNELS",
    "Event",
    "EventCatalog",
    "EventKind",
    "EventLog",
    "event_id_at",
    "event_millis",
    "new_event_id",
    "parse_timestamp",
]
