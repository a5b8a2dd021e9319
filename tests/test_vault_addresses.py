"""Record addresses: the one-pattern fast check accepts exactly what the three part checks do."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit._vault import Vault, new_subject_id
from personakit.exceptions import InvalidInput

_SUBJECT = re.compile(r"sub_[a-z2-7]{26}")
_KIND = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,128}")

# Text near the boundaries of the patterns: their own alphabets, '/', newlines, other letters.
_NEAR = st.text(alphabet="abcz27AZ09_.:-/\n\x00é", max_size=70)
_SUBJECTS = st.one_of(st.builds(new_subject_id), _NEAR.map(lambda t: "sub_" + t), st.text())
_PARTS = st.one_of(_NEAR, st.text(), st.sampled_from(["traits", "events", "a" * 64, "a" * 65]))
_NAMES = st.one_of(_NEAR, st.text(), st.sampled_from(["main", "x" * 128, "x" * 129]))


def _expected(subject: str, kind: str, name: str) -> str | None:
    if _SUBJECT.fullmatch(subject) and _KIND.fullmatch(kind) and _NAME.fullmatch(name):
        return f"s/{subject}/{kind}/{name}"
    return None


@settings(max_examples=400, deadline=None)
@given(subject=_SUBJECTS, kind=_PARTS, name=_NAMES)
def test_record_key_accepts_exactly_the_valid_addresses(subject: str, kind: str, name: str) -> None:
    """Property: a key is built iff every part matches its own pattern; else InvalidInput."""
    expected = _expected(subject, kind, name)
    if expected is None:
        with pytest.raises(InvalidInput):
            Vault.key(subject, kind, name)
    else:
        assert Vault.key(subject, kind, name) == expected


def test_a_slash_cannot_move_a_part_boundary() -> None:
    """A '/' inside a part never yields a key, even when the joined text would look valid."""
    subject = new_subject_id()
    for kind, name in [("traits/main", "x"), ("traits", "main/x"), ("a/b", "c")]:
        with pytest.raises(InvalidInput):
            Vault.key(subject, kind, name)
