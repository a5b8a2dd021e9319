"""JSON Schema loading and validation: the only module that imports :mod:`jsonschema`.

Schemas that ship with personakit live in ``personakit/schemas/<name>.schema.json`` and are
loaded through :mod:`importlib.resources`; their compiled validators are memoized (they are
package constants). Schemas that come from elsewhere (a trait declaration in a manifest, say)
are compiled with :func:`compile_schema`, and the caller keeps the :class:`SchemaValidator`.

Every failure becomes a :class:`~personakit.exceptions.Problem` whose ``where`` is a JSON path
(``$.purposes[2].lawful_basis``) and whose ``what`` is written here from the failing keyword and
the *schema*, never from the instance: jsonschema's own messages quote the offending value,
which could be an e-mail address on its way into a log file.

``jsonschema`` is imported on first use, so ``import personakit`` does not pay for it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

from personakit._codec import PLAIN_KEY, SURROGATE, canonical_json, loads
from personakit._fastschema import Check, compile_fast, ecma_regex
from personakit.exceptions import InvalidInput, Problem

__all__ = [
    "SchemaValidator",
    "check",
    "compile_schema",
    "load_schema",
    "schema_names",
    "validate",
]

_SUFFIX: Final = ".schema.json"
_PACKAGE: Final = "personakit.schemas"
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_-]{0,63}")
# Property names that are safe to print in a path: identifier-like tokens. Anything else (an
# e-mail address used as a key, say) is shown as ``[?]``.
_TOKEN_KEY_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}")
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URI_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_SHOWN_ENUM: Final = 12  # longer enums are summarised, not listed


class SchemaValidator:
    """A compiled JSON Schema (draft 2020-12) that reports problems without echoing values."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        """Compile ``schema``; :class:`InvalidInput` if it is not a valid JSON Schema."""
        import jsonschema  # noqa: PLC0415 (deferred: `import personakit` must stay fast)

        self.schema: dict[str, Any] = dict(schema)
        base = jsonschema.validators.validator_for(
            self.schema, default=jsonschema.Draft202012Validator
        )
        cls = _ecma_patterns(base)
        try:
            cls.check_schema(self.schema)
        except jsonschema.SchemaError as exc:
            where = _render_path("$", exc.path)
            raise InvalidInput(
                "invalid JSON Schema",
                [Problem(where=where, what=f"fails the meta-schema's {exc.validator!r} rule")],
            ) from None
        self._validator = cls(self.schema, format_checker=_format_checker())
        # The yes/no question is asked on the ingest hot path; answer it with compiled closures
        # when the schema stays in the supported subset (jsonschema still writes the messages).
        self._fast = compile_fast(self.schema, _FORMATS)

    def __repr__(self) -> str:
        """Render with the schema's ``$id`` or title, if any."""
        label = self.schema.get("$id") or self.schema.get("title") or "anonymous"
        return f"SchemaValidator({label!r})"

    def problems(self, instance: Any, *, where: str = "$") -> list[Problem]:
        r"""Every problem with ``instance``, in a stable order; empty when it validates.

        Besides the schema's rules, every string (value or property name) must be Unicode
        text: a lone surrogate (``"\\ud800"``) cannot be stored as UTF-8.
        """
        found = [
            problem
            for error in self._validator.iter_errors(instance)
            for problem in _describe(error, where)
        ]
        found.extend(
            Problem(where=path, what="is not Unicode text (a lone surrogate)")
            for path in _surrogates(instance, where)
        )
        return sorted(set(found), key=lambda p: (_path_sort_key(p.where), p.what))

    def is_valid(self, instance: Any, *, surrogates_checked: bool = False) -> bool:
        """Whether ``instance`` validates (see :meth:`problems`).

        ``surrogates_checked`` skips the walk for lone surrogates, for an instance that was
        already refused if it held one (decoded by :func:`~personakit._codec.loads_input` or
        passed through :func:`~personakit._codec.check_value`).
        """
        if self._fast is not None:
            valid = self._fast(instance)
        else:
            valid = bool(self._validator.is_valid(instance))
        return valid and (surrogates_checked or not _has_surrogate(instance))

    @property
    def compiled(self) -> bool:
        """Whether :meth:`is_valid` uses the compiled fast path."""
        return self._fast is not None


@functools.cache
def _shipped(name: str) -> SchemaValidator:
    # Memoized: shipped schemas are package data, identical for the life of the process.
    return SchemaValidator(load_schema(name))


def schema_names() -> list[str]:
    """Names of the schemas that ship with personakit (``manifest``, …), sorted."""
    import importlib.resources  # noqa: PLC0415 (deferred: tempfile and shutil come with it)

    root = importlib.resources.files(_PACKAGE)
    return sorted(
        entry.name.removesuffix(_SUFFIX) for entry in root.iterdir() if entry.name.endswith(_SUFFIX)
    )


