"""Retention: delete what has outlived the manifest's retention periods.

The manifest gives each purpose a retention period (``days``, counted ``from`` the data's
collection or from the subject's last activity) and the data categories it uses. A data
category is kept as long as the longest-retained purpose that uses it; data in a category no
purpose uses has no reason to be kept and goes at the next sweep.

:meth:`RetentionSweeper.sweep` visits every subject (the key store lists them: one entry a
subject) and runs the retention sweeper of every registered record kind
(:class:`~personakit.workflows.RecordKinds`: events and traits are two of them), then the
sweepers registered by name, and reports counts per kind. Consent records are *not* swept:
they are the proof of consent and are removed only with the subject (erasure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Final

from attrs import define, field, frozen

from personakit._args import check_callable, check_moment, raise_problems
from personakit.audit import AuditLog
from personakit.crypto import Keyring
from personakit.events import EventLog
from personakit.exceptions import Problem, SubjectNotFound
from personakit.profiles import TraitStore
from personakit.workflows._registry import RecordKinds, RetentionSweep

__all__ = ["CategoryRetention", "RetentionReport", "RetentionSweeper", "category_retention"]

_SUBJECT_KEYS: Final = "k/s/"


@frozen(kw_only=True)
class CategoryRetention:
    """How long a data category is kept, and from when."""

    category: str
    days: int
    since: str  # "collection" or "last_activity"


@frozen(kw_only=True)
class RetentionReport:
    """What a sweep removed, by kind of data, and how many subjects it visited."""

    subjects: int
    removed: Mapping[str, int]
    at: datetime

    def to_json(self) -> dict[str, object]:
        """For the CLI and reports."""
        return {"at": self.at.isoformat(), "subjects": self.subjects, "removed": dict(self.removed)}


def category_retention(
    purposes: Iterable[tuple[Iterable[str], int, str]],
) -> dict[str, CategoryRetention]:
    """Per category, the longest retention of the purposes using it.

    ``purposes`` yields ``(data_categories, retention_days, retention_from)``. When purposes
    disagree on ``from``, ``last_activity`` wins (it is the longer reading).
    """
    result: dict[str, CategoryRetention] = {}
    for categories, days, since in purposes:
        for category in categories:
            known = result.get(category)
            if (
                known is None
                or days > known.days
                or (days == known.days and since == "last_activity")
            ):
                result[category] = CategoryRetention(category=category, days=days, since=since)
    return result


@define(kw_only=True, repr=False)
class RetentionSweeper:
    """Applies retention to every subject.

    ``retention`` maps data categories to their rules; ``event_category(kind)`` maps an event
    kind to its category.
    """

    keyring: Keyring
    events: EventLog
    traits: TraitStore
    audit: AuditLog
    kinds: RecordKinds
    retention: Mapping[str, CategoryRetention]
    event_category: Callable[[str], str | None]
    _sweepers: dict[str, RetentionSweep] = field(init=False, factory=dict)
    # (subject, its last activity) as read before the sweep of that subject removed anything:
    # every kind's sweeper measures "since last activity" from the same moment.
    _activity: tuple[str, datetime | None] | None = field(init=False, default=None)

    def __repr__(self) -> str:
        """Render with the categories it knows."""
        return f"RetentionSweeper({sorted(self.retention)!r})"

    def register(self, name: str, sweeper: RetentionSweep) -> None:
        """Add a sweeper reported under ``name``, run after the record kinds' own.

        A component that keeps a kind of record registers a
        :class:`~personakit.workflows.RecordKind` with ``retention=`` instead.
        """
        self._sweepers[name] = sweeper

    def subjects(self) -> list[str]:
        """Every subject that has a data key, in key order."""
        return [key[len(_SUBJECT_KEYS) :] for key, _ in self.keyring.store.scan(_SUBJECT_KEYS)]

    def sweep(
        self, now: datetime, *, progress: Callable[[int, int], None] | None = None
    ) -> RetentionReport:
        """Delete everything expired at ``now``; ``progress(done, total)`` after each subject.

        Raises :class:`~personakit.exceptions.InvalidInput` for a ``now`` that is not an aware
        datetime or a ``progress`` that is not callable, before anything is swept.
        """
        problems: list[Problem] = []
        check_moment(now, "now", problems)
        check_callable(progress, "progress", problems)
        raise_problems("invalid retention sweep", problems)
        subjects = self.subjects()
        removed: dict[str, int] = {"events": 0, "traits": 0}
        for done, subject in enumerate(subjects, start=1):
            try:
                counts = self.sweep_subject(subject, now)
            except SubjectNotFound:
                counts = {}  # erased while we swept
            for name, count in counts.items():
                removed[name] = removed.get(name, 0) + count
            if progress is not None:
                progress(done, len(subjects))
        report = RetentionReport(subjects=len(subjects), removed=removed, at=now)
        self.audit.append("retention.swept", data=report.to_json())
        return report

    def sweep_subject(self, subject: str, now: datetime) -> dict[str, int]:
        """Apply retention to one subject; return what was removed, by kind."""
        self._activity = (subject, self._last_activity(subject))
        try:
            removed = {name: sweep(subject, now) for name, sweep in self.kinds.sweepers()}
            for name, sweeper in self._sweepers.items():
                removed[name] = sweeper(subject, now)
        finally:
            self._activity = None
        return removed

    def sweep_events(self, subject: str, now: datetime) -> int:
        """Delete ``subject``'s events whose category's retention has passed at ``now``."""
        return self.events.remove_where(
            subject,
            lambda event: self._expired(subject, now, self.event_category(event.kind), event.at),
        )

    def sweep_traits(self, subject: str, now: datetime) -> int:
        """Delete ``subject``'s declared traits whose category's retention has passed."""
        stale = [
            name
            for name, detail in self.traits.details(subject).items()
            if name in self.traits.declarations
            and self._expired(
                subject,
                now,
                self.traits.declarations[name].category,
                datetime.fromisoformat(detail["updated_at"]),
            )
        ]
        return self.traits.remove(subject, stale)

    def _last_activity(self, subject: str) -> datetime | None:
        if self._activity is not None and self._activity[0] == subject:
            return self._activity[1]
        events = self.events.read(subject, compact=False)
        return max(
            [e.at for e in events]
            + [
                datetime.fromisoformat(d["updated_at"])
                for d in self.traits.details(subject).values()
            ],
            default=None,
        )

    def _expired(
        self, subject: str, now: datetime, category: str | None, collected: datetime
    ) -> bool:
        rule = self.retention.get(category) if category else None
        if rule is None:
            return True  # no purpose uses this category: nothing justifies keeping it
        last_activity = self._last_activity(subject) if rule.since == "last_activity" else None
        anchor = last_activity or collected
        return now - anchor > timedelta(days=rule.days)
