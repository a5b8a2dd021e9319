"""Channel responsiveness: per customer and channel, engagements and the purchases that followed.

An engagement is an ``email_open`` / ``email_click`` (e-mail), ``sms_click`` (SMS) or
``push_open`` (push) collected for that channel's marketing purpose. A purchase within
:data:`WINDOW` after an engagement counts once as a conversion of that channel. The counts are
kept per channel in one sealed record; withdrawing ``marketing.<channel>`` deletes that
channel's counts only. Rates are smoothed towards the shop's rate for the channel (computed at
fit time over customers with a basis), so two messages and one purchase do not make a 50%
channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from attrs import evolve, frozen

from personakit._codec import canonical_json, loads
from personakit.events import Event

__all__ = [
    "ENGAGEMENTS",
    "PURPOSES",
    "WINDOW",
    "ChannelCounts",
    "ChannelStats",
    "smoothed",
]

#: Event kind -> the channel it shows engagement with.
ENGAGEMENTS: Final = {
    "email_open": "email",
    "email_click": "email",
    "sms_click": "sms",
    "push_open": "push",
}
#: Channel -> the purpose its engagement events are collected for.
PURPOSES: Final = {"email": "marketing.email", "sms": "marketing.sms", "push": "marketing.push"}
#: A purchase this soon after an engagement is a conversion of the engagement's channel.
WINDOW: Final = timedelta(days=3)
#: How many engagements the shop's rate weighs in a customer's smoothed rate.
STRENGTH: Final = 10.0


@frozen(kw_only=True)
class ChannelCounts:
    """One channel's engagements, conversions and the engagement still open for credit."""

    engaged: int = 0
    converted: int = 0
    open_since: datetime | None = None


@frozen(kw_only=True)
class ChannelStats:
    """A customer's :class:`ChannelCounts` per channel."""

    channels: Mapping[str, ChannelCounts]

    def update(self, events: Sequence[Event]) -> ChannelStats:
        """The counts after ``events`` (engagements with their basis, and purchases)."""
        channels = dict(self.channels)
        for event in sorted(events, key=lambda e: (e.at, e.id)):
            channel = ENGAGEMENTS.get(event.kind)
            if channel is not None and PURPOSES[channel] in event.purposes:
                counts = channels.get(channel, ChannelCounts())
                channels[channel] = evolve(counts, engaged=counts.engaged + 1, open_since=event.at)
            elif event.kind == "purchase":
                for name, counts in channels.items():
                    since = counts.open_since
                    if since is not None and since <= event.at <= since + WINDOW:
                        channels[name] = ChannelCounts(
                            engaged=counts.engaged, converted=counts.converted + 1
                        )
        return ChannelStats(channels=channels)

    def without(self, channel: str) -> ChannelStats:
        """The counts with one channel's removed (its purpose lost its basis)."""
        return ChannelStats(channels={k: v for k, v in self.channels.items() if k != channel})

    def to_json(self) -> dict[str, Any]:
        """As stored and exported."""
        return {
            name: {
                "engaged": counts.engaged,
                "converted": counts.converted,
                "open_since": None if counts.open_since is None else counts.open_since.isoformat(),
            }
            for name, counts in sorted(self.channels.items())
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON, to be sealed by the vault."""
        return canonical_json(self.to_json())

    @classmethod
    def from_bytes(cls, raw: bytes) -> ChannelStats:
        """Read back what :meth:`to_bytes` wrote (trusted: decrypted from our store)."""
        doc = loads(raw)
        return cls(
            channels={
                name: ChannelCounts(
                    engaged=int(item["engaged"]),
                    converted=int(item["converted"]),
                    open_since=None
                    if item["open_since"] is None
                    else datetime.fromisoformat(item["open_since"]),
                )
                for name, item in doc.items()
            }
        )


def smoothed(counts: ChannelCounts, shop_rate: float) -> float:
    """Conversions per engagement, shrunk towards ``shop_rate`` (beta-binomial, STRENGTH)."""
    return (counts.converted + STRENGTH * shop_rate) / (counts.engaged + STRENGTH)
