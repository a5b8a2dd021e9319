"""The condition language of segments, rules and experiments, compiled once into closures.

A condition is JSON: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``, or a leaf:
``{"field": "traits.city", "eq": "Lyon"}`` (operators ``eq``, ``ne``, ``in``, ``gt``,
``gte``, ``lt``, ``lte``, ``exists``, ``contains``, ``within_days``), ``{"segment": "vip"}``,
``{"affinity_top": {"dimension": "category", "value": "bread", "k": 3}}`` or
``{"consent": "marketing.email"}``. The shape is checked by the shipped
``conditions.schema.json``; names, types and categories by :func:`compile_condition`.

There is no expression language, no ``eval``, no attribute access and no pattern taken from
input: a condition only selects one of these operators and gives it constants (Apache Unomi's
CVE-2020-13942 ran code through its conditions). Nesting is bounded by :data:`MAX_DEPTH`.

Types. A comparison whose operand cannot match the field's declared type (``gt`` a number on
a date-time aggregate, ``eq`` a string on a number) is refused at load. Where the type is not
known in advance (context fields, untyped traits) a value of another type makes the leaf
False at run time: comparisons across types never raise. A MISSING field satisfies no
operator except ``exists: false`` (so ``ne`` is False on a missing field too).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

from attrs import frozen

from personakit.exceptions import Problem
from personakit.personalization._facts import MISSING, Facts
from personakit.personalization._vocabulary import FieldInfo, Reads, Vocabulary

__all__ = ["MAX_DEPTH", "Condition", "compile_condition"]

#: How deeply all / any / not may nest.
MAX_DEPTH: Final = 12
_DAY_SECONDS: Final = 86_400.0
_ORDER_OPS: Final = ("gt", "gte", "lt", "lte")
_OPS: Final = (*_ORDER_OPS, "eq", "ne", "in", "exists", "contains", "within_days")
# An operator returns True, False, or None when the value's type does not fit (then: False).
_Op = Callable[[Any, Facts], bool | None]
_ARITH_ERRORS: Final = (TypeError, ValueError, OverflowError, ArithmeticError)


@frozen(kw_only=True)
class Condition:
    """A compiled condition: a predicate over :class:`Facts`, what it reads, how to explain it.

    ``test(facts)`` never raises for any value a ``Facts`` returns. ``phrase`` is the end-user
    phrase of a leaf that may explain a decision ("you often buy bread"); None when the leaf
    rests on an inference or a special category (then it is never shown to the person).
    """

    test: Callable[[Facts], bool]
    reads: Reads
    label: str
    kind: str
    children: tuple[Condition, ...] = ()
    phrase: str | None = None
    _why: Callable[[Facts], str] | None = None

    def explain(self, facts: Facts) -> dict[str, Any]:
        """The developer trace: this node, whether it held, why, and its children's traces."""
        matched = self.test(facts)
        out: dict[str, Any] = {"condition": self.label, "matched": matched}
        if self.children:
            out["children"] = [child.explain(facts) for child in self.children]
        elif not matched and self._why is not None:
            out["why"] = self._why(facts)
        return out

    @property
    def speaks(self) -> bool:
        """Whether any positive leaf has an end-user phrase (else: "Picked for you")."""
        if self.kind == "not":
            return False
        return self.phrase is not None or any(child.speaks for child in self.children)

    def phrases(self, facts: Facts) -> list[str]:
        """End-user phrases of the leaves that held (positive leaves only, never under not)."""
        if self.kind == "not":
            return []
        if self.children:
            return [p for child in self.children if child.test(facts) for p in child.phrases(facts)]
        return [self.phrase] if self.phrase is not None and self.test(facts) else []

    def first_phrase(self, facts: Facts) -> str | None:
        """The first of :meth:`phrases`, evaluating no more leaves than needed."""
        if self.kind == "not":
            return None
        if self.phrase is not None:
            return self.phrase if self.test(facts) else None
        for child in self.children:
            if child.speaks and child.test(facts):
                found = child.first_phrase(facts)
                if found is not None:
                    return found
        return None


def compile_condition(
    value: Any, vocabulary: Vocabulary, *, where: str = "$"
) -> tuple[Condition | None, list[Problem]]:
    """Compile a condition that passed ``conditions.schema.json``.

    Returns the compiled condition and no problems, or None and every semantic problem
    (unknown names, refused types, nesting too deep). Special categories are not refused
    here: the caller knows the definition's purpose (see ``special_problems``).
    """
    problems: list[Problem] = []
    compiled = _compile(value, vocabulary, where, 0, problems)
    return (compiled if not problems else None), problems


