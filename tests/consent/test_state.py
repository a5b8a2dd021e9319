"""The compact consent state: named fields over the same bytes earlier versions wrote."""

from __future__ import annotations

import attrs
import pytest

from personakit import IntegrityError
from personakit.consent._state import RESTRICTED_ONLY, PurposeState, decode_state

# Written by the list-based codec this class replaced: stores holding them must still read.
GRANT = b"c1|given|1767225600000000|1782777600000000|privacy_notice|2026-01|0000000003.cr_abc|explicit|1"
REFUSAL = b"c1|refused|1767225600000001||||0000000004.cr_def|gpc|0"


@pytest.mark.parametrize("raw", [GRANT, REFUSAL])
@pytest.mark.parametrize("restricted", [False, True])
def test_stored_bytes_read_and_write_back_unchanged(raw: bytes, restricted: bool) -> None:
    """Decoding then encoding gives back the very bytes, with or without the Art. 18 flag."""
    stored = raw + b"|R" if restricted else raw
    state, flagged = decode_state(stored)
    assert state is not None
    assert flagged is restricted
    assert state.to_bytes(restricted=restricted) == stored


def test_fields_have_names_and_types() -> None:
    """Each position of the old list is a typed field; empty fields read as None."""
    grant, _ = decode_state(GRANT)
    assert grant == PurposeState(
        status="given",
        occurred=1767225600000000,
        expires=1782777600000000,
        notice="privacy_notice",
        version="2026-01",
        name="0000000003.cr_abc",
        method="explicit",
        confirmed=True,
    )
    assert grant.record_id == "cr_abc"
    refusal, _ = decode_state(REFUSAL)
    assert refusal is not None
    assert (refusal.expires, refusal.notice, refusal.version, refusal.negative) == (
        None,
        None,
        None,
        True,
    )


def test_flag_only_and_missing_records() -> None:
    """No record: no decision; ``r1``: no decision, restricted."""
    assert decode_state(None) == (None, False)
    assert decode_state(RESTRICTED_ONLY) == (None, True)


@pytest.mark.parametrize("raw", [b"c2|given", b"c1|given|1", GRANT + b"|X"])
def test_unknown_formats_are_integrity_errors(raw: bytes) -> None:
    """Bytes in no known format raise IntegrityError, never a half-read state."""
    with pytest.raises(IntegrityError):
        decode_state(raw)


def test_a_field_with_the_separator_cannot_be_written() -> None:
    """The separator inside a field would shift every later field: refuse to write it."""
    state, _ = decode_state(GRANT)
    assert state is not None
    with pytest.raises(ValueError, match="separator"):
        attrs.evolve(state, method="a|b").to_bytes()
