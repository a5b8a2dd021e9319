"""The compiled fast-path validator agrees with jsonschema, the reference, on every input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit._fastschema import compile_fast
from personakit.exceptions import Problem
from personakit.schema import _FORMATS, SchemaValidator
from personakit.testing import memory_kit

_KIT, _ = memory_kit()
SCHEMAS: dict[str, dict[str, Any]] = {
    f"event:{kind}": dict(_KIT.catalog.get(kind).validator.schema) for kind in _KIT.catalog.kinds()
}
SCHEMAS |= {f"trait:{n}": dict(t.validator.schema) for n, t in _KIT.traits.declarations.items()}
SCHEMAS["synthetic"] = {
    "$defs": {"n": {"type": ["integer", "null"], "exclusiveMinimum": 0, "maximum": 9}},
    "type": "object",
    "required": ["a"],
    "properties": {
        "a": {"enum": [1, "x", True, None, [1, 2], {"k": 1}]},
        "b": {"const": 2},
        "c": {"type": "array", "items": {"$ref": "#/$defs/n"}, "minItems": 1, "maxItems": 3},
        "d": {"type": "string", "pattern": "^[a-c]+$", "minLength": 2, "maxLength": 4},
        "e": {"anyOf": [{"type": "number", "minimum": 2.5}, {"type": "boolean"}]},
        "f": {"allOf": [{"type": "string"}, {"format": "date"}]},
        "g": {"type": "string", "format": "email"},
        "h": {"type": "integer", "minimum": 1, "maximum": 10.5},
        "i": {"type": "string", "maxLength": 3},
        "j": {"type": "integer", "maximum": -2},
    },
    "additionalProperties": {"type": "integer", "exclusiveMaximum": 100},
}

_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 120),
    st.floats(-5, 120, allow_nan=False),
    st.sampled_from([1.0, 2.5, 0, "", "ab", "abcd", "abcde", "x", "2026-01-05", "a@b.co", "zz"]),
    # Python's $ matches before a final newline, ECMA-262's (JSON Schema's) does not.
    st.sampled_from(["ab\n", "abc\n", "EUR\n", "EUR\n\n", "\nEUR", "a\nb", "ab\r", "é\n"]),
    st.text(max_size=6),
)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


def _instances(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    names = [*sorted(schema.get("properties", {})), "item", "items", "zz", "a", "c", "d"]
    shaped = st.dictionaries(st.sampled_from(names), _JSON, max_size=6)
    return st.one_of(_JSON, shaped)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_shipped_schema_compiles(name: str) -> None:
    """Event, trait and synthetic schemas all stay inside the fast subset."""
    assert compile_fast(SCHEMAS[name], _FORMATS) is not None


@settings(max_examples=300, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(SCHEMAS)))
def test_fast_path_agrees_with_jsonschema(data: st.DataObject, name: str) -> None:
    """For random instances, compiled is_valid == jsonschema's is_valid."""
    schema = SCHEMAS[name]
    instance = data.draw(_instances(schema))
    fast = compile_fast(schema, _FORMATS)
    assert fast is not None
    reference = SchemaValidator(schema)
    assert fast(instance) == (reference.problems(instance) == [])


def test_unsupported_keywords_fall_back() -> None:
    """A schema with a keyword outside the subset is not compiled (jsonschema handles it)."""
    assert compile_fast({"type": "object", "unevaluatedProperties": False}) is None
    assert compile_fast({"$ref": "https://example.com/x"}) is None
    assert compile_fast({"$defs": {"r": {"$ref": "#/$defs/r"}}, "$ref": "#/$defs/r"}) is None


@settings(max_examples=50, deadline=None)
@given(
    pattern=st.sampled_from(["^[A-Z]{3}$", "^[a-c]+$", "x$", "^(a|b)$"]),
    text=st.sampled_from(["EUR", "abc", "x", "a", "b"]),
    tail=st.sampled_from(["\n", "\n\n", "\r\n"]),
)
def test_a_dollar_anchor_does_not_match_before_a_final_newline(
    pattern: str, text: str, tail: str
) -> None:
    """JSON Schema patterns are ECMA-262: "EUR\\n" fails ^[A-Z]{3}$ on both paths."""
    schema = {"type": "string", "pattern": pattern}
    validator = SchemaValidator(schema)
    fast = compile_fast(schema, _FORMATS)
    assert fast is not None
    assert not validator.is_valid(text + tail)
    assert not fast(text + tail)
    assert validator.problems(text + tail, where="$.currency") == [
        Problem(where="$.currency", what=f"does not match the pattern {pattern}")
    ]


def test_a_currency_with_a_trailing_newline_is_refused() -> None:
    """The shipped purchase schema refuses currency "EUR\\n" (and accepts "EUR")."""
    purchase = _KIT.catalog.get("purchase").validator
    assert purchase.is_valid({"item": "sku-1", "currency": "EUR"})
    assert not purchase.is_valid({"item": "sku-1", "currency": "EUR\n"})
    assert purchase.problems({"item": "sku-1", "currency": "EUR\n"}) != []
