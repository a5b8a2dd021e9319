"""Journey definitions: every problem listed, nothing of a bad set active (properties)."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personakit import testing
from personakit.exceptions import InvalidInput
from personakit.journeys import BUILTIN_JOURNEYS

GOOD = dict(BUILTIN_JOURNEYS["cart_abandonment"])
KIT, _ = testing.memory_kit()

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_PATHS = [
    ("id",),
    ("trigger",),
    ("trigger", "type"),
    ("trigger", "event"),
    ("steps",),
    ("channels",),
    ("exit",),
    ("reentry",),
    ("holdout",),
]


def test_unknown_names_are_all_listed_and_nothing_becomes_active() -> None:
    kit, _ = testing.memory_kit()
    kit.journeys.enable_builtin(["welcome"])
    bad = copy.deepcopy(GOOD)
    bad["trigger"] = {"type": "segment", "segment": "no.such.segment"}
    bad["steps"][0]["template"] = "no_such_template"
    bad["steps"][1]["conditions"] = [{"trait": "shoe_size", "op": "exists"}]
    bad["channels"] = ["email", "fax"]
    bad["exit"] = ["teleport"]
    with pytest.raises(InvalidInput) as caught:
        kit.journeys.load([dict(BUILTIN_JOURNEYS["birthday"]), bad])
    assert {p.where for p in caught.value.problems} == {
        "$[1].trigger.segment",
        "$[1].steps[0].template",
        "$[1].steps[1].conditions[0].trait",
        "$[1].channels[1]",
        "$[1].exit[0]",
    }
    assert [d["id"] for d in kit.journeys.definitions()] == ["welcome"]


def test_a_repeated_id_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        KIT.journeys.load([GOOD, GOOD])
    assert [p.where for p in caught.value.problems] == ["$[1].id"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(_PATHS), value=_JSON | st.sampled_from([10**400, "\ud800", -1]))
def test_any_value_anywhere_is_accepted_or_refused_with_a_typed_error(
    path: tuple[str, ...], value: Any
) -> None:
    doc: dict[str, Any] = copy.deepcopy(GOOD)
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    before = KIT.journeys.definitions()
    problems = []
    try:
        ids = KIT.journeys.load([doc])
    except InvalidInput as exc:
        problems = list(exc.problems)
        ids = []
    if problems:
        assert KIT.journeys.definitions() == before
    else:
        assert ids == [doc["id"]]


@settings(max_examples=60, deadline=None)
@given(value=_JSON)
def test_any_json_as_the_whole_set_is_total(value: Any) -> None:
    with contextlib.suppress(InvalidInput):
        KIT.journeys.load(value)
