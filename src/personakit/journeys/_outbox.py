"""The outbox: sealed actions waiting to send, handed out after consent is checked again.

An action's body (journey, step, channel, template, personalized payload, status) is sealed in
the subject's vault; the queue key ``x/journeys/outq/<micros>/<id>`` orders actions by when
they may go, and ``x/journeys/action/<id>`` points from the idempotency key to the subject.

Handing an action out leases it: in the transaction that re-checks it, its queue entry moves to
the end of the lease (``queue`` in the record), so another sender's ``pending`` does not see it
until the lease has expired; then, if neither ``mark_sent`` nor ``mark_failed`` came, it is
handed out again. An e-mail action handed out while the subject has a basis for the
engagement events gets an open pixel and click-redirect URLs (``_tracking``), and a tracking
pointer from its id to the subject.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from attrs import define

from personakit._clock import from_micros, to_micros
from personakit._codec import canonical_json, loads
from personakit._vault import Vault
from personakit.journeys._engine import ADDRESS_TRAITS, Engine
from personakit.journeys._keys import (
    CONTACTS,
    KIND,
    OUTQ,
    action_key,
    outbox_name,
    outq_key,
    track_key,
)
from personakit.journeys._model import Action
from personakit.journeys._tokens import DEFAULT_TOKEN_TTL, UnsubscribeTokens
from personakit.journeys._tracking import PIXEL, TrackingTokens, collect_links, replace_links
from personakit.storage import Store

__all__ = ["DEFAULT_LEASE", "MAX_ATTEMPTS", "Outbox", "backoff", "queued_at"]

#: Attempts before a failing action is given up (recorded as failed).
MAX_ATTEMPTS: Final = 6
_BASE_BACKOFF: Final = timedelta(minutes=5)
_MAX_BACKOFF: Final = timedelta(hours=12)
#: How long a handed-out action is reserved for its sender before it is handed out again.
DEFAULT_LEASE: Final = timedelta(minutes=10)


def backoff(attempts: int) -> timedelta:
    """The wait before retry number ``attempts`` (exponential, capped at 12 hours)."""
    wait: timedelta = _BASE_BACKOFF * 2 ** max(0, min(attempts, 20) - 1)
    return min(wait, _MAX_BACKOFF)


def queued_at(record: Mapping[str, Any]) -> int:
    """The micros of the record's queue entry: the send time, or the end of its lease."""
    return int(record.get("queue", record["send_after"]))


