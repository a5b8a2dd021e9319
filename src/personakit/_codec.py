"""Canonical JSON: one byte representation per value, so hashes and MACs are reproducible."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json", "loads"]


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Decode JSON, refusing the non-standard NaN / Infinity literals."""
    return json.loads(data, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    msg = f"non-standard JSON constant {name}"
    raise ValueError(msg)
