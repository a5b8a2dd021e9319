"""``kit.journeys``: load journeys, run what is due, hand out actions, honour unsubscribes.

The service registers with the workflows layer and imports no other capability:

* an events hook (in the transaction that accepts the events) applies exits, conversions,
  inactivity watches and event triggers; a traits hook (in the profile write transaction)
  moves date watches and re-checks segment triggers; a merge hook moves the merged subject's
  active entries, watches and outbox actions to the survivor;
* the record kind ``journeys`` (state, claims, outbox actions, contact history, sealed in the
  subject's vault; export section ``journeys``; a withdrawal of ``marketing.<channel>``
  cancels that channel's pending actions) and the shared kind ``journeys.index`` (due-time
  index, outbox queue, action pointers; erasure removes the subject's entries);
* the dataset ``journeys.actions`` (one row per produced action and per holdout entry) and
  the dataset ``journeys.entries`` (one row per journey entry: arm holdout / treated and
  whether the entry converted, for conversion with uplift against the holdout).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from attrs import define, field

from personakit._args import check_callable, check_moment, raise_problems
from personakit._clock import Clock, from_micros, to_micros
from personakit._codec import canonical_json, loads
from personakit._vault import Vault, check_subject
from personakit.consent import ConsentManager
from personakit.events import Event
from personakit.exceptions import InvalidInput, Problem, SubjectNotFound
from personakit.journeys._datasets import action_rows, entry_rows
from personakit.journeys._definition import CHANNELS, Journey, Known, parse_journey
from personakit.journeys._engagement import Engagement, RecordEvent
from personakit.journeys._engine import ADDRESS_TRAITS, Engine
from personakit.journeys._keys import COUNT, DEFINITIONS, DUE, KIND, parse_due
from personakit.journeys._merge import forget_engagement, move_outbox, unindex
from personakit.journeys._model import Action, Redeemed, RunSummary
from personakit.journeys._outbox import DEFAULT_LEASE, Outbox
from personakit.journeys._policy import ContactPolicy
from personakit.journeys._reads import journey_reads
from personakit.journeys._records import (
    MAX_LIMIT,
    check_action_id,
    check_channel_address,
    check_delivery,
    check_lease,
    check_limit,
    export_section,
)
from personakit.journeys._templates import (
    BUILTIN_JOURNEYS,
    TEMPLATES,
    RecommendationsProvider,
)
from personakit.journeys._tokens import (
    SUPPRESSION_LABEL,
    TOKEN_LABEL,
    Suppression,
    UnsubscribeTokens,
    invalid_token,
)
from personakit.journeys._tracking import TRACKING_LABEL, TrackingTokens
from personakit.storage import Store
from personakit.workflows import ExportRecord, RecordKind, Registries

__all__ = ["Journeys"]

_MAX_JOURNEYS: Final = 50
_BATCH: Final = 256
_PER_COMMIT: Final = 16


@define
class Journeys:
    """Omnichannel journeys over the kit's events, traits and consent (``kit.journeys``)."""

    store: Store
    vault: Vault
    consent: ConsentManager
    clock: Clock
    engine: Engine
    outbox: Outbox
    tokens: UnsubscribeTokens
    suppression: Suppression
    engagement: Engagement
    _known: Callable[[], Known]
    _subjects: Callable[[], list[str]]
    _parsed: tuple[bytes, tuple[Journey, ...]] | None = field(default=None, init=False)

    def __repr__(self) -> str:
        """Render with the active journeys' ids."""
        return f"Journeys({[j.id for j in self._active()]!r})"

    @classmethod
    def build(
        cls,
        *,
        registries: Registries,
        store: Store,
        vault: Vault,
        consent: ConsentManager,
        clock: Clock,
        traits: Callable[[str], dict[str, Any]],
        trait_names: Iterable[str],
        event_kinds: Callable[[], Iterable[str]],
        mac: Callable[[str, bytes], bytes],
        verify_mac: Callable[[str, bytes, bytes], bool],
        subjects: Callable[[], list[str]],
        recommend: RecommendationsProvider | None = None,
        policy: ContactPolicy | None = None,
        unsubscribe_url: str | None = None,
        record_event: RecordEvent | None = None,
        may_record: Callable[[str, str], bool] | None = None,
    ) -> Journeys:
        """Wire the service and register its record kinds, hooks and dataset.

        ``record_event(subject, kind, properties, at)`` stores an engagement event for a
        subject and ``may_record(subject, kind)`` says whether it would be kept (the kit
        passes the workflows' ingest); without them nothing is tracked.
        """
        suppression = Suppression(store, lambda data: mac(SUPPRESSION_LABEL, data))
        tokens = UnsubscribeTokens(
            lambda data: mac(TOKEN_LABEL, data),
            lambda data, tag: verify_mac(TOKEN_LABEL, data, tag),
        )
        engine = Engine(
            store=store,
            vault=vault,
            consent=consent,
            traits=traits,
            segments=registries.segments,
            suppression=suppression,
            action_mac=lambda data: mac("journeys-action", data),
            holdout_mac=lambda data: mac("journeys-holdout", data),
            policy=policy or ContactPolicy(),
            recommend=recommend,
        )
        names = frozenset(trait_names)
        tracking = TrackingTokens(
            lambda data: mac(TRACKING_LABEL, data),
            lambda data, tag: verify_mac(TRACKING_LABEL, data, tag),
        )
        allowed = may_record or (lambda _subject, _kind: False)
        outbox = Outbox(
            store=store,
            vault=vault,
            engine=engine,
            tokens=tokens,
            traits=traits,
            unsubscribe_url=unsubscribe_url,
            tracking=tracking,
            may_record=allowed,
        )
        service = cls(
            store=store,
            vault=vault,
            consent=consent,
            clock=clock,
            engine=engine,
            outbox=outbox,
            tokens=tokens,
            suppression=suppression,
            engagement=Engagement(
                store=store,
                engine=engine,
                outbox=outbox,
                tokens=tracking,
                suppression=suppression,
                clock=clock,
                record_event=record_event or (lambda *_: False),
                may_record=allowed,
            ),
            known=lambda: Known(
                templates=TEMPLATES,
                traits=names,
                events=frozenset(event_kinds()),
                segments=frozenset(registries.segments.names()),
            ),
            subjects=subjects,
        )
        kinds = registries.record_kinds
        # Kept for the marketing purposes the manifest has: only their withdrawal cancels
        # (a kind without purposes would join every purpose's cascade and receipt).
        marketing = tuple(
            f"marketing.{channel}"
            for channel in CHANNELS
            if consent.manifest.get_purpose(f"marketing.{channel}") is not None
        )
        kinds.register(
            RecordKind(
                name=KIND,
                owner="journeys",
                description="journey state, step claims, outbox actions (channel, template, "
                "personalized payload, send time, status) and recent contact times",
                purposes=marketing,
                section="journeys",
                exporter=service.export_section,
                on_withdrawal=service.on_withdrawal if marketing else None,
            )
        )
        kinds.register(
            RecordKind(
                name="journeys.index",
                owner="journeys",
                description="due-time index, outbox queue and tracking pointers naming the subject",
                shared=True,
                on_erasure=service.on_erasure,
            )
        )
        registries.hooks.on_events("journeys", service.on_events)
        registries.hooks.on_merge("journeys", service.on_merge)
        registries.hooks.on_traits_change("journeys", service.on_traits)
        registries.datasets.register(
            "journeys.actions",
            service.dataset,
            owner="journeys",
            description="per journey action: journey, step, channel, status; holdout entries",
        )
        registries.datasets.register(
            "journeys.entries",
            service.entries,
            owner="journeys",
            description="per journey entry: journey, arm (holdout or treated), converted 0/1",
        )
        service._reload()  # outside any transaction: see _active
        return service

    # -- definitions -----------------------------------------------------------------------

    def load(self, definitions: object) -> list[str]:
        """Replace the active journeys with ``definitions`` (a list of JSON documents).

        All or nothing: :class:`InvalidInput` lists every problem of every definition (an
        unknown template, channel, trait, event kind or segment included), and then the
        journeys active before stay active. Returns the ids now active.
        """
        if isinstance(definitions, (str, bytes, Mapping)) or not isinstance(
            definitions, (list, tuple)
        ):
            raise InvalidInput(
                "invalid journeys", [Problem(where="$", what="must be a list of journeys")]
            )
        if len(definitions) > _MAX_JOURNEYS:
            raise InvalidInput(
                "invalid journeys", [Problem(where="$", what=f"at most {_MAX_JOURNEYS}")]
            )
        known = self._known()
        problems: list[Problem] = []
        parsed: list[Journey] = []
        for index, raw in enumerate(definitions):
            try:
                parsed.append(parse_journey(raw, known, where=f"$[{index}]"))
            except InvalidInput as exc:
                problems.extend(exc.problems)
        ids = [j.id for j in parsed]
        problems.extend(
            Problem(where=f"$[{i}].id", what="repeats another journey's id")
            for i, journey_id in enumerate(ids)
            if journey_id in ids[:i]
        )
        raise_problems("invalid journeys", problems)
        raw = canonical_json([dict(j.doc) for j in parsed])
        self.store.put(DEFINITIONS, raw)
        self._parsed = (raw, tuple(parsed))
        return ids

    def enable_builtin(self, names: object = None) -> list[str]:
        """Add built-in journeys (all six by default) to the active ones; return active ids."""
        wanted = list(BUILTIN_JOURNEYS) if names is None else names
        if isinstance(wanted, (str, bytes)) or not isinstance(wanted, (list, tuple)):
            raise InvalidInput("invalid names", [Problem(where="names", what="must be a list")])
        problems = [
            Problem(where=f"names[{i}]", what="not a built-in journey")
            for i, name in enumerate(wanted)
            if not isinstance(name, str) or name not in BUILTIN_JOURNEYS
        ]
        raise_problems("invalid names", problems)
        current = {j.id: dict(j.doc) for j in self._reload()}
        current.update({name: dict(BUILTIN_JOURNEYS[name]) for name in wanted})
        return self.load(list(current.values()))

    def definitions(self) -> list[dict[str, Any]]:
        """The active journeys' JSON documents."""
        return [dict(j.doc) for j in self._reload()]

    def reads(self) -> dict[str, dict[str, list[str]]]:
        """What each active journey reads (``journey.<id>``), for ``kit.reports.add_reads``."""
        return {f"journey.{j.id}": journey_reads(j) for j in self._reload()}

    def _active(self) -> tuple[Journey, ...]:
        """The active journeys as this process last read them, without reading the store.

        The events hook runs inside every write transaction. Reading the shared definitions
        there would lock that one global key in each of them (on PostgreSQL: one advisory
        lock every writer queues on, and deadlocks with the per-subject locks, seen in the
        several-writers test). So the definitions are read outside transactions: when the
        kit is built, by ``load`` / ``enable_builtin`` in this process, and at the start of
        ``run_due``, ``refresh``, ``definitions`` and ``reads``. Journeys loaded by another
        process start triggering on this process's events after its next such call.
        """
        if self._parsed is None:
            return self._reload()
        return self._parsed[1]

    def _reload(self) -> tuple[Journey, ...]:
        raw = self.store.get(DEFINITIONS)
        if raw is None:
            self._parsed = (b"", ())
            return ()
        if self._parsed is not None and self._parsed[0] == raw:
            return self._parsed[1]
        known = self._known()
        # Stored definitions validated when loaded; one whose segment has gone since (a
        # capability not wired in this process) is left out rather than stopping everything.
        journeys: list[Journey] = []
        for doc in loads(raw):
            try:
                journeys.append(parse_journey(doc, known))
            except InvalidInput:
                continue
        self._parsed = (raw, tuple(journeys))
        return self._parsed[1]

    def _by_id(self) -> dict[str, Journey]:
        return {j.id: j for j in self._active()}

    # -- hooks -----------------------------------------------------------------------------

    def on_events(self, subject: str, events: Sequence[Event]) -> None:
        """The events hook: exits, conversions, watches and triggers (same transaction)."""
        journeys = self._active()
        if journeys:
            self.engine.on_events(subject, events, journeys, self.clock.now())

    def on_merge(self, source: str, target: str) -> None:
        """The merge hook: the merged subject's journeys go on as the survivor's.

        Active entries and watches move (one active entry per journey: the survivor's own
        wins), and so do outbox actions, their queue and tracking pointers, and the contact
        history that caps count against.
        """
        self.engine.adopt(source, target, self._active())
        move_outbox(self.store, self.vault, source, target)

    def on_traits(self, subject: str, names: Sequence[str]) -> None:
        """The traits hook: date triggers follow a changed date, segment triggers re-check."""
        journeys = self._active()
        if journeys:
            self.engine.on_traits(subject, names, journeys, self.clock.now())

    def refresh(self, subject: str, *, now: datetime | None = None) -> int:
        """Re-evaluate segment and date triggers for ``subject`` (call after a trait update).

        Returns how many journeys it entered. :class:`InvalidInput` for a bad argument.
        """
        moment = self._now(now)
        check_subject(subject)
        journeys = self._reload()
        with self.store.transaction():
            return self.engine.refresh(subject, journeys, moment)

    # -- running ---------------------------------------------------------------------------

    def run_due(
        self,
        now: datetime | None = None,
        *,
        limit: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> RunSummary:
        """Produce the action of every step due at ``now`` (default: the clock), exactly once.

        Reads the due-time index in key order and stops at the first entry not yet due, so
        the work is proportional to what is due, not to the number of subjects. Entries are
        handled in transactions of up to 16 that re-read each entry and write each step's
        claim with its action: run it from several processes at once, or again after a
        crash, safely.
        ``progress`` is called with the number of entries handled so far.
        """
        moment = self._now(now)
        problems: list[Problem] = []
        if limit is not None and (type(limit) is not int or not 1 <= limit <= MAX_LIMIT):
            problems.append(Problem(where="limit", what=f"must be an int in 1..{MAX_LIMIT}"))
        check_callable(progress, "progress", problems)
        raise_problems("invalid run", problems)
        self._reload()
        journeys = self._by_id()
        totals: dict[str, int] = {}
        cap = limit or MAX_LIMIT
        bound = to_micros(moment)
        while sum(totals.values()) < cap:
            batch = self._due_batch(bound, min(_BATCH, cap - sum(totals.values())))
            if not batch:
                break
            for start in range(0, len(batch), _PER_COMMIT):
                # Several entries per transaction: one commit (one fsync) for all of them. A
                # crash rolls the whole group back, claims included, and a rerun redoes it.
                with self.store.transaction():
                    for key in batch[start : start + _PER_COMMIT]:
                        outcome = self._fire(key, journeys, moment)
                        totals[outcome] = totals.get(outcome, 0) + 1
                        if progress is not None:
                            progress(sum(totals.values()))
        return RunSummary(
            due=sum(totals.values()),
            produced=totals.get("produced", 0) + totals.get("deferred", 0),
            deferred=totals.get("deferred", 0),
            cancelled=totals.get("cancelled", 0),
            skipped=totals.get("skipped", 0),
            entered=totals.get("entered", 0),
            stale=totals.get("stale", 0),
        )

    def _due_batch(self, bound: int, size: int) -> list[str]:
        batch: list[str] = []
        for key, _ in self.store.scan(DUE):
            parsed = parse_due(key)
            if parsed is not None and parsed[0] > bound:
                break
            batch.append(key)
            if len(batch) >= size:
                break
        return batch

    def _fire(self, key: str, journeys: Mapping[str, Journey], now: datetime) -> str:
        parsed = parse_due(key)
        with self.store.transaction():
            if self.store.get(key) is None:
                return "stale"  # another process handled it since the scan
            journey = None if parsed is None else journeys.get(parsed[1])
            if parsed is None or journey is None:
                self.store.delete(key)  # a journey no longer active: its entries lapse
                return "stale"
            micros, _, subject, tag = parsed
            due = from_micros(micros)
            if tag.startswith("w."):
                return self.engine.fire_watch(key, subject, journey, due, now)
            _, occurrence, index = tag.split(".")
            if int(index) >= len(journey.steps):
                self.store.delete(key)
                return "stale"
            return self.engine.fire_step(key, subject, journey, int(occurrence), int(index), due)

    # -- the outbox ------------------------------------------------------------------------

    def pending(
        self, now: datetime | None = None, *, limit: int = 100, lease: timedelta = DEFAULT_LEASE
    ) -> list[Action]:
        """Actions due to send at ``now`` (default: the clock), at most ``limit``, leased.

        Consent, restriction, the address and the suppression list are checked again: an
        action that may no longer go is cancelled with the reason and not returned. Each
        action handed out is reserved for ``lease`` (default 10 minutes): no other
        ``pending`` call hands it out meanwhile; without ``mark_sent`` or ``mark_failed``
        before the lease ends, it is handed out again.
        """
        moment = self._now(now)
        check_limit(limit)
        check_lease(lease)
        return self.outbox.pending(moment, limit, lease)

    def queued(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Actions waiting in the outbox, soonest first, without addresses: for operator views.

        Read only: unlike :meth:`pending`, nothing is re-checked or cancelled, no token issued.
        """
        check_limit(limit)
        return self.outbox.queued(limit)

    def mark_sent(self, action_id: str) -> bool:
        """Record that ``action_id`` was sent; False if it was not pending (idempotent)."""
        check_action_id(action_id)
        return self.outbox.mark_sent(action_id)

    def mark_failed(self, action_id: str, *, permanent: bool = False) -> datetime | None:
        """Record a failed attempt; returns when it will be retried, None if given up."""
        check_action_id(action_id)
        if not isinstance(permanent, bool):
            raise InvalidInput("invalid flag", [Problem(where="permanent", what="must be a bool")])
        return self.outbox.mark_failed(action_id, self.clock.now(), permanent=permanent)

    # -- delivery and engagement -----------------------------------------------------------

    def opened(self, token: object) -> bool:
        """The open pixel of a sent e-mail was fetched; whether ``email_open`` was recorded.

        Recorded once per action, and only while the subject has a basis for the event.
        :class:`~personakit.journeys.InvalidToken` for a bad or expired token.
        """
        return self.engagement.opened(token)

    def clicked(self, token: object) -> str:
        """A click redirect was followed: the URL to send the browser to (see ``docs``).

        Records ``email_click`` (once per link) while the subject has a basis for it. The
        URL is always one of the message's own links. :class:`InvalidToken` otherwise.
        """
        return self.engagement.clicked(token)

    def record_delivery(self, action_id: str, status: str) -> bool:
        """A delivery report: ``delivered``, ``soft_bounce`` or ``hard_bounce``.

        Counted once per status; recorded as ``email_delivered`` / ``email_bounced`` while
        the subject has a basis; a hard bounce suppresses the address and cancels the
        subject's pending actions on that channel. Returns whether an event was recorded.
        """
        check_delivery(action_id, status)
        return self.engagement.delivery(action_id, status)

    # -- unsubscribe and suppression -------------------------------------------------------

    def redeem(self, token: object) -> Redeemed:
        """Redeem an unsubscribe token: withdraw the channel's consent, suppress the address.

        The withdrawal's source is ``email_link``. Idempotent; every bad token raises the same
        :class:`~personakit.journeys.InvalidToken` and changes nothing.
        """
        claims = self.tokens.verify(token, now=self.clock.now())
        if claims.channel not in CHANNELS:
            raise invalid_token()
        purpose = f"marketing.{claims.channel}"
        try:
            traits = self.engine.traits(claims.subject)
        except (InvalidInput, SubjectNotFound):
            traits = {}
        address = traits.get(ADDRESS_TRAITS[claims.channel])
        with self.store.transaction():
            suppressed = isinstance(address, str) and bool(address)
            if suppressed:
                assert isinstance(address, str)
                self.suppression.add(claims.channel, address)
            withdrawn = False
            if self.consent.manifest.get_purpose(purpose) is not None:
                try:
                    receipt = self.consent.withdraw(
                        claims.subject, purpose, source="email_link", actor="subject"
                    )
                    withdrawn = bool(receipt.records)  # empty when already withdrawn
                except SubjectNotFound:
                    withdrawn = False  # erased since: the suppression still holds the address
            self.outbox.cancel_channel(claims.subject, claims.channel, "unsubscribed")
        return Redeemed(channel=claims.channel, withdrawn=withdrawn, suppressed=suppressed)

    def is_suppressed(self, channel: str, address: str) -> bool:
        """Whether ``address`` is on the suppression list for ``channel``."""
        check_channel_address(channel, address)
        return self.suppression.contains(channel, address)

    def suppress(self, channel: str, address: str) -> bool:
        """Put ``address`` on the suppression list (an opt-out made elsewhere)."""
        check_channel_address(channel, address)
        return self.suppression.add(channel, address)

    # -- record kinds ----------------------------------------------------------------------

    def on_withdrawal(self, subject: str, purpose: str) -> int:
        """The withdrawal eraser: a withdrawn ``marketing.<channel>`` cancels its actions."""
        check_subject(subject)
        if not isinstance(purpose, str):
            raise InvalidInput("invalid purpose", [Problem(where="purpose", what="must be a str")])
        channel = purpose.removeprefix("marketing.")
        if channel not in CHANNELS or channel == purpose:
            return 0
        forget_engagement(self.vault, subject, channel)
        return self.outbox.cancel_channel(subject, channel, "withdrawn")

    def on_erasure(self, subject: str) -> int:
        """The erasure remover: delete the subject's due and queue entries (counted)."""
        check_subject(subject)
        return unindex(self.vault, self.outbox, subject, reason="erased")

    def export_section(self, subject: str, records: Sequence[ExportRecord]) -> Any:
        """The ``journeys`` export section: states, actions and contact times."""
        del subject
        return export_section(records)

    # -- measurement -----------------------------------------------------------------------

    def report(self) -> dict[str, dict[str, dict[str, int]]]:
        """Counts per journey and step (``-`` is the journey-level row); aggregates only.

        Metrics: entered, holdout, exited, converted, holdout_converted, produced, deferred,
        skipped, cancelled.<reason>, sent, failed, retried.
        """
        report: dict[str, dict[str, dict[str, int]]] = {}
        for key, value in self.store.scan(COUNT):
            journey, step, metric = key[len(COUNT) :].split("/", 2)
            report.setdefault(journey, {}).setdefault(step, {})[metric] = int(value)
        return report

    def dataset(self, purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The ``journeys.actions`` dataset: rows of subjects with a basis for ``purpose``."""
        return action_rows(self.vault, self._readable(purpose))

    def entries(self, purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The ``journeys.entries`` dataset: a row per journey entry (see ``_datasets``)."""
        return entry_rows(self.vault, self._readable(purpose))

    def _readable(self, purpose: str) -> Iterator[str]:
        return (s for s in self._subjects() if self.consent.allowed(s, purpose))

    def _now(self, now: datetime | None) -> datetime:
        if now is None:
            return self.clock.now()
        problems: list[Problem] = []
        moment = check_moment(now, "now", problems)
        raise_problems("invalid time", problems)
        assert moment is not None
        try:
            to_micros(moment)
        except OverflowError:
            raise InvalidInput(
                "invalid time", [Problem(where="now", what="outside the supported range")]
            ) from None
        return moment
