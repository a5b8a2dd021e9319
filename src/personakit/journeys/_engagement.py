"""Delivery and engagement feedback: opens, clicks and delivery reports become events.

An open (the pixel), a click (the redirect) or a delivery report names an action; the
tracking pointer (or, before sending, the action pointer) finds its subject, and the sealed
action record its journey, step and links. Each becomes an event of the catalogue
(``email_open``, ``email_click``, ``email_delivered``, ``email_bounced``) ingested for that
subject in the same transaction, only under the purposes the manifest names for it that have a
basis now: without consent nothing is recorded (the pixel still answers, the click still
redirects). The first open and the first click of each link count once, in the journey's
report too (``opened``, ``clicked``, ``delivered``, ``bounced.hard`` / ``bounced.soft``); a
click is kept in the journey state, so a purchase in the conversion window after it counts as
``click_converted`` for that step. A hard bounce suppresses the address (whatever the consent)
and cancels the subject's pending actions on that channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from attrs import define

from personakit._clock import Clock, to_micros
from personakit._codec import canonical_json
from personakit.journeys._engine import ADDRESS_TRAITS, Engine
from personakit.journeys._keys import KIND, outbox_name, track_key
from personakit.journeys._outbox import Outbox
from personakit.journeys._tokens import Suppression, invalid_token
from personakit.journeys._tracking import PIXEL, TrackingTokens, collect_links
from personakit.storage import Store

__all__ = ["DELIVERY_STATUSES", "Engagement", "RecordEvent"]

#: What a delivery report can say.
DELIVERY_STATUSES: Final = ("delivered", "soft_bounce", "hard_bounce")
#: ``record(subject, kind, properties, at) -> stored``: the workflows' ingest for a subject.
RecordEvent = Callable[[str, str, Mapping[str, Any], datetime], bool]


@define
class Engagement:
    """Turns opens, clicks and delivery reports into events (see the module docstring)."""

    store: Store
    engine: Engine
    outbox: Outbox
    tokens: TrackingTokens
    suppression: Suppression
    clock: Clock
    record_event: RecordEvent
    may_record: Callable[[str, str], bool]

    def _find(self, action: str) -> tuple[str, dict[str, Any]] | None:
        raw = self.store.get(track_key(action))
        if raw is not None:
            subject = raw.decode("ascii")
        else:
            located = self.outbox.locate(action)
            if located is None:
                return None
            subject = located[1]
        record = self.outbox.record(subject, action)
        return None if record is None else (subject, record)

    def _save(self, subject: str, record: Mapping[str, Any]) -> None:
        self.outbox.vault.put(subject, KIND, outbox_name(record["id"]), canonical_json(record))

    def _event(self, subject: str, kind: str, record: Mapping[str, Any], **extra: Any) -> bool:
        if not self.may_record(subject, kind):
            return False  # no basis (or the manifest names no purpose for it): nothing kept
        properties = {"campaign": record["journey"], "message_id": record["id"], **extra}
        return self.record_event(subject, kind, properties, self.clock.now())

    def opened(self, token: object) -> bool:
        """An open pixel was fetched: record ``email_open`` once; whether it was recorded."""
        claims = self.tokens.verify(token, now=self.clock.now())
        if claims.link != PIXEL:
            raise invalid_token()
        with self.store.transaction():
            found = self._find(claims.action)
            if found is None or found[1].get("opened"):
                return False  # erased since, or opened before: counted once
            subject, record = found
            if not self._event(subject, "email_open", record):
                return False
            record["opened"] = to_micros(self.clock.now())
            self._save(subject, record)
            self.engine.count(record["journey"], record["step"], "opened")
            return True

    def clicked(self, token: object) -> str:
        """A click redirect was followed: record ``email_click``; the URL to redirect to.

        The URL is the message's own link the token's index names, never one from the
        request. :class:`~personakit.journeys.InvalidToken` for a bad token or an action that
        is no longer held (erased).
        """
        now = self.clock.now()
        claims = self.tokens.verify(token, now=now)
        with self.store.transaction():
            found = self._find(claims.action)
            if found is None:
                raise invalid_token()
            subject, record = found
            links = collect_links(record["payload"])
            if claims.link >= len(links):
                raise invalid_token()
            url = links[claims.link]
            clicks: list[int] = list(record.get("clicked", []))
            if claims.link in clicks or not self._event(subject, "email_click", record, url=url):
                return url
            if not clicks:
                self.engine.count(record["journey"], record["step"], "clicked")
                self._remember_click(subject, record, now)
            record["clicked"] = [*clicks, claims.link]
            self._save(subject, record)
            return url

    def _remember_click(self, subject: str, record: Mapping[str, Any], now: datetime) -> None:
        # The journey state keeps the latest click: a purchase in the conversion window after
        # it is attributed to this step (the engine's events hook counts click_converted).
        state = self.engine.state(subject, record["journey"])
        if state:
            state["click"] = [record["step"], to_micros(now)]
            self.engine.save(subject, record["journey"], state)

    def delivery(self, action: str, status: str) -> bool:
        """A delivery report for ``action``; whether an event was recorded (see the module)."""
        with self.store.transaction():
            found = self._find(action)
            if found is None:
                return False
            subject, record = found
            if record.get("delivery") == status:
                return False  # the same report again: counted once
            if status == "hard_bounce":
                self._hard_bounce(subject, record["channel"])
            record["delivery"] = status
            self._save(subject, record)
            metric = "delivered" if status == "delivered" else f"bounced.{status[:4]}"
            self.engine.count(record["journey"], record["step"], metric)
            if record["channel"] != "email":
                return False  # the catalogue's delivery events are e-mail's
            if status == "delivered":
                return self._event(subject, "email_delivered", record)
            return self._event(subject, "email_bounced", record, bounce=status[:4])

    def _hard_bounce(self, subject: str, channel: str) -> None:
        # An address that does not exist is never written to again, whatever the consent:
        # the suppression list keeps only a keyed hash of it.
        try:
            address = self.engine.traits(subject).get(ADDRESS_TRAITS[channel])
        except LookupError:
            address = None
        if isinstance(address, str) and address:
            self.suppression.add(channel, address)
        self.outbox.cancel_channel(subject, channel, "bounced")
