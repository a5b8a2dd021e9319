"""What a condition may name: fields and their types, segments, dimensions, purposes.

A :class:`Vocabulary` is built once from the manifest (traits, events, categories, purposes,
never-personalize marks) plus what the state half of personalization offers (segments,
affinity dimensions, aggregates). The condition compiler checks every name against it, so an
unknown field, segment, dimension or purpose is refused at load, never guessed at run time,
and it maps every name to the data categories it reads (for the special-category rule and the
data-minimization report).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal

from attrs import field, frozen

from personakit.consent import Manifest

__all__ = [
    "DEFAULT_CONTEXT",
    "DEFAULT_DIMENSIONS",
    "FieldInfo",
    "FieldType",
    "Reads",
    "Vocabulary",
    "default_aggregates",
]

#: The type of a field as far as load-time checks know it (None: not known, checked at run).
FieldType = Literal["number", "datetime", "string", "boolean", "list", "object"] | None

#: Context fields a caller may pass (``context.channel``...): request facts, not stored data.
DEFAULT_CONTEXT: Final = frozenset(
    {"channel", "page", "locale", "device", "country", "campaign", "referrer", "placement"}
)
#: Affinity dimensions assumed when the state half names none (event properties).
DEFAULT_DIMENSIONS: Final = ("category", "brand", "tag")

_SCHEMA_TYPES: Final[dict[str, FieldType]] = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "array": "list",
    "object": "object",
}


@frozen(kw_only=True)
class FieldInfo:
    """A readable field: its load-time type and the data categories it is derived from."""

    type: FieldType
    categories: frozenset[str]


@frozen(kw_only=True)
class Reads:
    """What one compiled definition reads: for audits and the data-minimization report."""

    fields: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    dimensions: frozenset[str] = frozenset()
    purposes: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()

    def __or__(self, other: Reads) -> Reads:
        """The union of two read sets."""
        return Reads(
            fields=self.fields | other.fields,
            segments=self.segments | other.segments,
            dimensions=self.dimensions | other.dimensions,
            purposes=self.purposes | other.purposes,
            categories=self.categories | other.categories,
        )

    def to_json(self) -> dict[str, list[str]]:
        """Sorted lists, for reports."""
        return {
            "fields": sorted(self.fields),
            "segments": sorted(self.segments),
            "dimensions": sorted(self.dimensions),
            "purposes": sorted(self.purposes),
            "categories": sorted(self.categories),
        }


def _frozen_map(value: Mapping[str, frozenset[str]]) -> Mapping[str, frozenset[str]]:
    return {str(k): frozenset(v) for k, v in value.items()}


@frozen(kw_only=True)
class Vocabulary:
    """Every name a condition may use, with what it reads.

    Attributes:
        fields: ``traits.x`` / ``aggregates.x`` / ``context.x`` -> :class:`FieldInfo`.
        segments: Segment name -> the data categories its membership is derived from.
        dimensions: Affinity dimension -> the data categories it is derived from.
        purposes: Purpose id -> whether its consent is explicit (Art. 9(2)(a)).
        special: Special categories (Art. 9).
        never: Categories, ``traits.x`` fields and dimensions never used for personalization.
    """

    fields: Mapping[str, FieldInfo]
    segments: Mapping[str, frozenset[str]] = field(factory=dict, converter=_frozen_map)
    dimensions: Mapping[str, frozenset[str]] = field(factory=dict, converter=_frozen_map)
    purposes: Mapping[str, bool] = field(factory=dict)
    special: frozenset[str] = frozenset()
    never: frozenset[str] = frozenset()

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest,
        *,
        segments: Mapping[str, Iterable[str]] | None = None,
        dimensions: Mapping[str, Iterable[str]] | Iterable[str] | None = None,
        aggregates: Mapping[str, FieldInfo] | None = None,
        context: Iterable[str] = DEFAULT_CONTEXT,
    ) -> Vocabulary:
        """Build from the manifest and what the state half offers.

        ``segments`` maps each segment name to the categories it reads; ``dimensions`` is a
        list of dimension names (each read from the categories of the personalization events)
        or a mapping to their categories; ``aggregates`` defaults to the fields documented on
        :class:`~personakit.personalization.Facts`.
        """
        personal = _event_categories(manifest, None)
        fields: dict[str, FieldInfo] = {}
        for trait in manifest.traits:
            kind = trait.schema.get("type") if isinstance(trait.schema, Mapping) else None
            fields[f"traits.{trait.name}"] = FieldInfo(
                type=_SCHEMA_TYPES.get(kind) if isinstance(kind, str) else None,
                categories=frozenset({trait.category}),
            )
        for name, info in (aggregates or default_aggregates(manifest)).items():
            fields[f"aggregates.{name}"] = info
        for name in context:
            fields[f"context.{name}"] = FieldInfo(type=None, categories=frozenset())
        if dimensions is None:
            dimensions = DEFAULT_DIMENSIONS
        dims = (
            {str(k): frozenset(v) for k, v in dimensions.items()}
            if isinstance(dimensions, Mapping)
            else dict.fromkeys(dimensions, personal)
        )
        never = {c.id for c in manifest.data_categories if c.never_personalize}
        never |= {f"traits.{name}" for name in manifest.never_personalize_traits}
        never |= set(manifest.never_personalize_properties)
        return cls(
            fields=fields,
            segments={k: frozenset(v) for k, v in (segments or {}).items()},
            dimensions=dims,
            purposes={p.id: p.explicit_consent for p in manifest.purposes},
            special=frozenset(c.id for c in manifest.data_categories if c.special),
            never=frozenset(never),
        )

    def with_segments(self, segments: Mapping[str, Iterable[str]]) -> Vocabulary:
        """A copy that also knows ``segments`` (name -> categories read)."""
        merged = dict(self.segments)
        merged.update({k: frozenset(v) for k, v in segments.items()})
        return Vocabulary(
            fields=self.fields,
            segments=merged,
            dimensions=self.dimensions,
            purposes=self.purposes,
            special=self.special,
            never=self.never,
        )

    def without_segments(self, names: Iterable[str]) -> Vocabulary:
        """A copy that no longer knows the segments ``names``."""
        gone = set(names)
        return Vocabulary(
            fields=self.fields,
            segments={k: v for k, v in self.segments.items() if k not in gone},
            dimensions=self.dimensions,
            purposes=self.purposes,
            special=self.special,
            never=self.never,
        )


def default_aggregates(manifest: Manifest) -> dict[str, FieldInfo]:
    """The aggregates documented on ``Facts``, with the categories of the events behind them."""
    every = _event_categories(manifest, None)
    purchases = _event_categories(manifest, {"purchase"})
    cart = _event_categories(manifest, {"add_to_cart", "remove_from_cart", "checkout_started"})

    def info(kind: FieldType, categories: frozenset[str]) -> FieldInfo:
        return FieldInfo(type=kind, categories=categories)

    return {
        "first_seen": info("datetime", every),
        "last_seen": info("datetime", every),
        "last_purchase_at": info("datetime", purchases),
        "cart_updated_at": info("datetime", cart),
        "order_count": info("number", purchases),
        "monetary_cents": info("number", purchases),
        "cart_items": info("number", cart),
        "cart_value_cents": info("number", cart),
        "recent_items": info("list", every),
    }


def _event_categories(manifest: Manifest, kinds: set[str] | None) -> frozenset[str]:
    # The categories of the events personalization may read (those of the given kinds).
    return frozenset(
        event.category
        for event in manifest.events
        if "personalization" in event.purposes and (kinds is None or event.kind in kinds)
    )