@define
class Outbox:
    """The queue of produced actions (driven by :class:`~personakit.journeys.Journeys`)."""

    store: Store
    vault: Vault
    engine: Engine
    tokens: UnsubscribeTokens
    traits: Callable[[str], dict[str, Any]]
    unsubscribe_url: str | None = None
    tracking: TrackingTokens | None = None
    may_record: Callable[[str, str], bool] | None = None
    tracking_url: str | None = None

    def record(self, subject: str, action: str) -> dict[str, Any] | None:
        """The sealed action record, or None."""
        raw = self.vault.get(subject, KIND, outbox_name(action))
        return None if raw is None else dict(loads(raw))

    def locate(self, action: str) -> tuple[int, str] | None:
        """``(queue micros, subject)`` of a queued action, or None."""
        raw = self.store.get(action_key(action))
        if raw is None:
            return None
        micros, _, subject = raw.decode("ascii").partition("|")
        return int(micros), subject

    def pending(self, now: datetime, limit: int, lease: timedelta) -> list[Action]:
        """Actions whose time has come and that may still go (see :meth:`Journeys.pending`)."""
        due: list[tuple[str, str, str]] = []
        for key, value in self.store.scan(OUTQ):
            micros_text, _, action = key[len(OUTQ) :].partition("/")
            if int(micros_text) > to_micros(now) or len(due) >= limit:
                break
            due.append((key, action, value.decode("ascii")))
        actions: list[Action] = []
        for key, action, subject in due:
            with self.store.transaction():
                # Re-read in the transaction: another sender may have leased it since the scan
                # (its queue entry has moved), or it was sent or cancelled.
                if self.store.get(key) is None:
                    continue
                handed = self._hand_out(subject, action, now, lease)
            if handed is not None:
                actions.append(handed)
        return actions

    def queued(self, limit: int) -> list[dict[str, Any]]:
        """Waiting actions, soonest first: journey, step, channel, template, send_after."""
        rows: list[dict[str, Any]] = []
        for key, value in self.store.scan(OUTQ):
            if len(rows) >= limit:
                break
            action = key[len(OUTQ) :].partition("/")[2]
            record = self.record(value.decode("ascii"), action)
            if record is not None and record["status"] == "pending":
                rows.append(
                    {
                        "journey": record["journey"],
                        "step": record["step"],
                        "channel": record["channel"],
                        "template": record["template"],
                        "send_after": from_micros(record["send_after"]),
                    }
                )
        return rows

    def _hand_out(
        self, subject: str, action: str, now: datetime, lease: timedelta
    ) -> Action | None:
        record = self.record(subject, action)
        if record is None or record["status"] != "pending":
            return None
        traits = self.traits(subject)
        channel = record["channel"]
        why = self.engine.blocked(subject, channel, traits)
        if why is not None:
            self.finish(subject, record, "cancelled", reason=why)
            return None
        self._lease(subject, record, to_micros(now + lease))
        token = self.tokens.issue(subject, channel, expires=now + DEFAULT_TOKEN_TTL)
        payload, pixel, links = self._track(subject, record, now)
        return Action(
            id=action,
            subject=subject,
            journey=record["journey"],
            step=record["step"],
            channel=channel,
            address=traits[ADDRESS_TRAITS[channel]],
            template=record["template"],
            payload=payload,
            send_after=from_micros(record["send_after"]),
            attempts=record["attempts"],
            unsubscribe_token=token,
            headers=self._headers(channel, token),
            pixel_url=pixel,
            links=links,
        )

    def _lease(self, subject: str, record: dict[str, Any], until: int) -> None:
        self.store.delete(outq_key(queued_at(record), record["id"]))
        record["queue"] = until
        self.store.put(outq_key(until, record["id"]), subject.encode("ascii"))
        self.store.put(action_key(record["id"]), f"{until}|{subject}".encode("ascii"))
        self.vault.put(subject, KIND, outbox_name(record["id"]), canonical_json(record))

    def _track(
        self, subject: str, record: Mapping[str, Any], now: datetime
    ) -> tuple[Mapping[str, Any], str | None, Mapping[str, str]]:
        # Only e-mail, only with a tracking URL, and only for the events the subject has a
        # basis for now: without it no pixel or redirect is generated at all.
        payload: Mapping[str, Any] = record["payload"]
        base, tokens, allowed = self.tracking_url, self.tracking, self.may_record
        if record["channel"] != "email" or base is None or tokens is None or allowed is None:
            return payload, None, {}
        expires = now + DEFAULT_TOKEN_TTL
        pixel = links = None
        if allowed(subject, "email_open"):
            pixel = f"{base}open?t={tokens.issue(record['id'], PIXEL, expires=expires)}"
        if allowed(subject, "email_click"):
            links = {
                url: f"{base}click?t={tokens.issue(record['id'], index, expires=expires)}"
                for index, url in enumerate(collect_links(payload))
            }
        if pixel is None and not links:
            return payload, None, {}
        self.store.put(track_key(record["id"]), subject.encode("ascii"))
        return replace_links(payload, links or {}), pixel, links or {}

    def _headers(self, channel: str, token: str) -> Mapping[str, str]:
        if channel != "email" or self.unsubscribe_url is None:
            return {}
        url = f"{self.unsubscribe_url}{quote(token, safe='')}"
        return {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def finish(
        self, subject: str, record: dict[str, Any], status: str, *, reason: str | None = None
    ) -> None:
        """Close an action (sent, failed, cancelled): unqueue it and count it."""
        self.store.delete(outq_key(queued_at(record), record["id"]))
        self.store.delete(action_key(record["id"]))
        if status == "sent":
            # Delivery reports, opens and clicks come after sending: they find the subject here.
            self.store.put(track_key(record["id"]), subject.encode("ascii"))
        record["status"], record["reason"] = status, reason
        self.vault.put(subject, KIND, outbox_name(record["id"]), canonical_json(record))
        if status == "cancelled":
            self._forget_contact(subject, record["channel"], record["send_after"])
        metric = status if reason is None else f"{status}.{reason}"
        self.engine.count(record["journey"], record["step"], metric)

    def _forget_contact(self, subject: str, channel: str, micros: int) -> None:
        # A cancelled action never reaches the subject: it must not use up a frequency cap.
        raw = self.vault.get(subject, KIND, CONTACTS)
        if raw is None:
            return
        contacts = list(loads(raw))
        if [channel, micros] in contacts:
            contacts.remove([channel, micros])
            self.vault.put(subject, KIND, CONTACTS, canonical_json(contacts))

    def mark_sent(self, action: str) -> bool:
        """Record a delivery; False if the action is not pending (already sent, cancelled)."""
        with self.store.transaction():
            found = self.locate(action)
            if found is None:
                return False
            record = self.record(found[1], action)
            if record is None or record["status"] != "pending":
                return False
            self.finish(found[1], record, "sent")
            return True

    def mark_failed(self, action: str, now: datetime, *, permanent: bool) -> datetime | None:
        """Record a failed attempt: requeue after a backoff, or give up; None when given up."""
        with self.store.transaction():
            found = self.locate(action)
            if found is None:
                return None
            micros, subject = found
            record = self.record(subject, action)
            if record is None or record["status"] != "pending":
                return None
            record["attempts"] += 1
            if permanent or record["attempts"] >= MAX_ATTEMPTS:
                self.finish(subject, record, "failed")
                return None
            retry = now + backoff(record["attempts"])
            self.store.delete(outq_key(micros, action))
            record["send_after"] = to_micros(retry)
            record.pop("queue", None)  # the retry time replaces the lease
            self.store.put(outq_key(record["send_after"], action), subject.encode("ascii"))
            self.store.put(action_key(action), f"{record['send_after']}|{subject}".encode())
            self.vault.put(subject, KIND, outbox_name(action), canonical_json(record))
            self.engine.count(record["journey"], record["step"], "retried")
            return retry

    def cancel_channel(self, subject: str, channel: str | None, reason: str) -> int:
        """Cancel the subject's pending actions on ``channel`` (None: all); return how many."""
        cancelled = 0
        for _kind, _name, raw in list(self.vault.scan(subject, KIND, prefix="outbox.")):
            record = dict(loads(raw))
            if record["status"] == "pending" and channel in {None, record["channel"]}:
                self.finish(subject, record, "cancelled", reason=reason)
                cancelled += 1
        return cancelled