def load_schema(name: str) -> dict[str, Any]:
    """A fresh copy of the shipped schema ``name`` (``schemas/<name>.schema.json``)."""
    if not _NAME_RE.fullmatch(name) or name not in schema_names():
        raise InvalidInput("unknown schema", [Problem(where="schema", what="not a shipped schema")])
    import importlib.resources  # noqa: PLC0415 (deferred, as in schema_names)

    text = importlib.resources.files(_PACKAGE).joinpath(name + _SUFFIX).read_text("utf-8")
    schema = loads(text)
    if not isinstance(schema, dict):
        msg = f"shipped schema {name} is not a JSON object"
        raise TypeError(msg)
    return schema


def compile_schema(schema: Mapping[str, Any] | str) -> SchemaValidator:
    """A validator for a schema given as a mapping, or the memoized one for a shipped name."""
    if isinstance(schema, str):
        return _shipped(schema)
    # Validators are immutable, and meta-validating a schema is most of a kit's start-up time:
    # share one per distinct schema text.
    return _by_text(canonical_json(dict(schema)).decode("utf-8"))


@functools.lru_cache(maxsize=512)
def _by_text(text: str) -> SchemaValidator:
    return SchemaValidator(loads(text))


def validate(
    instance: Any, schema: Mapping[str, Any] | str | SchemaValidator, *, where: str = "$"
) -> list[Problem]:
    """Every problem with ``instance`` against ``schema`` (a mapping, a shipped name, or compiled).

    ``where`` prefixes every path (``$.traits.email`` when validating one trait value, say).
    """
    validator = schema if isinstance(schema, SchemaValidator) else compile_schema(schema)
    return validator.problems(instance, where=where)


def check(
    instance: Any,
    schema: Mapping[str, Any] | str | SchemaValidator,
    *,
    summary: str = "invalid input",
    error: type[InvalidInput] = InvalidInput,
    where: str = "$",
) -> None:
    """Raise ``error(summary, problems)`` listing every problem, or return if none."""
    problems = validate(instance, schema, where=where)
    if problems:
        raise error(summary, problems)


# -- Unicode and ECMA-262 patterns ---------------------------------------------------------


