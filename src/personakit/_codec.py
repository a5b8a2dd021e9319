"""Canonical JSON: one byte representation per value, so hashes and MACs are reproducible."""

from __future__ import annotations

import json
from typing import Any, Final

from personakit.exceptions import InvalidInput, Problem

__all__ = ["canonical_json", "loads"]


def _refuse_constant(name: str) -> Any:
    msg = f"non-standard JSON constant {name}"
    raise ValueError(msg)


# Built once: json.dumps / json.loads with any option build a new encoder / decoder per call,
# which costs as much as encoding or decoding a small record (bulk ingest does both per line).
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant)


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
    """Decode JSON, refusing the non-standard NaN / Infinity literals.

    Accepts what :func:`json.loads` accepts (bytes in UTF-8, -16 or -32; a str without a BOM)
    and raises the same errors.
    """
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            msg = "Unexpected UTF-8 BOM (decode using utf-8-sig)"
            raise json.JSONDecodeError(msg, data, 0)
        return _DECODER.decode(data)
    if isinstance(data, (bytes, bytearray)):
        # A JSON object in UTF-8 starts with "{" and no NUL; detect_encoding says "utf-8" then.
        utf8 = data[:1] == b"{" and data[1:2] != b"\x00"
        encoding = "utf-8" if utf8 else json.detect_encoding(data)
        return _DECODER.decode(data.decode(encoding, "surrogatepass"))
    return json.loads(data)  # type: ignore[unreachable]  # json's TypeError for anything else
