"""The decision surface of ``kit.personalization``: the :class:`Rules` fed from the state half.

The state half (``_service``) keeps aggregates and offers segments; the decision half
(``_decider``) compiles rules over a :class:`Facts`. This module joins them: it builds the
vocabulary the rules may name from what the state half actually offers (its segments, those
other capabilities register in ``kit.registries.segments``, the configured affinity
dimensions, the aggregate fields :class:`Facts` documents), with the data categories each one
is derived from, so a rule on a special category is refused at load like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from personakit.consent import Manifest
from personakit.personalization._segment_docs import SegmentDefinition
from personakit.personalization._segments import Segment
from personakit.personalization._vocabulary import FieldInfo, Vocabulary, default_aggregates

__all__ = [
    "aggregate_fields",
    "as_segment",
    "definition_reads",
    "event_categories",
    "segment_categories",
]

_PURPOSE: Final = "personalization"


def event_categories(manifest: Manifest) -> frozenset[str]:
    """The data categories of every event personalization may read."""
    return frozenset(e.category for e in manifest.events if _PURPOSE in e.purposes)


def aggregate_fields(manifest: Manifest) -> dict[str, FieldInfo]:
    """The aggregates :class:`Facts` documents, plus the derived ones the state half answers.

    ``lifecycle`` (a stage name) reads every event; ``rfm_r`` / ``rfm_f`` / ``rfm_m`` read
    the purchases (as ``order_count`` does).
    """
    fields = default_aggregates(manifest)
    fields["lifecycle"] = FieldInfo(type="string", categories=fields["last_seen"].categories)
    for name in ("rfm_r", "rfm_f", "rfm_m"):
        fields[name] = FieldInfo(type="number", categories=fields["order_count"].categories)
    return fields


def segment_categories(
    reads: Iterable[str],
    vocabulary: Vocabulary,
    *,
    fallback: frozenset[str],
) -> frozenset[str]:
    """The data categories behind a state-half segment's ``reads``.

    A field path takes its vocabulary's categories, ``affinity:<dim>`` the dimension's,
    ``segment:<name>`` the categories of that segment (if known yet), ``consent:<p>`` none.
    Anything the vocabulary does not know (``aggregates.affinity.<dim>.<value>``, an
    unlisted read) counts as reading every event personalization reads (``fallback``): a
    segment is never assumed to read less than it might.
    """
    found: set[str] = set()
    for read in reads:
        kind, sep, name = read.partition(":")
        if not sep:
            info = vocabulary.fields.get(read)
            if info is not None:
                found |= info.categories
            elif read.startswith("aggregates.affinity."):
                dimension = read.removeprefix("aggregates.affinity.").partition(".")[0]
                found |= vocabulary.dimensions.get(dimension, fallback)
            else:
                found |= fallback
        elif kind == "affinity":
            found |= vocabulary.dimensions.get(name, fallback)
        elif kind == "segment":
            found |= vocabulary.segments.get(name, fallback)
        elif kind != "consent":
            found |= fallback
    return frozenset(found)


def definition_reads(definition: SegmentDefinition) -> tuple[str, ...]:
    """A compiled JSON segment's reads in the state half's form (``segment:x``...)."""
    reads = definition.reads
    return (
        *sorted(reads.fields),
        *(f"segment:{name}" for name in sorted(reads.segments)),
        *(f"affinity:{name}" for name in sorted(reads.dimensions)),
        *(f"consent:{name}" for name in sorted(reads.purposes)),
    )


def as_segment(definition: SegmentDefinition) -> Segment:
    """The state-half :class:`Segment` of a compiled JSON segment."""
    return Segment(
        name=definition.name,
        predicate=definition.predicate,
        reads=definition_reads(definition),
        description=definition.description or definition.name,
    )
