"""Categories of data subjects (GDPR Art. 30(1)(c)), from the purposes configured.

A purpose may name its categories in the manifest (``data_subject_categories``, e.g.
``["customers", "prospects"]``). Otherwise they are derived from what the purpose is:

* a marketing purpose (one with a contact ``channel``) reaches **subscribers**, the people who
  agreed to hear from the shop on that channel;
* a purpose under ``contract`` or ``legal_obligation``, or one that processes purchase or cart
  data, concerns **customers**;
* a purpose that processes browsing, device or location data concerns **visitors** (known or
  anonymous people browsing the shop or using the app);
* any other purpose concerns customers.

How many subjects the store holds in each category is counted where a rule recognises its
members: customers hold purchase data, visitors browsing or device data, subscribers a
marketing purpose they currently allow. A category only declared has no such rule (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from personakit.consent import Manifest, Purpose, decide
from personakit.reporting._sources import Census

__all__ = ["subject_categories"]

_DESCRIPTIONS: Final[Mapping[str, str]] = {
    "customers": "customers: people who buy or hold an account",
    "visitors": "visitors: people browsing the shop or using the app, known or anonymous",
    "subscribers": "marketing subscribers: people who agreed to hear from the shop",
    "prospects": "prospects: people contacted before they buy",
}
#: Data categories whose presence makes a subject a customer, or a visitor.
_CUSTOMER_DATA: Final = frozenset({"purchases", "cart"})
_VISITOR_DATA: Final = frozenset({"browsing", "device", "location"})
#: The data a subject must hold to be counted as a customer, or as a visitor.
_HELD_BY: Final[Mapping[str, frozenset[str]]] = {
    "customers": frozenset({"purchases"}),
    "visitors": frozenset({"browsing", "device"}),
}


def _derived(purpose: Purpose) -> list[str]:
    if purpose.channel is not None:
        return ["subscribers"]
    data = set(purpose.data_categories)
    found = []
    if purpose.lawful_basis in {"contract", "legal_obligation"} or data & _CUSTOMER_DATA:
        found.append("customers")
    if data & _VISITOR_DATA:
        found.append("visitors")
    return found or ["customers"]


def _declared(manifest: Manifest) -> dict[str, list[str]]:
    """Each purpose's declared categories (purposes that declare none are left out)."""
    declared: dict[str, list[str]] = {}
    for raw in manifest.document.get("purposes", ()):
        if isinstance(raw, Mapping) and isinstance(raw.get("data_subject_categories"), list):
            declared[str(raw.get("id"))] = [str(c) for c in raw["data_subject_categories"]]
    return declared


def subject_categories(manifest: Manifest, census: Census) -> list[dict[str, Any]]:
    """One row per category of data subjects: its purposes, and how many subjects it holds."""
    declared = _declared(manifest)
    purposes_of: dict[str, list[str]] = {}
    sources: dict[str, set[str]] = {}
    for purpose in manifest.purposes:
        named = declared.get(purpose.id)
        for category in named if named is not None else _derived(purpose):
            purposes_of.setdefault(category, []).append(purpose.id)
            sources.setdefault(category, set()).add("declared" if named else "derived")
    held = _held(manifest, census, set(purposes_of))
    return [
        {
            "category": category,
            "description": _DESCRIPTIONS.get(category, f"{category}: declared in the manifest"),
            "purposes": purposes,
            "source": " and ".join(sorted(sources[category])),
            "subjects_held": held.get(category),
        }
        for category, purposes in sorted(purposes_of.items())
    ]


def _held(manifest: Manifest, census: Census, categories: set[str]) -> dict[str, int]:
    """Subjects the store holds per category, for the categories a rule recognises."""
    trait_category = {t.name: t.category for t in manifest.traits}
    event_category = {e.kind: e.category for e in manifest.events}
    known = {c.id for c in manifest.data_categories}
    rules = {
        name: data & known for name, data in _HELD_BY.items() if name in categories and data & known
    }
    marketing = {p.id for p in manifest.purposes if p.channel is not None}
    now = census.sources.clock.now()
    counts = dict.fromkeys(rules, 0)
    if "subscribers" in categories:
        counts["subscribers"] = 0
    for facts in census.facts():
        data = {trait_category[t] for t in facts.traits if t in trait_category}
        data |= {event_category[k] for k in facts.event_kinds if k in event_category}
        for name, wanted in rules.items():
            counts[name] += bool(data & wanted)
        if "subscribers" in counts:
            counts["subscribers"] += any(
                purpose in marketing
                and record.status == "given"
                and (record.expires_at is None or record.expires_at > now)
                for purpose, record in decide(facts.ledger).items()
            )
    return counts
