"""Contact policy: frequency caps per channel and overall, quiet hours in the subject's zone.

A capped or quiet-hour action is deferred to the next allowed moment, never dropped. Quiet
hours are wall-clock hours in the subject's ``timezone`` trait (``zoneinfo``; the ``tzdata``
package supplies the zone database where the system has none), so a DST change moves the
UTC instant, not the local hour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import field, frozen

from personakit.exceptions import InvalidInput, Problem

__all__ = ["Cap", "ContactPolicy", "next_date_moment", "zone_of"]

_MAX_ROUNDS: Final = 64


@frozen(kw_only=True)
class Cap:
    """At most ``limit`` marketing contacts within any ``window`` (``channel`` None: all)."""

    limit: int
    window: timedelta
    channel: str | None = None


def _default_caps() -> tuple[Cap, ...]:
    return (
        Cap(limit=1, window=timedelta(hours=16), channel="email"),
        Cap(limit=1, window=timedelta(hours=16), channel="sms"),
        Cap(limit=3, window=timedelta(days=7)),
    )


@frozen(kw_only=True)
class ContactPolicy:
    """Caps and quiet hours (``quiet_start`` to ``quiet_end`` local time, crossing midnight)."""

    caps: tuple[Cap, ...] = field(factory=_default_caps)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)

    def __attrs_post_init__(self) -> None:
        """Refuse caps that could never let anything through."""
        problems = [
            Problem(where=f"caps[{i}]", what="limit must be >= 1 and window > 0")
            for i, cap in enumerate(self.caps)
            if not isinstance(cap, Cap) or cap.limit < 1 or cap.window <= timedelta(0)
        ]
        if problems:
            raise InvalidInput("invalid contact policy", problems)

    def next_allowed(
        self,
        at: datetime,
        channel: str,
        zone: ZoneInfo,
        contacts: Sequence[tuple[str, datetime]],
    ) -> datetime:
        """The first moment at or after ``at`` that no cap and no quiet hour forbids."""
        moment = at
        for _ in range(_MAX_ROUNDS):
            moved = self._after_quiet(moment, zone)
            moved = self._after_caps(moved, channel, contacts)
            if moved == moment:
                return moment
            moment = moved
        return moment  # the rounds only move forward; bounded so a pathology cannot spin

    def _after_quiet(self, moment: datetime, zone: ZoneInfo) -> datetime:
        local = moment.astimezone(zone)
        now = local.time().replace(tzinfo=None)
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return moment
        crossing = start > end
        quiet = (now >= start or now < end) if crossing else (start <= now < end)
        if not quiet:
            return moment
        day = local.date()
        if crossing and now >= start:
            day += timedelta(days=1)
        return _local_moment(day, end, zone)

    def _after_caps(
        self, moment: datetime, channel: str, contacts: Sequence[tuple[str, datetime]]
    ) -> datetime:
        later = moment
        for cap in self.caps:
            if cap.channel is not None and cap.channel != channel:
                continue
            inside = sorted(
                when
                for ch, when in contacts
                if (cap.channel is None or ch == cap.channel)
                and moment - cap.window < when <= moment
            )
            if len(inside) >= cap.limit:
                later = max(later, inside[len(inside) - cap.limit] + cap.window)
        return later


def zone_of(traits: Mapping[str, object]) -> ZoneInfo:
    """The subject's time zone from its ``timezone`` trait, UTC when absent or unknown."""
    name = traits.get("timezone")
    if isinstance(name, str):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return ZoneInfo("UTC")


def _local_moment(day: date, clock: time, zone: ZoneInfo) -> datetime:
    # A wall-clock time skipped by a DST change maps (fold=0) to the instant after the gap.
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def next_date_moment(
    value: object, *, after: datetime, days_before: int, hour: int, zone: ZoneInfo
) -> datetime | None:
    """The next yearly moment of a date trait (birthday) strictly after ``after``, or None."""
    if not isinstance(value, str):
        return None
    try:
        born = date.fromisoformat(value)
    except ValueError:
        return None
    year = after.astimezone(zone).year
    for candidate_year in (year, year + 1, year + 2):
        try:
            day = born.replace(year=candidate_year)
        except ValueError:  # 29 February in a common year: the 28th
            day = date(candidate_year, 2, 28)
        moment = _local_moment(day - timedelta(days=days_before), time(hour), zone)
        if moment > after:
            return moment
    return None
