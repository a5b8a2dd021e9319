"""Canonical JSON: one byte representation per value, so hashes and MACs are reproducible.

Two decoders: :func:`loads` for our own records and trusted files, and :func:`loads_input` for
text that comes from outside (bulk-ingest lines), which also refuses what JSON parsers disagree
on or what no stored record may hold: duplicate keys, nesting deeper than :data:`MAX_DEPTH`,
lone surrogates and numbers that are not finite. :func:`check_value` applies the same rules to a
value a caller hands over already decoded (a mapping given to ``ingest`` or ``track``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any, Final

from personakit.exceptions import InvalidInput, Problem

__all__ = [
    "MAX_DEPTH",
    "PLAIN_KEY",
    "SURROGATE",
    "canonical_json",
    "check_value",
    "loads",
    "loads_input",
]

#: The deepest nesting of objects and arrays accepted from outside (a bare record is level 1,
#: its ``properties`` level 2). Deep enough for any real record; shallow enough that every
#: recursive consumer (JSON Schema validation, the encoder) stays far from Python's limit.
MAX_DEPTH: Final = 64

_BOM: Final = "\ufeff"
_NOT_FINITE: Final = "number out of range or not a number"
_DUPLICATE: Final = "duplicate key"
_TOO_DEEP: Final = f"nested deeper than {MAX_DEPTH} levels"
_LONE_SURROGATE: Final = "contains a lone surrogate (not valid Unicode)"
#: A lone surrogate: a str holding one has no UTF-8 form.
SURROGATE: Final = re.compile("[\ud800-\udfff]")
#: Keys safe to print in a problem's path; any other (an e-mail used as a key) shows as [?].
PLAIN_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class _Duplicate(Exception):  # an internal signal: never escapes this module
    """Raised by the input decoder's object hook; the slow path then locates the key."""


def _refuse_constant(_name: str) -> Any:
    raise _invalid("$", _NOT_FINITE)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: the literal is JSON, but infinity is no value a record holds
        raise _invalid("$", _NOT_FINITE)
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _Duplicate
    return found


# Built once: json.dumps / json.loads with any option build a new encoder / decoder per call,
# which costs as much as encoding or decoding a small record (bulk ingest does both per line).
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite)
_INPUT_DECODER: Final = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_float=_finite, object_pairs_hook=_unique
)


class _Pairs(list[tuple[str, Any]]):
    """An object as decoded on the slow path that locates a duplicate key."""


_PAIRS_DECODER: Final = json.JSONDecoder(object_pairs_hook=_Pairs)


def canonical_json(value: Any) -> bytes:
    r"""Encode ``value`` as canonical JSON bytes: sorted keys, no spaces, UTF-8, no NaN.

    A string with a lone surrogate (``"\ud800"``) has no UTF-8 form: :class:`InvalidInput`.
    Public entry points refuse such values up front (``schema.py``), so this is the backstop.
    """
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            "not Unicode text", [Problem(where="$", what="holds a lone surrogate")]
        ) from None


def loads(data: bytes | bytearray | str) -> Any:
    """Decode JSON, refusing numbers that are not finite (1e400, NaN, Infinity).

    Accepts what :func:`json.loads` accepts (bytes in UTF-8, -16 or -32; a str without a BOM)
    and raises the same errors (``ValueError``s); a number that is not finite is an
    :class:`InvalidInput` (a ``ValueError`` too), since no record may hold one.
    """
    if isinstance(data, str):
        if data.startswith(_BOM):
            msg = "Unexpected UTF-8 BOM (decode using utf-8-sig)"
            raise json.JSONDecodeError(msg, data, 0)
        return _DECODER.decode(data)
    if isinstance(data, (bytes, bytearray)):
        # A JSON object in UTF-8 starts with "{" and no NUL; detect_encoding says "utf-8" then.
        utf8 = data[:1] == b"{" and data[1:2] != b"\x00"
        encoding = "utf-8" if utf8 else json.detect_encoding(data)
        return _DECODER.decode(data.decode(encoding, "surrogatepass"))
    return json.loads(data)  # type: ignore[unreachable]  # json's TypeError for anything else