def _compile(
    value: Any, vocab: Vocabulary, where: str, depth: int, problems: list[Problem]
) -> Condition | None:
    if not isinstance(value, dict):
        problems.append(Problem(where=where, what="must be a condition object"))
        return None
    if depth > MAX_DEPTH:
        problems.append(Problem(where=where, what=f"nested deeper than {MAX_DEPTH} levels"))
        return None
    if "all" in value or "any" in value:
        return _group("all" if "all" in value else "any", value, vocab, where, depth, problems)
    if "not" in value:
        return _negate(_compile(value["not"], vocab, f"{where}.not", depth + 1, problems))
    for key, build in _LEAVES.items():
        if key in value:
            return build(value if key == "field" else value[key], vocab, where, problems)
    problems.append(Problem(where=where, what="not a known condition"))
    return None


def _negate(kid: Condition | None) -> Condition | None:
    if kid is None:
        return None
    inner = kid.test
    return Condition(
        test=lambda f: not inner(f), reads=kid.reads, label="not", kind="not", children=(kid,)
    )


def _group(  # noqa: PLR0917 (the recursion's state, passed down as _compile takes it)
    key: str, value: dict[str, Any], vocab: Vocabulary, where: str, depth: int, problems: Any
) -> Condition | None:
    items = value[key]
    if not isinstance(items, list):
        problems.append(Problem(where=f"{where}.{key}", what="must be an array"))
        return None
    kids = [
        _compile(item, vocab, f"{where}.{key}[{i}]", depth + 1, problems)
        for i, item in enumerate(items)
    ]
    if any(kid is None for kid in kids):
        return None
    return _combine(key, tuple(k for k in kids if k is not None))


def _combine(key: str, kids: tuple[Condition, ...]) -> Condition:
    tests = tuple(kid.test for kid in kids)
    reads = Reads()
    for kid in kids:
        reads |= kid.reads
    # Plain loops: a generator per call costs more than the leaves it runs.
    if key == "all":

        def test(facts: Facts) -> bool:
            for one in tests:  # noqa: SIM110 (all() over a generator: slower)
                if not one(facts):
                    return False
            return True

    else:

        def test(facts: Facts) -> bool:
            for one in tests:  # noqa: SIM110 (any() over a generator: slower)
                if one(facts):
                    return True
            return False

    return Condition(test=test, reads=reads, label=key, kind=key, children=kids)


def _segment(name: Any, vocab: Vocabulary, where: str, problems: list[Problem]) -> Condition | None:
    if not isinstance(name, str) or name not in vocab.segments:
        problems.append(Problem(where=f"{where}.segment", what="unknown segment"))
        return None

    def test(facts: Facts) -> bool:
        return facts.in_segment(name) is True

    reads = Reads(segments=frozenset({name}), categories=vocab.segments[name])
    # A segment is an inference: never shown to the person as a reason.
    return Condition(test=test, reads=reads, label=f"segment {name}", kind="segment")


def _consent(
    purpose: Any, vocab: Vocabulary, where: str, problems: list[Problem]
) -> Condition | None:
    if not isinstance(purpose, str) or purpose not in vocab.purposes:
        problems.append(Problem(where=f"{where}.consent", what="not a purpose in the manifest"))
        return None

    def test(facts: Facts) -> bool:
        return facts.has_consent(purpose) is True

    reads = Reads(purposes=frozenset({purpose}))
    return Condition(test=test, reads=reads, label=f"consent {purpose}", kind="consent")


def _affinity(
    spec: Any, vocab: Vocabulary, where: str, problems: list[Problem]
) -> Condition | None:
    if not isinstance(spec, dict):
        problems.append(Problem(where=f"{where}.affinity_top", what="must be an object"))
        return None
    dimension, wanted, k = spec.get("dimension"), spec.get("value"), spec.get("k", 3)
    if not isinstance(dimension, str) or dimension not in vocab.dimensions:
        problems.append(Problem(where=f"{where}.affinity_top.dimension", what="unknown dimension"))
        return None
    if not isinstance(wanted, str) or type(k) is not int or not 1 <= k <= 50:  # noqa: PLR2004
        problems.append(Problem(where=f"{where}.affinity_top", what="needs a value and k 1..50"))
        return None

    def test(facts: Facts) -> bool:
        top = facts.affinity_top(dimension, k)
        return isinstance(top, tuple) and wanted in top

    categories = vocab.dimensions[dimension]
    reads = Reads(dimensions=frozenset({dimension}), categories=categories)
    # What the person did, in the shop's own words for the value: "you often buy bread".
    phrase = None if categories & vocab.special else f"you often buy {wanted}"
    label = f"affinity_top {dimension} {wanted!r} k={k}"
    return Condition(
        test=test,
        reads=reads,
        label=label,
        kind="affinity_top",
        phrase=phrase,
        why=lambda _f: f"not in the top {k}",
    )


