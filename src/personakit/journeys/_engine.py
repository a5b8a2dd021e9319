"""The journey state machine: entries, exits, trigger watches and due steps.

Everything here runs inside a store transaction owned by the caller: the events hook joins
the transaction that accepts the events, and ``run_due`` opens one per group of due entries,
in which it re-reads each entry, writes the step's claim and its action and deletes the entry.
A second process finds the entry gone (or the claim present) and does nothing, and a process
killed halfway leaves its group uncommitted, so each step's action is produced exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from attrs import define

from personakit._clock import from_micros, to_micros
from personakit._codec import canonical_json, loads
from personakit._vault import Vault
from personakit.consent import ConsentManager
from personakit.events import Event
from personakit.journeys._definition import Journey, Trigger
from personakit.journeys._keys import (
    CONTACTS,
    COUNT,
    KIND,
    action_key,
    claim_name,
    due_key,
    outbox_name,
    outq_key,
    parse_due,
    state_name,
)
from personakit.journeys._policy import ContactPolicy, next_date_moment, zone_of
from personakit.journeys._templates import (
    CONTEXT_KEYS,
    TEMPLATES,
    RecommendationsProvider,
    build_payload,
)
from personakit.journeys._tokens import Suppression
from personakit.storage import Store
from personakit.workflows import SegmentRegistry

__all__ = ["ADDRESS_TRAITS", "Engine", "Outcome"]

#: The trait holding each channel's address.
ADDRESS_TRAITS: Final = {"email": "email", "sms": "phone", "push": "push_token"}
#: An event older than this when it arrives (a history import) enters no journey.
MAX_LATENESS: Final = timedelta(days=1)
#: A purchase this soon after entering counts as a conversion (holdout included).
CONVERSION_WINDOW: Final = timedelta(days=7)
_CONTACT_HISTORY: Final = timedelta(days=31)
Outcome = str


@define
class Engine:
    """The per-kit state machine (see the module docstring); :class:`Journeys` drives it."""

    store: Store
    vault: Vault
    consent: ConsentManager
    traits: Callable[[str], dict[str, Any]]
    segments: SegmentRegistry
    suppression: Suppression
    action_mac: Callable[[bytes], bytes]
    holdout_mac: Callable[[bytes], bytes]
    policy: ContactPolicy
    recommend: RecommendationsProvider | None = None

    # -- records ---------------------------------------------------------------------------

    def state(self, subject: str, journey: str) -> dict[str, Any]:
        """The subject's state in ``journey`` (empty if never entered)."""
        raw = self.vault.get(subject, KIND, state_name(journey))
        return {} if raw is None else dict(loads(raw))

    def save(self, subject: str, journey: str, state: Mapping[str, Any]) -> None:
        """Seal and keep the subject's state in ``journey``."""
        self.vault.put(subject, KIND, state_name(journey), canonical_json(dict(state)))

    def count(self, journey: str, step: str, metric: str, n: int = 1) -> None:
        """Add ``n`` to one measurement counter (aggregate: it names no subject)."""
        key = f"{COUNT}{journey}/{step}/{metric}"
        raw = self.store.get(key)
        self.store.put(key, str((int(raw) if raw else 0) + n).encode("ascii"))

    # -- the events hook -------------------------------------------------------------------

    def on_events(
        self, subject: str, events: Sequence[Event], journeys: Sequence[Journey], now: datetime
    ) -> int:
        """Apply exits, conversions, watches and triggers; return how many entries."""
        entered = 0
        kinds = {event.kind for event in events}
        for journey in journeys:
            state = self.state(subject, journey.id)
            changed = self._exits_and_conversions(journey, state, kinds, events)
            trigger = journey.trigger
            if trigger.type == "event":
                for event in events:
                    if self._fires(trigger, event, now) and self._enter(
                        subject, journey, state, event.at, _context(event)
                    ):
                        entered += 1
                        changed = True
            elif trigger.type == "inactivity":
                latest = max(
                    (e.at for e in events if trigger.event in {None, e.kind}), default=None
                )
                if latest is not None:
                    self._watch(subject, journey, state, latest + timedelta(days=trigger.days))
                    changed = True
            else:
                changed = self._observe(subject, journey, state, now) or changed
                entered += int(state.pop("_entered", False))
            if changed:
                self.save(subject, journey.id, state)
        return entered

    def refresh(self, subject: str, journeys: Sequence[Journey], now: datetime) -> int:
        """Re-evaluate segment and date triggers for one subject (after a trait update)."""
        entered = 0
        for journey in journeys:
            if journey.trigger.type not in {"segment", "date"}:
                continue
            state = self.state(subject, journey.id)
            if self._observe(subject, journey, state, now):
                entered += int(state.pop("_entered", False))
                self.save(subject, journey.id, state)
        return entered

    def on_traits(
        self, subject: str, names: Sequence[str], journeys: Sequence[Journey], now: datetime
    ) -> int:
        """The traits hook: a changed date trait moves its watch; segments are re-checked."""
        changed = frozenset(names)
        entered = 0
        for journey in journeys:
            trigger = journey.trigger
            if trigger.type == "date" and trigger.trait in changed:
                state = self.state(subject, journey.id)
                before = dict(state)
                if state.get("watch") is not None:
                    self.store.delete(state["watch"])  # watched for the old date
                    state["watch"] = None
                self._observe(subject, journey, state, now)
                entered += int(state.pop("_entered", False))
                if state != before:
                    self.save(subject, journey.id, state)
            elif trigger.type == "segment":
                state = self.state(subject, journey.id)
                if self._observe(subject, journey, state, now):
                    entered += int(state.pop("_entered", False))
                    self.save(subject, journey.id, state)
        return entered

    def adopt(self, source: str, target: str, journeys: Sequence[Journey]) -> int:
        """On a merge: move ``source``'s active entries and watches to ``target``.

        One active entry per journey: when the target is already in the journey, the
        source's entry ends (counted ``merged``). A moved entry becomes the target's next
        occurrence (its own step claims), due when it was due; return how many moved.
        """
        moved = 0
        for journey in journeys:
            src = self.state(source, journey.id)
            if not src:
                continue
            tgt = self.state(target, journey.id)
            if src.get("watch"):
                self.store.delete(src["watch"])
                found = parse_due(src["watch"])
                if not tgt.get("watch") and found is not None:
                    self._watch(target, journey, tgt, from_micros(found[0]))
            if src.get("active"):
                due = src.get("due")
                if due:
                    self.store.delete(due)
                if tgt.get("active"):
                    self.count(journey.id, "-", "merged")
                else:
                    tgt = self._moved(src, tgt)
                    found = None if not due else parse_due(due)
                    if found is not None:
                        self._schedule(target, journey, tgt, from_micros(found[0]))
                    moved += 1
            if tgt:
                self.save(target, journey.id, tgt)
        return moved

    @staticmethod
    def _moved(src: Mapping[str, Any], tgt: Mapping[str, Any]) -> dict[str, Any]:
        # A fresh occurrence number on the target: its claims and action ids cannot collide
        # with the target's own earlier ones. The target keeps its own trigger bookkeeping.
        occurrence = max(int(src.get("occ", 0)), int(tgt.get("occ", 0))) + 1
        keep = {k: tgt[k] for k in ("watch", "watch_n", "member") if k in tgt}
        converted = occurrence if src.get("converted") == src.get("occ") else None
        return {**src, **keep, "occ": occurrence, "due": None, "converted": converted}

    def _exits_and_conversions(
        self, journey: Journey, state: dict[str, Any], kinds: set[str], events: Sequence[Event]
    ) -> bool:
        changed = False
        if state.get("active") and kinds & set(journey.exit):
            self._unschedule(state)
            state["active"] = False
            state["ended"] = "exit"
            self.count(journey.id, "-", "exited")
            changed = True
        if "purchase" in kinds and state.get("occ") and state.get("converted") != state["occ"]:
            entered = from_micros(state["entered"])
            if any(entered <= e.at <= entered + CONVERSION_WINDOW for e in events):
                metric = "holdout_converted" if state.get("holdout") else "converted"
                self.count(journey.id, "-", metric)
                state["converted"] = state["occ"]
                changed = True
        click = state.get("click")
        if "purchase" in kinds and click and state.get("click_converted") != click[1]:
            # A purchase soon after a click on one of the journey's messages: that step's.
            clicked = from_micros(click[1])
            if any(
                e.kind == "purchase" and clicked <= e.at <= clicked + CONVERSION_WINDOW
                for e in events
            ):
                self.count(journey.id, click[0], "click_converted")
                state["click_converted"] = click[1]
                changed = True
        return changed

    @staticmethod
    def _fires(trigger: Trigger, event: Event, now: datetime) -> bool:
        if trigger.event is not None and event.kind != trigger.event:
            return False
        if now - event.at > MAX_LATENESS:
            return False
        return all(c.holds(event.properties) for c in trigger.conditions)

    def _observe(
        self, subject: str, journey: Journey, state: dict[str, Any], now: datetime
    ) -> bool:
        trigger = journey.trigger
        if trigger.type == "date":
            if state.get("watch") is not None:
                return False
            moment = next_date_moment(
                self.traits(subject).get(trigger.trait or ""),
                after=now,
                days_before=trigger.days_before,
                hour=trigger.hour,
                zone=zone_of(self.traits(subject)),
            )
            if moment is None:
                return False
            self._watch(subject, journey, state, moment)
            return True
        try:
            member = self.segments.member(trigger.segment or "", subject, now)
        except Exception:  # noqa: BLE001 (a failing provider leaves the last membership)
            return False
        before = bool(state.get("member"))
        if state.get("member") is not None and before == member:
            return False
        state["member"] = member
        if member != before and member == (trigger.on == "entered"):
            state["_entered"] = self._enter(subject, journey, state, now, {})
        return True

    def _watch(self, subject: str, journey: Journey, state: dict[str, Any], at: datetime) -> None:
        old = state.get("watch")
        if old is not None:
            self.store.delete(old)
        serial = int(state.get("watch_n", 0)) + 1
        key = due_key(to_micros(at), journey.id, subject, f"w.{serial}")
        self.store.put(key, b"")
        state["watch"], state["watch_n"] = key, serial

    def _enter(
        self,
        subject: str,
        journey: Journey,
        state: dict[str, Any],
        at: datetime,
        context: Mapping[str, Any],
    ) -> bool:
        if state.get("active"):
            return False
        occurrence = int(state.get("occ", 0))
        if occurrence and journey.reentry == "never":
            return False
        if (
            occurrence
            and journey.reentry == "after_days"
            and at - from_micros(state["entered"]) < timedelta(days=journey.reentry_days)
        ):
            return False
        occurrence += 1
        held = self._held_out(journey, subject)
        state.update(
            occ=occurrence,
            entered=to_micros(at),
            step=0,
            holdout=held,
            active=not held,
            context=dict(context),
            ended=None,
            due=None,
        )
        self.count(journey.id, "-", "holdout" if held else "entered")
        if not held:
            self._schedule(subject, journey, state, at + journey.steps[0].delay)
        return True

    def _held_out(self, journey: Journey, subject: str) -> bool:
        if journey.holdout <= 0:
            return False
        digest = self.holdout_mac(f"{journey.id}\x00{subject}".encode())
        return int.from_bytes(digest[:8], "big") / 2**64 < journey.holdout

    def _schedule(
        self, subject: str, journey: Journey, state: dict[str, Any], at: datetime
    ) -> None:
        key = due_key(to_micros(at), journey.id, subject, f"s.{state['occ']}.{state['step']}")
        self.store.put(key, b"")
        state["due"] = key

    def _unschedule(self, state: dict[str, Any]) -> None:
        if state.get("due"):
            self.store.delete(state["due"])
        state["due"] = None

    # -- due entries -----------------------------------------------------------------------

    def fire_watch(
        self, key: str, subject: str, journey: Journey, due: datetime, now: datetime
    ) -> Outcome:
        """A trigger watch came due: enter the journey (and, for a date, watch next year)."""
        state = self.state(subject, journey.id)
        self.store.delete(key)
        if state.get("watch") != key:
            return "stale"
        state["watch"] = None
        entered = self._enter(subject, journey, state, due, {})
        if journey.trigger.type == "date":
            self._observe(subject, journey, state, max(due, now))
        self.save(subject, journey.id, state)
        return "entered" if entered else "skipped"

    def fire_step(  # noqa: PLR0917 (the due entry's parts, once)
        self, key: str, subject: str, journey: Journey, occurrence: int, index: int, due: datetime
    ) -> Outcome:
        """A step came due: produce its action (or skip, cancel, defer) and schedule the next."""
        state = self.state(subject, journey.id)
        self.store.delete(key)
        current = (
            state.get("active")
            and state.get("occ") == occurrence
            and state.get("step") == index
            and state.get("due") == key
        )
        claim = claim_name(journey.id, occurrence, index)
        if not current or self.vault.get(subject, KIND, claim) is not None:
            return "stale"
        self.vault.put(subject, KIND, claim, b"1")
        step = journey.steps[index]
        traits = self.traits(subject)
        outcome = self._produce(subject, journey, state, index, due, traits)
        state["step"] = index + 1
        state["due"] = None
        if index + 1 < len(journey.steps):
            self._schedule(subject, journey, state, due + journey.steps[index + 1].delay)
        else:
            state["active"] = False
            state["ended"] = "completed"
        self.save(subject, journey.id, state)
        del step
        return outcome

    def _produce(  # noqa: PLR0917 (one step's inputs)
        self,
        subject: str,
        journey: Journey,
        state: Mapping[str, Any],
        index: int,
        due: datetime,
        traits: Mapping[str, Any],
    ) -> Outcome:
        step = journey.steps[index]
        if not all(c.holds(traits) for c in step.conditions):
            self.count(journey.id, step.id, "skipped")
            return "skipped"
        channel, reason = self.choose_channel(subject, journey.channels, traits)
        if channel is None:
            self.count(journey.id, step.id, f"cancelled.{reason}")
            return "cancelled"
        contacts = self._contacts(subject, due)
        send_after = self.policy.next_allowed(due, channel, zone_of(traits), contacts)
        payload = build_payload(
            TEMPLATES[step.template],
            subject=subject,
            step_payload=step.payload,
            traits=traits,
            context=state.get("context", {}),
            recommend=self.recommend,
        )
        action = self.action_mac(
            f"{journey.id}\x00{subject}\x00{state['occ']}\x00{index}".encode()
        )[:12].hex()
        micros = to_micros(send_after)
        record = {
            "id": action,
            "journey": journey.id,
            "step": step.id,
            "channel": channel,
            "template": step.template,
            "payload": payload,
            "send_after": micros,
            "status": "pending",
            "attempts": 0,
            "reason": None,
            # Deferred by the contact policy (caps, quiet hours): reports count these per channel.
            "deferred": send_after > due,
        }
        self.vault.put(subject, KIND, outbox_name(action), canonical_json(record))
        self.store.put(outq_key(micros, action), subject.encode("ascii"))
        self.store.put(action_key(action), f"{micros}|{subject}".encode("ascii"))
        self._remember_contact(subject, channel, send_after, contacts)
        self.count(journey.id, step.id, "produced")
        if send_after > due:
            self.count(journey.id, step.id, "deferred")
            return "deferred"
        return "produced"

    def choose_channel(
        self, subject: str, channels: Sequence[str], traits: Mapping[str, Any]
    ) -> tuple[str | None, str]:
        """The first allowed channel (the subject's preference first), or None and why not."""
        preferred = traits.get("preferred_channel")
        if preferred == "none":
            return None, "opted_out"
        order = sorted(channels, key=lambda ch: ch != preferred)
        reason = "no_channel"
        for channel in order:
            why = self.blocked(subject, channel, traits)
            if why is None:
                return channel, ""
            if reason == "no_channel":
                reason = why  # the most preferred channel's reason is the one recorded
        return None, reason

    def blocked(self, subject: str, channel: str, traits: Mapping[str, Any]) -> str | None:
        """Why ``channel`` may not carry marketing to ``subject`` now, or None if it may."""
        purpose = f"marketing.{channel}"
        if self.consent.manifest.get_purpose(purpose) is None:
            return "no_purpose"
        if not self.consent.allowed(subject, purpose):
            return "restricted" if self.consent.is_restricted(subject) else "no_consent"
        address = traits.get(ADDRESS_TRAITS[channel])
        if not isinstance(address, str) or not address:
            return "no_address"
        if self.suppression.contains(channel, address):
            return "suppressed"
        return None

    def _contacts(self, subject: str, now: datetime) -> list[tuple[str, datetime]]:
        raw = self.vault.get(subject, KIND, CONTACTS)
        if raw is None:
            return []
        floor = now - _CONTACT_HISTORY
        return [
            (channel, moment)
            for channel, micros in loads(raw)
            if (moment := from_micros(micros)) >= floor
        ]

    def _remember_contact(
        self,
        subject: str,
        channel: str,
        at: datetime,
        contacts: list[tuple[str, datetime]],
    ) -> None:
        kept = [[ch, to_micros(when)] for ch, when in contacts]
        kept.append([channel, to_micros(at)])
        self.vault.put(subject, KIND, CONTACTS, canonical_json(kept))


def _context(event: Event) -> dict[str, Any]:
    return {key: event.properties[key] for key in CONTEXT_KEYS if key in event.properties}
