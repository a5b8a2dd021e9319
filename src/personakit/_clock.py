"""Injectable time: everything that depends on "now" asks a :class:`Clock`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol, runtime_checkable

__all__ = ["Clock", "FixedClock", "SystemClock", "as_utc", "from_micros", "to_micros"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


@runtime_checkable
class Clock(Protocol):
    """**Protocol**: a source of the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return ``datetime.now(UTC)``."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        """Render as ``SystemClock()``."""
        return "SystemClock()"


class FixedClock:
    """A clock that only moves when told to, for deterministic tests of expiry and deadlines."""

    def __init__(self, at: datetime) -> None:
        """Start at ``at`` (must be timezone-aware)."""
        self._lock = threading.Lock()
        self._at = as_utc(at)

    def now(self) -> datetime:
        """Return the clock's current instant."""
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        """Jump to ``at`` (may go backwards: tests of clock skew need that)."""
        with self._lock:
            self._at = as_utc(at)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; return the new instant."""
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._at += step
            return self._at

    def __repr__(self) -> str:
        """Render with the current instant."""
        return f"FixedClock({self._at.isoformat()!r})"


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` converted to UTC; a naive datetime is refused (it has no meaning here)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = "datetime must be timezone-aware"
        raise ValueError(msg)
    return moment.astimezone(UTC)


def to_micros(moment: datetime) -> int:
    """Exact microseconds since the Unix epoch of an aware datetime."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime ``micros`` microseconds after the Unix epoch."""
    return _EPOCH + timedelta(microseconds=micros)