def _leaf(
    spec: dict[str, Any], vocab: Vocabulary, where: str, problems: list[Problem]
) -> Condition | None:
    path = spec.get("field")
    info = vocab.fields.get(path) if isinstance(path, str) else None
    if info is None or not isinstance(path, str):
        problems.append(Problem(where=f"{where}.field", what="unknown field"))
        return None
    ops = [key for key in spec if key != "field"]
    if len(ops) != 1 or ops[0] not in _OPS:
        problems.append(Problem(where=where, what="needs exactly one operator"))
        return None
    op_name = ops[0]
    operand = spec[op_name]
    op, refused = _operator(op_name, operand, info)
    if op is None:
        problems.append(Problem(where=f"{where}.{op_name}", what=refused))
        return None
    return _field_condition(path, op_name, operand, op=op, info=info, vocab=vocab)


def _field_condition(
    path: str, op_name: str, operand: Any, *, op: _Op, info: FieldInfo, vocab: Vocabulary
) -> Condition:
    missing_ok = op_name == "exists" and operand is False

    def test(facts: Facts) -> bool:
        value = facts.field(path)
        if value is MISSING:
            return missing_ok
        try:
            return op(value, facts) is True
        except _ARITH_ERRORS:
            return False

    def why(facts: Facts) -> str:
        value = facts.field(path)
        if value is MISSING:
            return "missing"
        try:
            held = op(value, facts)
        except _ARITH_ERRORS:
            held = None
        return "type mismatch" if held is None else "did not hold"

    reads = Reads(fields=frozenset({path}), categories=info.categories)
    label = f"{path} {op_name} {_shown(operand)}"
    return Condition(
        test=test,
        reads=reads,
        label=label,
        kind="field",
        phrase=_phrase(path, op_name, info, vocab),
        why=why,
    )


def _shown(operand: Any) -> str:
    # Operands are the shop's constants (not personal data); keep labels short.
    text = repr(operand)
    return text if len(text) <= 60 else text[:57] + "..."  # noqa: PLR2004


def _phrase(  # noqa: PLR0911 (one answer per kind of field)
    path: str, op_name: str, info: FieldInfo, vocab: Vocabulary
) -> str | None:
    """A gentle phrase about what the person did or declared; None for anything else."""
    if info.categories & vocab.special:
        return None
    source, _, name = path.partition(".")
    if source == "context":
        return "of the page you are on"
    if source == "traits":
        return "of what you told us" if op_name != "exists" else None
    if name.startswith("cart"):
        return "of what is in your basket"
    if name in {"order_count", "monetary_cents", "last_purchase_at"}:
        return "you have shopped with us before"
    if op_name == "within_days":
        return "you visited us recently"
    return None


# -- operators ------------------------------------------------------------------------------


def _operator(name: str, operand: Any, info: FieldInfo) -> tuple[_Op | None, str]:
    if name in _ORDER_OPS:
        return _order(name, operand, info)
    if name == "within_days":
        return _within(operand, info)
    if name == "exists":
        if not isinstance(operand, bool):
            return None, "must be true or false"
        return (lambda _v, _f: operand), ""
    if name == "contains":
        return _contains(operand, info)
    return _equality(name, operand, info)


_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _order(name: str, operand: Any, info: FieldInfo) -> tuple[_Op | None, str]:
    compare = _COMPARE[name]
    if _is_number(operand):
        if info.type not in {None, "number"}:
            return None, "a number cannot be compared with this field"
        if isinstance(operand, float) and not math.isfinite(operand):
            return None, "must be finite"
        number = operand

        def on_number(value: Any, _f: Facts) -> bool | None:
            # int and float exactly first (bool is neither): the common case, no isinstance.
            kind = type(value)
            if kind is int or kind is float or _is_number(value):
                return compare(value, number)
            return None

        return on_number, ""
    moment = _parse_time(operand)
    if moment is None:
        return None, "must be a number or an RFC 3339 date-time with an offset"
    if info.type not in {None, "datetime"}:
        return None, "a date-time cannot be compared with this field"

    def on_time(value: Any, _f: Facts) -> bool | None:
        return compare(value, moment) if _is_aware(value) else None

    return on_time, ""


