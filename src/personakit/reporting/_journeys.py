"""The journeys report: actions per journey and per channel, cancellations, unsubscribes.

Actions come from the ``journeys.actions`` dataset the journeys capability registers (read
under the reports' dataset purpose, as every dataset is); unsubscribes from the consent
ledgers: a withdrawal of ``marketing.<channel>`` made through an unsubscribe link (source
``email_link``, what both journeys' tokens and the privacy center's one-click link record).

The report publishes totals (``produced`` per row, an ``(all)`` row per table, the summary),
so its small cells are protected with complementary suppression (:mod:`._suppress`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from typing import Any, Final

from personakit.reporting._doc import document, hidden_mark, table
from personakit.reporting._sources import Census, ReportSources
from personakit.reporting._suppress import Group, protect

__all__ = ["ALL", "JOURNEYS_DATASET", "JOURNEY_STATUSES", "journeys_report"]

#: The dataset journeys offers its actions as: one row per produced action (journey, step,
#: channel, status pending / sent / failed / cancelled, reason, deferred) and one per holdout.
JOURNEYS_DATASET: Final = "journeys.actions"
#: The outbox statuses the journeys report counts, in column order (``other``: any other).
JOURNEY_STATUSES: Final = ("pending", "sent", "failed", "cancelled", "other")
#: The label of each table's totals row.
ALL: Final = "(all)"
_UNSUBSCRIBE_SOURCE: Final = "email_link"
_JOURNEY_COLUMNS: Final = ("produced", "deferred", *JOURNEY_STATUSES, "holdout")
_CHANNEL_COLUMNS: Final = ("produced", "deferred", *JOURNEY_STATUSES, "unsubscribes")


def journeys_report(sources: ReportSources, census: Census, k: int) -> dict[str, Any]:
    """Actions per journey and per channel, cancellations by reason, unsubscribes per channel."""
    enabled = JOURNEYS_DATASET in sources.registries.datasets
    counts: Counter[Hashable] = Counter()
    journeys: set[str] = set()
    channels: set[str] = set()
    reasons: set[tuple[str, str]] = set()
    if enabled:
        for _subject, row in sources.registries.datasets.rows(
            JOURNEYS_DATASET, sources.dataset_purpose
        ):
            journey = str(row.get("journey"))
            journeys.add(journey)
            status = str(row.get("status"))
            if status == "holdout":
                counts[("j", journey, "holdout")] += 1
                continue
            channel = str(row.get("channel"))
            channels.add(channel)
            status = status if status in JOURNEY_STATUSES else "other"
            deferred = row.get("deferred") is True
            for cell in (("j", journey), ("c", channel)):
                counts[(*cell, "produced")] += 1
                counts[(*cell, status)] += 1
                counts[(*cell, "deferred")] += deferred
            if status == "cancelled":
                reason = str(row.get("reason"))
                reasons.add((channel, reason))
                counts[("r", channel, reason)] += 1
    for channel in _unsubscribes(sources, census, counts):
        channels.add(channel)
    cells, groups = _cells(counts, sorted(journeys), sorted(channels), sorted(reasons))
    hidden = protect(cells, groups, k)

    def shown(cell: Hashable) -> int | Mapping[str, bool]:
        return hidden_mark(cells[cell], k) if cell in hidden else cells[cell]

    def rows(kind: str, names: list[str], columns: tuple[str, ...]) -> list[dict[str, Any]]:
        label = "journey" if kind == "j" else "channel"
        return [
            {label: name, **{c: shown(_key(kind, name, c)) for c in columns}}
            for name in [*names, ALL]
        ]

    return document(
        "journeys",
        "Journeys: actions per journey and channel",
        generated_at=sources.clock.now(),
        k=k,
        summary={
            "enabled": enabled,
            "actions": shown(("all", "produced")),
            "holdout": shown(("all", "holdout")),
            "unsubscribes": shown(("all", "unsubscribes")),
        },
        tables=[
            table(
                "journeys",
                "Actions per journey and status (holdout entries apart)",
                ("journey", *_JOURNEY_COLUMNS),
                rows("j", sorted(journeys), _JOURNEY_COLUMNS),
            ),
            table(
                "channels",
                "Actions per channel and status; unsubscribes per channel",
                ("channel", *_CHANNEL_COLUMNS),
                rows("c", sorted(channels), _CHANNEL_COLUMNS),
            ),
            table(
                "cancellations",
                "Cancelled actions by reason",
                ("channel", "reason", "actions"),
                (
                    {"channel": ch, "reason": reason, "actions": shown(("r", ch, reason))}
                    for ch, reason in sorted(reasons)
                ),
            ),
        ],
        notes=[
            "journeys enabled"
            if enabled
            else "journeys not enabled: no journeys.actions dataset is registered",
            (
                "produced = pending + sent + failed + cancelled + other; deferred: produced "
                "later than due (contact policy); holdout: entries held out, which produce "
                "nothing."
            ),
            (
                f"Actions of subjects with a basis for the {sources.dataset_purpose} purpose; "
                "unsubscribes: withdrawals of marketing.<channel> made through an unsubscribe "
                "link, from every consent ledger."
            ),
            (
                f"Counts from 1 to {k - 1} are suppressed, and so are the cells that would let "
                "a total give them away (complementary suppression)."
            ),
        ],
    )


def _unsubscribes(sources: ReportSources, census: Census, counts: Counter[Hashable]) -> set[str]:
    """Count unsubscribe-link withdrawals per channel into ``counts``; return the channels."""
    channels: set[str] = set()
    marketing = {
        p.id.removeprefix("marketing."): p.id
        for p in sources.manifest.purposes
        if p.id.startswith("marketing.")
    }
    by_purpose = {purpose: channel for channel, purpose in marketing.items()}
    for facts in census.facts():
        for record in facts.ledger:
            channel = by_purpose.get(record.purpose)
            if (
                channel is not None
                and record.status == "withdrawn"
                and record.source == _UNSUBSCRIBE_SOURCE
            ):
                channels.add(channel)
                counts[("c", channel, "unsubscribes")] += 1
    return channels


def _key(kind: str, name: str, column: str) -> Hashable:
    # The totals rows of both tables are one set of cells: the same figure is published twice.
    return ("all", column) if name == ALL else (kind, name, column)


def _cells(
    counts: Counter[Hashable],
    journeys: list[str],
    channels: list[str],
    reasons: list[tuple[str, str]],
) -> tuple[dict[Hashable, int], list[Group]]:
    """Every published count and the sums between them."""
    cells: dict[Hashable, int] = {}
    groups: list[Group] = []
    for kind, names, columns in (
        ("j", journeys, _JOURNEY_COLUMNS),
        ("c", channels, _CHANNEL_COLUMNS),
    ):
        for name in names:
            for column in columns:
                cells[(kind, name, column)] = counts[(kind, name, column)]
        for column in columns:  # each column adds up to the totals row
            total = ("all", column)
            cells[total] = sum(counts[(kind, name, column)] for name in names)
            groups.append(Group(tuple((kind, name, column) for name in names), total))
        for name in [*names, ALL]:  # each row's statuses add up to what it produced
            members = tuple(_key(kind, name, s) for s in JOURNEY_STATUSES)
            groups.append(Group(members, _key(kind, name, "produced")))
    for channel in channels:  # each channel's reasons add up to its cancelled actions
        members = tuple(("r", ch, reason) for ch, reason in reasons if ch == channel)
        groups.append(Group(members, ("c", channel, "cancelled")))
    for ch, reason in reasons:
        cells[("r", ch, reason)] = counts[("r", ch, reason)]
    return cells, groups
