"""A fast yes/no JSON Schema check for the subset of keywords personakit's own schemas use.

Event properties and trait values are validated on the ingest hot path, where jsonschema's
general machinery (``$ref`` resolution through ``referencing``, evolving validators per
subschema) costs more than encrypting and storing the event. :func:`compile_fast` turns a
schema that stays within the subset below into nested closures; anything outside the subset
returns None and the caller keeps using jsonschema. jsonschema remains the reference: it
produces every error message, and a property test checks that both agree.

Supported (draft 2020-12 semantics): ``type``, ``enum``, ``const``, ``properties``,
``required``, ``additionalProperties`` (bool or schema), ``items``, ``minItems``,
``maxItems``, ``minLength``, ``maxLength``, ``pattern``, ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum``, ``anyOf``, ``allOf``, ``format`` (with the given
checkers), local ``$ref`` to ``#/$defs/…``; annotations are ignored.

Patterns are ECMA-262 regular expressions (as JSON Schema says); :func:`ecma_regex` compiles
one for Python's :mod:`re`, and both this module and jsonschema (through ``schema.py``) use it.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["Check", "compile_fast", "ecma_regex"]

Check = Callable[[Any], bool]

_ANNOTATIONS: Final = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "$defs",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_MAX_DEPTH: Final = 32


class _Unsupported(Exception):
    pass


# Outside a character class, the ECMA-262 meaning of these differs from Python's: ``$`` (no
# multiline flag) is the end of the input, where Python's also matches before a final "\n";
# ``\d`` is ASCII only; ``.`` matches no line terminator, where Python's matches "\r",
# U+2028 and U+2029. ``\w`` and ``\b`` are ASCII in ECMA-262 too, but our schemas use none.
_OUTSIDE: Final[dict[str, str]] = {"$": r"\Z", r"\d": "[0-9]", ".": r"[^\n\r\u2028\u2029]"}
_INSIDE: Final[dict[str, str]] = {r"\d": "0-9"}
# In ECMA-262 a "]" right after "[" or "[^" closes the class: "[]" matches nothing and "[^]"
# anything; in Python that "]" would be a literal member.
_EMPTY_CLASSES: Final[dict[str, str]] = {"[]": "(?!)", "[^]": r"[\s\S]"}


@functools.lru_cache(maxsize=512)
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile a JSON Schema (ECMA-262) ``pattern`` to a Python regex with the same meaning.

    Use ``search`` (JSON Schema patterns are not anchored). Raises :class:`re.error` for a
    pattern Python cannot compile.
    """
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        if not in_class:
            empty = next((e for e in _EMPTY_CLASSES if pattern.startswith(e, index)), None)
            if empty is not None:
                out.append(_EMPTY_CLASSES[empty])
                index += len(empty)
                continue
        piece = pattern[index : index + 2] if pattern[index] == "\\" else pattern[index]
        index += len(piece)
        out.append((_INSIDE if in_class else _OUTSIDE).get(piece, piece))
        if piece == "[":
            in_class = True
            if pattern.startswith("^", index):  # negation, not a member
                out.append("^")
                index += 1
        elif piece == "]":
            in_class = False
    return re.compile("".join(out))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    # JSON Schema: an integer is a number with no fractional part (1.0 counts).
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: Final[dict[str, Check]] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _json_equal(left: Any, right: Any) -> bool:
    # JSON equality: booleans are not numbers, 1 == 1.0, containers compare deeply.
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_json_equal, left, right))
    return type(left) is type(right) and bool(left == right)


def compile_fast(
    schema: Mapping[str, Any], formats: Mapping[str, Check] | None = None
) -> Check | None:
    """A yes/no checker for ``schema``, or None if it uses anything outside the subset."""
    try:
        return _Compiler(schema, formats or {}).compile(schema, 0)
    except (_Unsupported, KeyError, TypeError, re.error):
        return None