def _equality(name: str, operand: Any, info: FieldInfo) -> tuple[_Op | None, str]:
    values: Sequence[Any] = operand if name == "in" else [operand]
    if name == "in" and (not isinstance(operand, list) or not operand):
        return None, "must be a non-empty array"
    if not all(_is_scalar(v) for v in values):
        return None, "must be a string, number, boolean or null"
    if info.type == "list":
        return None, "use contains on a list field"
    if info.type is not None and not all(_fits(v, info.type) for v in values):
        return None, f"cannot match a field of type {info.type}"
    targets = tuple((v, _parse_time(v)) for v in values)
    matches = _text_matcher(targets) or _matcher(targets)
    if name == "ne":
        return (lambda v, _f: None if (m := matches(v)) is None else not m), ""
    return (lambda v, _f: matches(v)), ""


def _text_matcher(targets: tuple[tuple[Any, datetime | None], ...]) -> Callable[[Any], Any] | None:
    """The common case, text constants only: one set lookup (the same answers as _same)."""
    if not all(isinstance(t, str) and m is None for t, m in targets):
        return None
    texts = frozenset(t for t, _ in targets)

    def matches(value: Any) -> bool | None:
        if isinstance(value, str):
            return value in texts
        return False if value is None else None

    return matches


def _matcher(targets: tuple[tuple[Any, datetime | None], ...]) -> Callable[[Any], Any]:
    def matches(value: Any) -> bool | None:
        found = False
        comparable = False
        for target, moment in targets:
            same = _same(value, target, moment)
            if same is not None:
                comparable = True
                found = found or same
        return found if comparable else None

    return matches


def _fits(operand: Any, kind: str) -> bool:
    if operand is None:
        return True
    if kind == "number":
        return _is_number(operand)
    if kind == "boolean":
        return isinstance(operand, bool)
    if kind == "datetime":
        return _parse_time(operand) is not None
    if kind == "string":
        return isinstance(operand, str)
    return False  # object


def _same(value: Any, target: Any, moment: datetime | None) -> bool | None:
    """Equality within one JSON type; None when the types cannot be compared."""
    if target is None or value is None:
        return value is None and target is None
    if isinstance(target, bool) or isinstance(value, bool):
        return value is target if isinstance(value, bool) and isinstance(target, bool) else None
    if _is_number(target):
        return bool(value == target) if _is_number(value) else None
    if isinstance(value, str):
        return bool(value == target)
    if moment is not None and _is_aware(value):
        return bool(value == moment)
    return None


def _within(operand: Any, info: FieldInfo) -> tuple[_Op | None, str]:
    if info.type not in {None, "datetime"}:
        return None, "within_days needs a date-time field"
    if not _is_number(operand) or not 0 < operand <= 36600:  # noqa: PLR2004
        return None, "must be a number of days in (0, 36600]"
    limit = float(operand) * _DAY_SECONDS

    def op(value: Any, facts: Facts) -> bool | None:
        now = facts.now
        if not _is_aware(value) or not _is_aware(now):
            return None
        elapsed = (now - value).total_seconds()
        return bool(0 <= elapsed <= limit)

    return op, ""


def _contains(operand: Any, info: FieldInfo) -> tuple[_Op | None, str]:
    if info.type not in {None, "list", "string"}:
        return None, "contains needs a list or string field"
    if not _is_scalar(operand):
        return None, "must be a string, number, boolean or null"

    def op(value: Any, _f: Facts) -> bool | None:
        if isinstance(value, str):
            return operand in value if isinstance(operand, str) else None
        if isinstance(value, (list, tuple)):
            return any(_same(item, operand, None) is True for item in value)
        return None

    return op, ""


# The leaf builders, by the key that names them (checked in this order).
_LEAVES: Final[dict[str, Callable[[Any, Vocabulary, str, list[Problem]], Condition | None]]] = {
    "segment": _segment,
    "consent": _consent,
    "affinity_top": _affinity,
    "field": _leaf,
}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, (str, bool)) or _is_number(value)


def _is_aware(value: object) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not 10 <= len(value) <= 40:  # noqa: PLR2004
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None
