"""What happens to a subject's journeys records when it is erased, merged or withdraws."""

from __future__ import annotations

from personakit._codec import canonical_json, loads
from personakit._vault import Vault
from personakit.journeys._keys import CONTACTS, KIND, action_key, outq_key, track_key
from personakit.journeys._outbox import Outbox, queued_at
from personakit.storage import Store

__all__ = ["forget_engagement", "move_outbox", "unindex"]

#: The engagement fields of an action record, and of a journey state (the latest click).
_ACTION_FIELDS = ("opened", "clicked", "delivery")
_STATE_FIELDS = ("click", "click_converted")


def unindex(vault: Vault, outbox: Outbox, subject: str, *, reason: str) -> int:
    """End the subject's entries, cancel its pending actions, drop its shared index entries.

    Returns how many index entries and actions were removed (the erasure remover's count).
    """
    store = outbox.store
    removed = 0
    for _kind, name, raw in list(vault.scan(subject, KIND)):
        record = loads(raw) if name.startswith(("state.", "outbox.")) else None
        if not isinstance(record, dict):
            continue
        if name.startswith("state."):
            for key in (record.get("due"), record.get("watch")):
                if key:
                    removed += int(store.delete(key))
            record.update(due=None, watch=None, active=False)
            vault.put(subject, KIND, name, canonical_json(record))
            continue
        removed += int(store.delete(track_key(record["id"])))
        if record.get("status") == "pending":
            outbox.finish(subject, record, "cancelled", reason=reason)
            removed += 1
    return removed


def move_outbox(store: Store, vault: Vault, source: str, target: str) -> int:
    """On a merge: ``source``'s actions and contact history become ``target``'s.

    A pending action stays queued (now for the target), a sent one keeps answering its
    opens, clicks and delivery reports; the contact times join the target's, so the
    frequency caps count both. Returns how many actions moved.
    """
    moved = 0
    contacts: list[list[object]] = []
    for _kind, name, raw in list(vault.scan(source, KIND)):
        if name == CONTACTS:
            contacts.extend(loads(raw))
            continue
        if not name.startswith("outbox.") or vault.get(target, KIND, name) is not None:
            continue
        record = dict(loads(raw))
        vault.put(target, KIND, name, raw)
        owner = target.encode("ascii")
        if record.get("status") == "pending":
            micros = queued_at(record)
            store.put(outq_key(micros, record["id"]), owner)
            store.put(action_key(record["id"]), f"{micros}|{target}".encode("ascii"))
        if store.get(track_key(record["id"])) is not None:
            store.put(track_key(record["id"]), owner)
        moved += 1
    if contacts:
        existing = vault.get(target, KIND, CONTACTS)
        merged = contacts + ([] if existing is None else list(loads(existing)))
        vault.put(target, KIND, CONTACTS, canonical_json(sorted(merged, key=lambda c: c[1])))
    return moved


def forget_engagement(vault: Vault, subject: str, channel: str) -> int:
    """On a withdrawal of ``marketing.<channel>``: drop what opens and clicks left behind.

    The events themselves go with the purpose's events cascade; this removes their traces in
    the channel's action records and the journey states' latest click. Returns how many
    records changed.
    """
    changed = 0
    for _kind, name, raw in list(vault.scan(subject, KIND)):
        if not name.startswith(("outbox.", "state.")):
            continue
        record = loads(raw)
        if not isinstance(record, dict):
            continue
        if name.startswith("outbox.") and record.get("channel") != channel:
            continue
        fields = _ACTION_FIELDS if name.startswith("outbox.") else _STATE_FIELDS
        if channel != "email" and name.startswith("state."):
            continue  # clicks are tracked on e-mail only
        if any(field in record for field in fields):
            for field in fields:
                record.pop(field, None)
            vault.put(subject, KIND, name, canonical_json(record))
            changed += 1
    return changed