def _has_surrogate(value: Any) -> bool:
    """Whether any string in ``value`` (keys included) holds a lone surrogate.

    The yes/no form of :func:`_surrogates` for :meth:`SchemaValidator.is_valid`, a hot path:
    no paths are built.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and not key.isascii() and SURROGATE.search(key):
                    return True
                if not isinstance(sub, (int, float)):
                    stack.append(sub)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def _surrogates(value: Any, where: str) -> Iterator[str]:
    """The path of every string in ``value`` (keys included) holding a lone surrogate."""
    # An explicit stack: a value nested deeper than the recursion limit is walked all the same.
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and SURROGATE.search(item):
                yield path
        elif isinstance(item, dict):
            for key, sub in item.items():
                child = _render_path(path, [key if isinstance(key, str) else "?"])
                if isinstance(key, str) and not key.isascii() and SURROGATE.search(key):
                    yield child
                stack.append((sub, child))
        elif isinstance(item, (list, tuple)):
            stack.extend((sub, _render_path(path, [i])) for i, sub in enumerate(item))


def _ecma_patterns(cls: Any) -> Any:
    """``cls`` with ECMA-262 patterns, as JSON Schema specifies.

    ``pattern``, ``patternProperties`` and the ``additionalProperties`` that depends on them.
    """
    import jsonschema  # noqa: PLC0415 (deferred with the rest of jsonschema)

    keywords = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    }
    return jsonschema.validators.extend(cls, keywords)  # type: ignore[no-untyped-call]


def _pattern(validator: Any, rule: str, instance: Any, _schema: Any) -> Iterator[Any]:
    import jsonschema  # noqa: PLC0415 (deferred with the rest of jsonschema)

    if validator.is_type(instance, "string") and not ecma_regex(rule).search(instance):
        yield jsonschema.ValidationError(f"does not match {rule!r}")


def _pattern_properties(validator: Any, rule: Any, instance: Any, _schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "object"):
        for regex, subschema in rule.items():
            matching = [key for key in instance if ecma_regex(regex).search(key)]
            for key in matching:
                yield from validator.descend(instance[key], subschema, path=key, schema_path=regex)


def _additional_properties(validator: Any, rule: Any, instance: Any, schema: Any) -> Iterator[Any]:
    import jsonschema  # noqa: PLC0415 (deferred with the rest of jsonschema)

    if not validator.is_type(instance, "object"):
        return
    extras = _extra_keys(instance, schema)
    if validator.is_type(rule, "object"):
        for key in extras:
            yield from validator.descend(instance[key], rule, path=key)
    elif rule is False and extras:
        yield jsonschema.ValidationError("has unexpected properties")


def _extra_keys(instance: Mapping[str, Any], schema: Any) -> list[str]:
    schema = schema if isinstance(schema, dict) else {}
    known = set(schema.get("properties", {}))
    patterns = [ecma_regex(p) for p in schema.get("patternProperties", {})]
    return [
        key for key in instance if key not in known and not any(p.search(key) for p in patterns)
    ]


# -- formats --------------------------------------------------------------------------------


def _format_checker() -> Any:
    import jsonschema  # noqa: PLC0415 (deferred with the rest of jsonschema)

    checker = jsonschema.FormatChecker(formats=())
    checker.checks("email")(_is_email)
    checker.checks("date")(_is_date)
    checker.checks("date-time")(_is_date_time)
    checker.checks("uri")(_is_uri)
    return checker


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or _EMAIL_RE.fullmatch(value) is not None


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == len("2026-01-05")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _is_uri(value: object) -> bool:
    return (
        not isinstance(value, str)
        or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", value) is not None
    )


_FORMATS: Final[dict[str, Check]] = {
    "email": _is_email,
    "date": _is_date,
    "date-time": _is_date_time,
    "uri": _is_uri,
}


# -- messages -------------------------------------------------------------------------------


def _render_path(root: str, path: Iterable[Any]) -> str:
    out = root
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and PLAIN_KEY.fullmatch(part):
            out += f".{part}"
        elif isinstance(part, str) and _TOKEN_KEY_RE.fullmatch(part):
            out += f"['{part}']"
        else:
            out += "[?]"
    return out


def _path_sort_key(where: str) -> list[Any]:
    # "$.purposes[10]" sorts after "$.purposes[2]".
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", where)]


def _listing(values: Sequence[Any]) -> str:
    shown = [_schema_value(v) for v in values[:_SHOWN_ENUM]]
    more = f", … ({len(values) - _SHOWN_ENUM} more)" if len(values) > _SHOWN_ENUM else ""
    return ", ".join(shown) + more


def _schema_value(value: Any) -> str:
    # Only ever called on values taken from the *schema*.
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _type_name(expected: Any) -> str:
    if isinstance(expected, list):
        return " or ".join(str(t) for t in expected)
    return str(expected)


def _describe(error: Any, root: str) -> list[Problem]:
    keyword: str = str(error.validator)
    rule: Any = error.validator_value
    where = _render_path(root, error.absolute_path)
    if error.schema is False:
        return [Problem(where=where, what="is not allowed here")]
    if keyword == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in rule if name not in instance]
        return [Problem(where=_render_path(where, [name]), what="is required") for name in missing]
    if keyword == "dependentRequired":
        instance = error.instance if isinstance(error.instance, dict) else {}
        return [
            Problem(
                where=_render_path(where, [needed]),
                what=f"is required when {trigger} is present",
            )
            for trigger, needs in rule.items()
            if trigger in instance
            for needed in needs
            if needed not in instance
        ]
    if keyword in {"additionalProperties", "unevaluatedProperties"}:
        return [Problem(where=where, what=_unexpected_properties(error))]
    return [Problem(where=where, what=_message(keyword, rule))]


def _unexpected_properties(error: Any) -> str:
    instance = error.instance if isinstance(error.instance, dict) else {}
    extra = _extra_keys(instance, error.schema)
    shown = sorted(key for key in extra if _TOKEN_KEY_RE.fullmatch(key))
    hidden = len(extra) - len(shown)
    parts = [", ".join(shown)] if shown else []
    if hidden:
        parts.append(f"{hidden} more with names not shown")
    listed = "; ".join(parts) if parts else "some"
    return f"has unexpected properties: {listed}"


_SIMPLE: Final[dict[str, str]] = {
    "minLength": "must be at least {} characters long",
    "maxLength": "must be at most {} characters long",
    "minimum": "must be >= {}",
    "maximum": "must be <= {}",
    "exclusiveMinimum": "must be > {}",
    "exclusiveMaximum": "must be < {}",
    "multipleOf": "must be a multiple of {}",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
    "minProperties": "must have at least {} properties",
    "maxProperties": "must have at most {} properties",
    "pattern": "does not match the pattern {}",
    "format": "does not match the required format '{}'",
}


def _message(keyword: str, rule: Any) -> str:
    if keyword in _SIMPLE:
        return _SIMPLE[keyword].format(_schema_value(rule))
    messages: dict[str, str] = {
        "type": f"must be of type {_type_name(rule)}",
        "enum": "must be one of: " + _listing(rule) if isinstance(rule, list) else "bad value",
        "const": f"must be {_schema_value(rule)}",
        "uniqueItems": "must not contain duplicate items",
        "oneOf": "must match exactly one of the allowed forms",
        "anyOf": "must match at least one of the allowed forms",
        "not": "matches a form that is not allowed",
        "contains": "must contain a matching item",
        "minContains": "must contain more matching items",
        "maxContains": "contains too many matching items",
        "propertyNames": "has a property whose name is not allowed",
    }
    if keyword in messages:
        return messages[keyword]
    return f"fails the {keyword!r} rule"