class _Compiler:
    def __init__(self, root: Mapping[str, Any], formats: Mapping[str, Check]) -> None:
        self.root = root
        self.formats = formats

    def _resolve(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#/$defs/") or "/" in ref[len("#/$defs/") :]:
            raise _Unsupported
        target = self.root["$defs"][ref[len("#/$defs/") :]]
        if not isinstance(target, Mapping):
            raise _Unsupported
        return target

    def compile(self, schema: Any, depth: int) -> Check:
        if depth > _MAX_DEPTH:
            raise _Unsupported  # recursive $ref: leave it to jsonschema
        if schema is True:
            return lambda _: True
        if schema is False:
            return lambda _: False
        if not isinstance(schema, Mapping):
            raise _Unsupported
        leaf = _leaf(schema)
        if leaf is not None:
            return leaf
        checks: list[Check] = []
        for keyword, rule in schema.items():
            if keyword in _ANNOTATIONS:
                continue
            handler = _HANDLERS.get(keyword)
            if handler is None:
                raise _Unsupported
            check = handler(self, schema, rule, depth + 1)
            if check is not None:
                checks.append(check)
        return checks[0] if len(checks) == 1 else _conjunction(checks)

    # One method a keyword: (schema, rule, depth) -> check, or None when it checks nothing.

    def _ref(self, _: Mapping[str, Any], rule: Any, depth: int) -> Check:
        return self.compile(self._resolve(rule), depth)

    def _type(self, _: Mapping[str, Any], rule: Any, _depth: int) -> Check:
        if isinstance(rule, str):
            return _TYPES[rule]
        tests = [_TYPES[name] for name in rule]
        return lambda v: any(t(v) for t in tests)

    def _enum(self, _: Mapping[str, Any], rule: Any, _depth: int) -> Check:
        options = list(rule)
        return lambda v: any(_json_equal(v, o) for o in options)

    def _const(self, _: Mapping[str, Any], rule: Any, _depth: int) -> Check:
        return lambda v: _json_equal(v, rule)

    def _properties(self, _: Mapping[str, Any], rule: Any, depth: int) -> Check:
        subs = {name: self.compile(sub, depth) for name, sub in rule.items()}

        def properties(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            # Walk the instance (a few keys), not the schema (maybe many).
            for name, item in value.items():
                check = subs.get(name)
                if check is not None and not check(item):
                    return False
            return True

        return properties

    def _required(self, _: Mapping[str, Any], rule: Any, _depth: int) -> Check:
        names = frozenset(rule)
        return lambda v: not isinstance(v, dict) or names <= v.keys()

    def _additional(self, schema: Mapping[str, Any], rule: Any, depth: int) -> Check:
        if "patternProperties" in schema:
            raise _Unsupported
        known = set(schema.get("properties", {}))
        extra = self.compile(rule, depth)
        return lambda v: (
            not isinstance(v, dict)
            or all(extra(item) for key, item in v.items() if key not in known)
        )

    def _items(self, _: Mapping[str, Any], rule: Any, depth: int) -> Check:
        item = self.compile(rule, depth)
        return lambda v: not isinstance(v, list) or all(map(item, v))

    def _pattern(self, _: Mapping[str, Any], rule: Any, _depth: int) -> Check:
        search = ecma_regex(rule).search
        return lambda v: not isinstance(v, str) or search(v) is not None

    def _any_of(self, _: Mapping[str, Any], rule: Any, depth: int) -> Check:
        subs = [self.compile(sub, depth) for sub in rule]
        return lambda v: any(s(v) for s in subs)

    def _all_of(self, _: Mapping[str, Any], rule: Any, depth: int) -> Check:
        subs = [self.compile(sub, depth) for sub in rule]
        return lambda v: all(s(v) for s in subs)

    def _format(self, _: Mapping[str, Any], rule: Any, _depth: int) -> Check | None:
        return self.formats.get(rule)  # unknown formats are annotations, as in jsonschema


_STRING_LEAF: Final = frozenset({"type", "minLength", "maxLength", "pattern"})
_INTEGER_LEAF: Final = frozenset({"type", "minimum", "maximum"})


def _leaf(schema: Mapping[str, Any]) -> Check | None:
    """One closure for the commonest leaves (a bounded string, a bounded integer), or None.

    The general path checks each keyword in its own closure, each guarded by its own type
    test; a leaf whose type is fixed needs the type test once.
    """
    keys = schema.keys() - _ANNOTATIONS
    kind = schema.get("type")
    if kind == "string" and keys <= _STRING_LEAF:
        low = _bound(schema.get("minLength", 0))
        high = _bound(schema.get("maxLength", 2**63))
        if "pattern" not in schema:
            return lambda v: isinstance(v, str) and low <= len(v) <= high
        search = ecma_regex(schema["pattern"]).search
        return lambda v: isinstance(v, str) and low <= len(v) <= high and search(v) is not None
    if kind == "integer" and keys <= _INTEGER_LEAF:
        minimum, maximum = schema.get("minimum"), schema.get("maximum")
        for bound in (minimum, maximum):
            if bound is not None and not _is_number(bound):
                raise _Unsupported
        least = -math.inf if minimum is None else minimum
        most = math.inf if maximum is None else maximum
        return lambda v: _is_integer(v) and least <= v <= most
    return None


def _bound(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _Unsupported
    return value


def _conjunction(checks: list[Check]) -> Check:
    def every(value: Any) -> bool:
        for check in checks:  # noqa: SIM110 (a plain loop: all() over a generator is 2x slower)
            if not check(value):
                return False
        return True

    return every


def _length_check(keyword: str, bound: int) -> Check:
    kind = list if keyword.endswith("Items") else str
    if keyword.startswith("min"):
        return lambda v: not isinstance(v, kind) or len(v) >= bound
    return lambda v: not isinstance(v, kind) or len(v) <= bound


def _bound_check(keyword: str, bound: Any) -> Check:
    if not _is_number(bound):
        raise _Unsupported
    tests: dict[str, Check] = {
        "minimum": lambda v: v >= bound,
        "maximum": lambda v: v <= bound,
        "exclusiveMinimum": lambda v: v > bound,
        "exclusiveMaximum": lambda v: v < bound,
    }
    test = tests[keyword]
    return lambda v: not _is_number(v) or test(v)


def _length_handler(
    _compiler: _Compiler, _schema: Mapping[str, Any], rule: Any, _depth: int, *, keyword: str
) -> Check:
    return _length_check(keyword, int(rule))


def _bound_handler(
    _compiler: _Compiler, _schema: Mapping[str, Any], rule: Any, _depth: int, *, keyword: str
) -> Check:
    return _bound_check(keyword, rule)


_Handler = Callable[[_Compiler, Mapping[str, Any], Any, int], "Check | None"]
_HANDLERS: Final[dict[str, _Handler]] = {
    "$ref": _Compiler._ref,  # noqa: SLF001
    "type": _Compiler._type,  # noqa: SLF001
    "enum": _Compiler._enum,  # noqa: SLF001
    "const": _Compiler._const,  # noqa: SLF001
    "properties": _Compiler._properties,  # noqa: SLF001
    "required": _Compiler._required,  # noqa: SLF001
    "additionalProperties": _Compiler._additional,  # noqa: SLF001
    "items": _Compiler._items,  # noqa: SLF001
    "pattern": _Compiler._pattern,  # noqa: SLF001
    "anyOf": _Compiler._any_of,  # noqa: SLF001
    "allOf": _Compiler._all_of,  # noqa: SLF001
    "format": _Compiler._format,  # noqa: SLF001
    **{
        k: functools.partial(_length_handler, keyword=k)
        for k in ("minItems", "maxItems", "minLength", "maxLength")
    },
    **{
        k: functools.partial(_bound_handler, keyword=k)
        for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    },
}
