"""From one customer's events to conversion paths (the input of attribution).

A touchpoint is any event other than a purchase, on its channel; repeated touches of one
channel on one day count once (a session of page views is one web touch). A purchase closes a
converted path holding the touches of the lookback window before it (and after the previous
purchase); touches after the last purchase make one path that has not converted (yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from personakit.events import Event
from personakit.predictive._attribution import Path, Touch

__all__ = ["paths_from_events"]


def paths_from_events(events: Sequence[Event], lookback: timedelta) -> list[Path]:
    """The conversion paths of one customer's events (oldest first)."""
    paths: list[Path] = []
    pending: list[Touch] = []
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        if event.kind == "purchase":
            start = event.at - lookback
            touches = tuple(t for t in pending if t.at >= start)
            paths.append(Path(touches=touches, converted=True, converted_at=event.at))
            pending = []
            continue
        last = pending[-1] if pending else None
        if last is not None and last.channel == event.channel and last.at.date() == event.at.date():
            continue
        pending.append(Touch(event.channel, event.at))
    if pending:
        start = pending[-1].at - lookback
        paths.append(Path(touches=tuple(t for t in pending if t.at >= start), converted=False))
    return paths