def loads_input(data: bytes | str) -> Any:
    """Decode one JSON text from outside; :class:`InvalidInput` says what is wrong, never a value.

    Bytes must be UTF-8 (a leading byte-order mark is allowed). Refused besides invalid JSON:
    duplicate keys at any level (the problem names the key's path), nesting deeper than
    :data:`MAX_DEPTH`, lone surrogates (as escapes or raw), numbers that are not finite (1e400,
    NaN, Infinity).
    """
    if isinstance(data, str):
        text = data
        if not text.isascii() and SURROGATE.search(text):
            raise _invalid("$", _LONE_SURROGATE)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid("$", "not valid UTF-8") from None
    text = text.removeprefix(_BOM)
    try:
        value = _INPUT_DECODER.decode(text)
    except _Duplicate:
        raise _invalid(*_locate_duplicate(text)) from None
    except InvalidInput:
        raise  # a number that is not finite
    except RecursionError:
        raise _invalid("$", _TOO_DEEP) from None
    except ValueError:
        raise _invalid("$", "not valid JSON") from None
    # Both checks walk the value, so run them only when the text could fail them: nesting
    # needs brackets, a lone surrogate that got this far needs a \u escape.
    if text.count("[") + text.count("{") > MAX_DEPTH or "\\u" in text:
        check_value(value)
    return value


def check_value(value: object, *, where: str = "$") -> None:
    """Check that ``value`` is JSON that a record may hold; :class:`InvalidInput` if not.

    JSON types only (dict with str keys, list, str, int, float, bool, None), finite floats,
    integers that print (Python's digit limit), no lone surrogate in any string or key,
    nesting at most :data:`MAX_DEPTH` deep (which also refuses a value that contains itself).
    """
    what = _check(value)
    if what is not None:
        raise _invalid(where, what)


def _check(value: object) -> str | None:
    # Iterative, so that depth is bounded by MAX_DEPTH rather than by Python's stack.
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            what = _TOO_DEEP if depth > MAX_DEPTH else _push_children(item, depth, stack)
        else:
            what = _scalar_problem(item)
        if what is not None:
            return what
    return None


def _push_children(
    item: dict[Any, Any] | list[Any], depth: int, stack: list[tuple[object, int]]
) -> str | None:
    if isinstance(item, list):
        stack.extend((child, depth + 1) for child in item)
        return None
    for key, child in item.items():
        if not isinstance(key, str):
            return "object keys must be strings"
        stack.append((key, depth))
        stack.append((child, depth + 1))
    return None


def _scalar_problem(item: object) -> str | None:
    if isinstance(item, str):
        return _LONE_SURROGATE if not item.isascii() and SURROGATE.search(item) else None
    if item is None or isinstance(item, bool):
        return None
    if isinstance(item, int):
        fits = item.bit_length() <= 64 or _prints(item)  # noqa: PLR2004 (a machine word)
        return None if fits else "integer too long"
    if isinstance(item, float):
        return None if math.isfinite(item) else "not a finite number"
    return "not a JSON value (object, array, string, number, boolean or null)"


def _prints(number: int) -> bool:
    # The decoder and the encoder both refuse integers beyond Python's digit limit.
    try:
        str(number)
    except ValueError:
        return False
    return True


def _locate_duplicate(text: str) -> tuple[str, str]:
    # The slow path, for the error message only: decode again keeping every pair, then find
    # the first duplicate in document order. The first decode stopped at the duplicate, so
    # the rest of the text may still be too deep or not JSON at all.
    try:
        stack: list[tuple[object, str]] = [(_PAIRS_DECODER.decode(text), "$")]
    except RecursionError:
        return "$", _TOO_DEEP
    except ValueError:
        return "$", "not valid JSON"
    while stack:
        item, path = stack.pop()
        children: list[tuple[object, str]] = []
        if isinstance(item, _Pairs):
            seen: set[str] = set()
            for key, child in item:
                where = path + (f".{key}" if PLAIN_KEY.fullmatch(key) else "[?]")
                if key in seen:
                    return where, _DUPLICATE
                seen.add(key)
                children.append((child, where))
        elif isinstance(item, list):
            children = [(child, f"{path}[{i}]") for i, child in enumerate(item)]
        stack.extend(reversed(children))
    return "$", _DUPLICATE  # unreachable: the first decode found one


def _invalid(where: str, what: str) -> InvalidInput:
    return InvalidInput("invalid JSON", [Problem(where=where, what=what)])


def b64url(data: bytes) -> str:
    """``data`` as unpadded base64url (the spelling tokens and cookies use)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes | None:
    """The bytes of canonical unpadded base64url ``text``; None for any other spelling.

    Only the one spelling :func:`b64url` gives is accepted: the decoder alone skips characters
    outside the alphabet and ignores a last character's unused bits, so several spellings of
    one tag would verify and a tampered token would still be accepted.
    """
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if b64url(raw) == text else None
