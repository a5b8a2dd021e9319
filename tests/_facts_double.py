"""An in-memory :class:`~personakit.personalization.Facts`: a test double of the protocol.

Built from plain values (or from a real kit's traits and consent), it answers exactly what
the state half's Facts would answer for the same subject state; no component is mocked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from attrs import field, frozen

from personakit import Personakit
from personakit.exceptions import InvalidInput, Problem
from personakit.personalization import MISSING

NOW: Final = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@frozen(kw_only=True)
class StaticFacts:
    """Facts from plain values; ``known=False`` answers like an unknown subject."""

    now: datetime = NOW
    known: bool = True
    fields: Mapping[str, Any] = field(factory=dict)
    segments: frozenset[str] = frozenset()
    segment_names: frozenset[str] | None = None
    affinities: Mapping[str, Sequence[str]] = field(factory=dict)
    consents: frozenset[str] = frozenset({"personalization"})

    def field(self, path: str) -> object:
        """The value at ``path`` or MISSING (always MISSING when not known)."""
        if not self.known:
            return MISSING
        return self.fields.get(path, MISSING)

    def in_segment(self, name: str) -> bool:
        """Membership; an unknown name is InvalidInput, as the protocol says."""
        if self.segment_names is not None and name not in self.segment_names:
            raise InvalidInput("unknown segment", [Problem(where="segment", what="unknown")])
        return self.known and name in self.segments

    def affinity_top(self, dimension: str, k: int) -> tuple[str, ...]:
        """The first ``k`` values given for ``dimension``."""
        return tuple(self.affinities.get(dimension, ()))[:k] if self.known else ()

    def has_consent(self, purpose: str) -> bool:
        """Whether ``purpose`` was listed (never when not known)."""
        return self.known and purpose in self.consents


UNKNOWN: Final = StaticFacts(known=False, consents=frozenset())


def facts_from_kit(kit: Personakit, subject: str, *, now: datetime = NOW) -> StaticFacts:
    """Facts of a real kit's subject: its traits and consent, personalization applied.

    A subject without a current personalization consent, or restricted, gets the facts of an
    unknown subject (what the state half does before building any Facts).
    """
    if not kit.identity.exists(subject) or not kit.consent.allowed(subject, "personalization"):
        return UNKNOWN
    traits = kit.traits.get(subject)
    purposes = frozenset(p.id for p in kit.manifest.purposes if kit.consent.allowed(subject, p.id))
    return StaticFacts(
        now=now,
        fields={f"traits.{name}": value for name, value in traits.items()},
        consents=purposes,
    )


#: A small bakery rule set: two placements, four rules, one experiment.
BAKERY_RULES: Final[dict[str, Any]] = {
    "placements": {
        "home_banner": {"default": {"content": "banner-favourites"}},
        "checkout_offer": {"default": {"content": "offer-none"}},
    },
    "experiments": [
        {
            "id": "bread-banner-test",
            "holdout": 0.1,
            "variants": [
                {"name": "control", "weight": 1},
                {"name": "photo", "weight": 1, "content": "banner-bread-photo"},
            ],
        }
    ],
    "rules": [
        {
            "id": "bread-lovers",
            "placement": "home_banner",
            "priority": 10,
            "when": {"affinity_top": {"dimension": "category", "value": "bread", "k": 2}},
            "then": {"content": "banner-bread"},
            "experiment": "bread-banner-test",
        },
        {
            "id": "basket-reminder",
            "placement": "home_banner",
            "priority": 20,
            "when": {
                "all": [
                    {"field": "aggregates.cart_items", "gt": 0},
                    {"field": "context.channel", "eq": "web"},
                ]
            },
            "then": {"content": "banner-basket"},
        },
        {
            "id": "regulars",
            "placement": "checkout_offer",
            "when": {
                "any": [
                    {"field": "aggregates.order_count", "gte": 5},
                    {"field": "aggregates.last_purchase_at", "within_days": 7},
                ]
            },
            "then": {"content": "offer-loyalty", "offer": "croissant-10"},
        },
        {
            "id": "lyon",
            "placement": "checkout_offer",
            "priority": -1,
            "when": {"field": "traits.city", "eq": "Lyon"},
            "then": {"content": "offer-lyon"},
        },
    ],
}


#: A home page: regulars first, then bread lovers, then a basket reminder on the web.
HOME_RULES: Final[dict[str, Any]] = {
    "placements": {
        "home": {"default": {"content": "favourites"}},
        "footer": {"default": {"content": "footer-plain"}},
    },
    "rules": [
        {
            "id": "regulars",
            "placement": "home",
            "priority": 30,
            "when": {"field": "aggregates.order_count", "gte": 3},
            "then": {"content": "loyalty-card"},
        },
        {
            "id": "bread-lovers",
            "placement": "home",
            "priority": 20,
            "when": {"affinity_top": {"dimension": "category", "value": "bread", "k": 1}},
            "then": {"content": "bread-banner"},
        },
        {
            "id": "basket",
            "placement": "home",
            "priority": 10,
            "when": {
                "all": [
                    {"field": "aggregates.cart_items", "gt": 0},
                    {"field": "context.channel", "eq": "web"},
                ]
            },
            "then": {"content": "basket-reminder"},
        },
        {
            "id": "at-risk",
            "placement": "footer",
            "when": {"any": [{"segment": "lifecycle.at_risk"}, {"segment": "predictive.at_risk"}]},
            "then": {"content": "we-miss-you"},
        },
    ],
}
