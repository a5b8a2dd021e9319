"""``kit.predict.channels``: smoothed responsiveness per channel, and a preferred channel.

Kept as the record kind ``predictive.channels`` (purposes ``marketing.email``,
``marketing.sms``, ``marketing.push``: the engagement events are collected for them and the
preference serves them); withdrawing one deletes that channel's counts. The shop's rate per
channel, the prior of every customer's smoothed rate, is refreshed by ``kit.predict.fit()``
over customers with a basis, and kept under ``x/predictive/channels`` (aggregates only).
Journeys read the preference through the segments ``predictive.prefers_<channel>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from attrs import define

from personakit._args import check_str_items, raise_problems
from personakit._codec import canonical_json, loads
from personakit._vault import Vault, check_subject
from personakit.events import Event
from personakit.exceptions import Problem
from personakit.predictive._channels import (
    ENGAGEMENTS,
    PURPOSES,
    ChannelStats,
    smoothed,
)
from personakit.storage import Store
from personakit.workflows import ExportRecord, RecordKind, Registries

__all__ = ["KIND", "Responsiveness"]

KIND: Final = "predictive.channels"
_NAME: Final = "counts"
_RATES_KEY: Final = "x/predictive/channels"
#: Fewer customers with engagements than this: the shop's rate is not kept (it would say
#: something about those few), and the prior is 0.
_MIN_CUSTOMERS: Final = 30


@define
class Responsiveness:
    """Per customer and channel: engagements, conversions after them, a smoothed rate."""

    store: Store
    vault: Vault
    _allowed: Callable[[str, str], bool]

    def __repr__(self) -> str:
        """Render with the channels it knows."""
        return f"Responsiveness(channels={sorted(PURPOSES)!r})"

    def register(self, registries: Registries) -> None:
        """Register the record kind and the ``predictive.prefers_<channel>`` segments."""
        registries.record_kinds.register(
            RecordKind(
                name=KIND,
                owner="predictive",
                description="per marketing channel: engagements and the purchases that "
                "followed them, for choosing the channel a customer responds to",
                purposes=tuple(sorted(PURPOSES.values())),
                section="channel_responsiveness",
                exporter=self.export_section,
                on_withdrawal=self.forget,
            )
        )
        for channel in sorted(PURPOSES):
            registries.segments.register(
                f"predictive.prefers_{channel}",
                _Prefers(self, channel),
                owner="predictive",
                description=f"responds best to {channel} (smoothed conversions per engagement)",
            )

    def on_events(self, subject: str, events: Sequence[Event]) -> None:
        """Fold engagements and purchases into the counts (called by the kit's events hook)."""
        engaged = any(
            e.kind in ENGAGEMENTS and PURPOSES[ENGAGEMENTS[e.kind]] in e.purposes for e in events
        )
        bought = any(e.kind == "purchase" for e in events)
        if not engaged and not bought:
            return
        current = self.counts(subject)
        if current is None and not engaged:
            return  # a purchase without an engagement before it converts nothing
        updated = (current or ChannelStats(channels={})).update(events)
        self.vault.put(subject, KIND, _NAME, updated.to_bytes())

    def on_merge(self, source: str, target: str) -> None:
        """Add the merged subject's counts to the survivor's."""
        mine = self.counts(source)
        if mine is None:
            return
        theirs = self.counts(target)
        merged = dict(theirs.channels) if theirs is not None else {}
        for name, counts in mine.channels.items():
            other = merged.get(name)
            merged[name] = (
                counts
                if other is None
                else type(counts)(
                    engaged=counts.engaged + other.engaged,
                    converted=counts.converted + other.converted,
                )
            )
        self.vault.put(target, KIND, _NAME, ChannelStats(channels=merged).to_bytes())
        self.vault.delete(source, KIND, _NAME)

    def counts(self, subject: str) -> ChannelStats | None:
        """``subject``'s counts per channel, or None (InvalidInput for a non-pseudonym)."""
        raw = self.vault.get(check_subject(subject), KIND, _NAME)
        return None if raw is None else ChannelStats.from_bytes(raw)

    def forget(self, subject: str, purpose: str) -> int:
        """The withdrawal eraser: delete the counts of the channel ``purpose`` covers."""
        current = self.counts(subject)
        channels = [c for c, p in PURPOSES.items() if p == purpose]
        if current is None or not any(c in current.channels for c in channels):
            return 0
        remaining = current
        for channel in channels:
            remaining = remaining.without(channel)
        if remaining.channels:
            self.vault.put(subject, KIND, _NAME, remaining.to_bytes())
        else:
            self.vault.delete(subject, KIND, _NAME)
        return 1

    def refresh(self, subjects: Sequence[str]) -> dict[str, float]:
        """Recompute and keep the shop's rate per channel over customers with a basis."""
        problems: list[Problem] = []
        listed = check_str_items(subjects, "subjects", problems)
        raise_problems("invalid subjects", problems)
        totals: dict[str, list[int]] = {}
        for subject in listed:
            found = self.counts(subject)
            for channel, counts in found.channels.items() if found is not None else ():
                if self._allowed(subject, PURPOSES[channel]):
                    tally = totals.setdefault(channel, [0, 0, 0])
                    tally[0] += counts.converted
                    tally[1] += counts.engaged
                    tally[2] += 1
        rates = {
            channel: converted / engaged
            for channel, (converted, engaged, customers) in sorted(totals.items())
            if engaged and customers >= _MIN_CUSTOMERS
        }
        self.store.put(_RATES_KEY, canonical_json(rates))
        return rates

    def shop_rates(self) -> dict[str, float]:
        """The shop's rate per channel from the last fit (empty before one)."""
        raw = self.store.get(_RATES_KEY)
        return {} if raw is None else {str(k): float(v) for k, v in loads(raw).items()}

    def rates(self, subject: str) -> dict[str, float]:
        """Smoothed conversions per engagement for each channel ``subject`` may be sent on."""
        found = self.counts(subject)
        if found is None:
            return {}
        prior = self.shop_rates()
        return {
            channel: smoothed(counts, prior.get(channel, 0.0))
            for channel, counts in sorted(found.channels.items())
            if self._allowed(subject, PURPOSES[channel])
        }

    def preferred(self, subject: str) -> str | None:
        """The channel with the best smoothed rate, or None (no engagement, or all equal)."""
        rates = self.rates(subject)
        if not rates:
            return None
        best = max(rates.values())
        leaders = [channel for channel, rate in rates.items() if rate == best]
        return leaders[0] if len(leaders) == 1 else None

    def export_section(self, subject: str, records: Sequence[ExportRecord]) -> Any:
        """The export section: counts, smoothed rates and how they are computed."""
        if not records:
            return None  # nothing kept about this customer's channels: no section
        found = self.counts(subject)
        return {
            "counts": None if found is None else found.to_json(),
            "rates": self.rates(subject),
            "preferred_channel": self.preferred(subject),
            "logic": "per channel, purchases within 3 days of an e-mail open or click, SMS "
            "click or push open, per such engagement, smoothed towards the shop's rate for "
            "the channel as if you had 10 more engagements at that rate",
        }


@define
class _Prefers:
    service: Responsiveness
    channel: str

    def __call__(self, subject: str, now: object) -> bool:
        del now  # the counts are as of the last event; no decay
        return self.service.preferred(subject) == self.channel
