"""The condition language: operators, typed refusals, bounded depth, and never raising."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _facts_double import NOW, StaticFacts
from personakit.consent import Manifest
from personakit.exceptions import InvalidInput
from personakit.personalization import (
    MISSING,
    Vocabulary,
    compile_condition,
    compile_segment,
    compile_segments,
)
from personakit.personalization._conditions import MAX_DEPTH

VOCAB: Final = Vocabulary.from_manifest(
    Manifest.default(), segments={"vip": ["purchases"], "lapsed": ["purchases"]}
)
FIELDS: Final = sorted(VOCAB.fields)


def holds(condition: dict[str, Any], facts: StaticFacts) -> bool:
    compiled, problems = compile_condition(condition, VOCAB)
    assert problems == [], problems
    assert compiled is not None
    return compiled.test(facts)


def test_each_operator_on_a_matching_and_a_failing_value() -> None:
    """eq, ne, in, gt..lte, exists, contains, within_days each hold and fail as documented."""
    facts = StaticFacts(
        fields={
            "traits.city": "Lyon",
            "aggregates.order_count": 5,
            "aggregates.last_purchase_at": NOW - timedelta(days=3),
            "aggregates.recent_items": ("sku-1", "sku-2"),
        }
    )
    cases = [
        ({"field": "traits.city", "eq": "Lyon"}, True),
        ({"field": "traits.city", "eq": "Paris"}, False),
        ({"field": "traits.city", "ne": "Paris"}, True),
        ({"field": "traits.city", "in": ["Paris", "Lyon"]}, True),
        ({"field": "aggregates.order_count", "gt": 4}, True),
        ({"field": "aggregates.order_count", "gte": 5.0}, True),
        ({"field": "aggregates.order_count", "lt": 5}, False),
        ({"field": "aggregates.order_count", "lte": 5}, True),
        ({"field": "aggregates.last_purchase_at", "gt": "2026-05-01T00:00:00Z"}, True),
        ({"field": "aggregates.last_purchase_at", "within_days": 7}, True),
        ({"field": "aggregates.last_purchase_at", "within_days": 2}, False),
        ({"field": "aggregates.recent_items", "contains": "sku-2"}, True),
        ({"field": "aggregates.recent_items", "contains": "sku-9"}, False),
        ({"field": "traits.email", "exists": False}, True),
        ({"field": "traits.email", "exists": True}, False),
        ({"field": "traits.email", "ne": "x"}, False),  # MISSING satisfies no comparison
        ({"not": {"field": "traits.email", "exists": True}}, True),
        ({"all": []}, True),
        ({"any": []}, False),
        ({"segment": "vip"}, False),
        ({"consent": "personalization"}, True),
        ({"consent": "marketing.email"}, False),
    ]
    assert [holds(cond, facts) for cond, _ in cases] == [want for _, want in cases]


def test_a_comparison_the_field_type_cannot_satisfy_is_refused_at_load() -> None:
    """Typed refusals: number vs datetime, string vs number, list eq, order on a string."""
    refused = [
        {"field": "aggregates.last_seen", "gt": 3},
        {"field": "aggregates.order_count", "gt": "2026-01-01T00:00:00Z"},
        {"field": "aggregates.order_count", "eq": "five"},
        {"field": "aggregates.recent_items", "eq": "sku-1"},
        {"field": "traits.city", "gt": 3},
        {"field": "traits.city", "within_days": 3},
        {"field": "aggregates.order_count", "contains": 1},
        {"field": "aggregates.order_count", "gt": "yesterday"},
    ]
    for condition in refused:
        compiled, problems = compile_condition(condition, VOCAB)
        assert compiled is None
        assert len(problems) == 1


def test_unknown_names_are_refused_not_guessed() -> None:
    """An unknown field, segment, dimension or purpose: one problem each, all listed."""
    with pytest.raises(InvalidInput) as caught:
        compile_segment(
            {
                "name": "odd",
                "description": "every unknown name",
                "condition": {
                    "all": [
                        {"field": "traits.shoe_size", "eq": 42},
                        {"segment": "martians"},
                        {"affinity_top": {"dimension": "colour", "value": "red"}},
                        {"consent": "telepathy"},
                    ]
                },
            },
            VOCAB,
        )
    wheres = [p.where for p in caught.value.problems]
    assert wheres == [
        "$.condition.all[0].field",
        "$.condition.all[1].segment",
        "$.condition.all[2].affinity_top.dimension",
        "$.condition.all[3].consent",
    ]


def test_nesting_is_bounded() -> None:
    """Deeper than MAX_DEPTH combinators: refused with a problem, no RecursionError."""
    condition: dict[str, Any] = {"field": "traits.city", "eq": "Lyon"}
    for _ in range(MAX_DEPTH + 1):
        condition = {"not": condition}
    compiled, problems = compile_condition(condition, VOCAB)
    assert compiled is None
    assert "deeper" in problems[0].what


def test_a_segment_reads_what_its_condition_names() -> None:
    """The read set lists fields, segments, dimensions, purposes and categories."""
    segment = compile_segment(
        {
            "name": "bread-regulars",
            "description": "regulars who like bread",
            "condition": {
                "all": [
                    {"segment": "vip"},
                    {"field": "aggregates.order_count", "gte": 3},
                    {"affinity_top": {"dimension": "category", "value": "bread"}},
                ]
            },
        },
        VOCAB,
    )
    assert segment.reads.to_json() == {
        "fields": ["aggregates.order_count"],
        "segments": ["vip"],
        "dimensions": ["category"],
        "purposes": ["personalization"],
        "categories": sorted({"purchases", "browsing", "cart", "location"}),
    }
    member = segment.predicate
    fits = StaticFacts(
        fields={"aggregates.order_count": 3},
        segments=frozenset({"vip"}),
        affinities={"category": ["bread"]},
    )
    assert member(fits)
    assert not member(StaticFacts(known=False, segments=frozenset({"vip"})))


def test_segments_compile_all_or_none_and_later_ones_use_earlier_ones() -> None:
    """A list of segments: a later one may name an earlier one; one bad one loads none."""
    first = {
        "name": "big",
        "description": "d",
        "condition": {"field": "aggregates.order_count", "gt": 9},
    }
    second = {"name": "big-web", "description": "d", "condition": {"all": [{"segment": "big"}]}}
    assert [s.name for s in compile_segments([first, second], VOCAB)] == ["big", "big-web"]
    with pytest.raises(InvalidInput) as caught:
        compile_segments([second, first, first], VOCAB)
    assert len(caught.value.problems) == 2  # unknown segment "big" at [0], duplicate at [2]


# -- properties ---------------------------------------------------------------------------

_SCALARS: Final = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["2026-05-01T00:00:00Z", "2026-05-01T00:00:00+02:00"]),
)
_LEAVES: Final = st.one_of(
    st.builds(
        lambda f, op, v: {"field": f, op: v},
        st.sampled_from(FIELDS),
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "contains"]),
        _SCALARS,
    ),
    st.builds(
        lambda f, v: {"field": f, "in": v},
        st.sampled_from(FIELDS),
        st.lists(_SCALARS, min_size=1, max_size=3),
    ),
    st.builds(lambda f, v: {"field": f, "exists": v}, st.sampled_from(FIELDS), st.booleans()),
    st.builds(
        lambda f, v: {"field": f, "within_days": v}, st.sampled_from(FIELDS), st.floats(0.5, 400)
    ),
    st.builds(lambda s: {"segment": s}, st.sampled_from(["vip", "lapsed"])),
    st.builds(lambda p: {"consent": p}, st.sampled_from(["personalization", "analytics"])),
    st.builds(
        lambda d, v, k: {"affinity_top": {"dimension": d, "value": v, "k": k}},
        st.sampled_from(["category", "brand"]),
        st.sampled_from(["bread", "cake"]),
        st.integers(1, 5),
    ),
)
CONDITIONS: Final = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=8,
)
_ODD: Final = st.one_of(
    _SCALARS,
    st.just(MISSING),
    st.floats(),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.just(datetime.max.replace(tzinfo=UTC)),
    st.just(datetime.min.replace(tzinfo=UTC)),
    st.lists(_SCALARS, max_size=3).map(tuple),
    st.lists(_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=3), _SCALARS, max_size=2),
    st.just(object()),
    st.just(b"bytes"),
    st.complex_numbers(),
)
FACTS: Final = st.builds(
    StaticFacts,
    now=st.one_of(st.just(NOW), st.datetimes(timezones=st.just(UTC))),
    known=st.booleans(),
    fields=st.dictionaries(st.sampled_from(FIELDS), _ODD, max_size=6),
    segments=st.frozensets(st.sampled_from(["vip", "lapsed"])),
    affinities=st.dictionaries(
        st.sampled_from(["category", "brand"]), st.lists(st.sampled_from(["bread", "cake", "tea"]))
    ),
    consents=st.frozensets(st.sampled_from(["personalization", "analytics"])),
)


@settings(max_examples=300, deadline=None)
@given(condition=CONDITIONS, facts=FACTS)
def test_a_compiled_condition_never_raises_on_any_facts_values(
    condition: dict[str, Any], facts: StaticFacts
) -> None:
    """Whatever the Facts return, test() is a bool and explain() agrees with it."""
    compiled, problems = compile_condition(condition, VOCAB)
    if compiled is None:
        assert problems  # a typed refusal, e.g. a number compared with a date-time field
        return
    result = compiled.test(facts)
    assert isinstance(result, bool)
    assert compiled.explain(facts)["matched"] is result
    phrases = compiled.phrases(facts)
    assert all(isinstance(p, str) for p in phrases)
    assert compiled.first_phrase(facts) == (phrases[0] if phrases else None)


_JSON: Final = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["all", "any", "not", "field", "eq", "in", "gt", "segment", "x"]),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(condition=st.one_of(_JSON, CONDITIONS))
def test_any_json_as_a_segment_condition_compiles_or_lists_problems(condition: Any) -> None:
    """Loaded or InvalidInput with at least one problem; never another exception."""
    document = {"name": "s", "description": "d", "condition": condition}
    try:
        compiled = compile_segment(document, VOCAB)
    except InvalidInput as exc:
        problems = exc.problems
    else:
        assert isinstance(compiled.predicate(StaticFacts()), bool)
        return
    assert problems
