"""Encrypted subject records: the layer every component stores personal data through.

A record is addressed by ``(subject, kind, name)`` and lives at ``s/<subject>/<kind>/<name>``
in the data store, sealed with the subject's data key (the associated data binds all three).
Keeping a subject's records under one prefix makes reading, exporting and erasing a subject
cost O(that subject), never O(store).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final, TypeGuard

from personakit._codec import canonical_json, loads
from personakit._ids import new_id
from personakit.crypto import Keyring
from personakit.exceptions import IntegrityError, InvalidInput, Problem
from personakit.storage import Store

__all__ = [
    "SUBJECT_PREFIX",
    "Vault",
    "check_subject",
    "names_a_pseudonym",
    "new_subject_id",
    "valid_subject_id",
]

SUBJECT_PREFIX: Final = "s/"
_PSEUDONYM_PREFIX: Final = "sub_"
_SUBJECT_RE: Final = re.compile(r"sub_[a-z2-7]{26}")
_PART_RE: Final = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_NAME_RE: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# The three above in one pattern over the record key's tail: one regex call for a valid address.
_ADDRESS_RE: Final = re.compile(rf"{_SUBJECT_RE.pattern}/{_PART_RE.pattern}/{_NAME_RE.pattern}")


def new_subject_id() -> str:
    """A fresh pseudonym: ``sub_`` and 26 base32 characters (130 random bits)."""
    return new_id(_PSEUDONYM_PREFIX)


def valid_subject_id(subject: object) -> bool:
    """Whether ``subject`` has the form of a personakit pseudonym."""
    return isinstance(subject, str) and _SUBJECT_RE.fullmatch(subject) is not None


def check_subject(subject: object, *, where: str = "subject") -> str:
    """``subject`` if it is a pseudonym (``sub_…``); :class:`InvalidInput` otherwise."""
    if not valid_subject_id(subject):
        raise InvalidInput(
            "invalid subject", [Problem(where=where, what="not a subject pseudonym (sub_…)")]
        )
    return subject  # type: ignore[return-value]  # valid_subject_id checked it is a str


def names_a_pseudonym(text: object) -> TypeGuard[str]:
    """Whether ``text`` is meant as a pseudonym (``sub_…``) rather than a host identifier.

    Host identifiers are ``kind:value`` and no kind is ``sub_…``, so the prefix decides; the
    form may still be wrong, which :func:`valid_subject_id` checks.
    """
    return isinstance(text, str) and text.startswith(_PSEUDONYM_PREFIX)


class Vault:
    """Seal and store, fetch and open the records of subjects."""

    def __init__(self, store: Store, keyring: Keyring) -> None:
        """Bind a data store and the keyring that holds its subjects' keys."""
        self.store = store
        self.keyring = keyring

    def __repr__(self) -> str:
        """Render with the store."""
        return f"Vault({self.store!r})"

    @staticmethod
    def key(subject: str, kind: str, name: str) -> str:
        """The store key of a record (validates every part)."""
        if type(subject) is not str or type(kind) is not str or type(name) is not str:
            # Checked before the memo, which would raise TypeError for unhashable input.
            raise InvalidInput(
                "invalid record address", [Problem(where="record", what="parts must be str")]
            )
        return _record_key(subject, kind, name)

    def put(self, subject: str, kind: str, name: str, plaintext: bytes) -> None:
        """Seal ``plaintext`` and store it."""
        key = self.key(subject, kind, name)
        self.store.put(key, self.keyring.seal(subject, kind, name, plaintext))

    def put_many(self, records: Sequence[tuple[str, str, str, bytes]]) -> None:
        """Seal and store several records ``(subject, kind, name, plaintext)`` in one write."""
        keys = [self.key(s, k, n) for s, k, n, _ in records]  # validated before any key is made
        # Every missing data key in one key-store read (and new ones in one transaction), not
        # one round trip per subject: at shop scale most of a batch's keys are not cached.
        self.keyring.load_keys({s for s, _, _, _ in records}, create=True)
        seal = self.keyring.seal
        self.store.put_many(
            [
                (key, seal(s, k, n, plaintext))
                for key, (s, k, n, plaintext) in zip(keys, records, strict=True)
            ]
        )

    def get(self, subject: str, kind: str, name: str) -> bytes | None:
        """Fetch and open a record, or None if absent."""
        sealed = self.store.get(self.key(subject, kind, name))
        if sealed is None:
            return None
        return self.keyring.open(subject, kind, name, sealed)

    def get_many(
        self, records: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], bytes]:
        """Fetch and open several records ``(subject, kind, name)`` in one store read."""
        keys = {self.key(*record): record for record in records}
        found = self.store.get_many(list(keys))
        self.keyring.load_keys({keys[key][0] for key in found})
        return {keys[key]: self.keyring.open(*keys[key], sealed) for key, sealed in found.items()}

    def put_json(self, subject: str, kind: str, name: str, value: Any) -> None:
        """Store a JSON value (canonical encoding)."""
        self.put(subject, kind, name, canonical_json(value))

    def get_json(self, subject: str, kind: str, name: str) -> Any:
        """Fetch a JSON value, or None if absent."""
        raw = self.get(subject, kind, name)
        return None if raw is None else loads(raw)

    def delete(self, subject: str, kind: str, name: str) -> bool:
        """Delete one record; return whether it existed."""
        return self.store.delete(self.key(subject, kind, name))

    def scan(
        self, subject: str, kind: str | None = None, *, prefix: str = ""
    ) -> Iterator[tuple[str, str, bytes]]:
        """Yield ``(kind, name, plaintext)`` for a subject's records (of one kind), in key order.

        ``prefix`` (with a ``kind`` only) keeps the records whose name starts with it.
        """
        check_subject(subject)
        for key, sealed in self.store.scan(self._prefix(subject, kind, prefix)):
            record_kind, _, name = key[len(SUBJECT_PREFIX) + len(subject) + 1 :].partition("/")
            if not name:
                raise IntegrityError("record key is not in personakit's format")
            yield record_kind, name, self.keyring.open(subject, record_kind, name, sealed)

    def names(self, subject: str, kind: str, *, prefix: str = "") -> list[str]:
        """The names of a subject's records of ``kind`` (starting with ``prefix``), in key order.

        Decrypts nothing.
        """
        start = len(SUBJECT_PREFIX) + len(subject) + len(kind) + 2
        return [key[start:] for key, _ in self.store.scan(self._prefix(subject, kind, prefix))]

    @staticmethod
    def _prefix(subject: str, kind: str | None, name_prefix: str) -> str:
        if not valid_subject_id(subject):
            msg = "not a subject pseudonym"
            raise ValueError(msg)
        if kind is None:
            if name_prefix:
                msg = "a name prefix needs a kind"
                raise ValueError(msg)
            return f"{SUBJECT_PREFIX}{subject}/"
        if type(kind) is not str or type(name_prefix) is not str:
            msg = "record keys are built from str parts"
            raise ValueError(msg)
        return f"{SUBJECT_PREFIX}{subject}/{kind}/{name_prefix}"

    def count(self, subject: str) -> dict[str, int]:
        """How many records of each kind a subject has (without decrypting anything)."""
        counts: dict[str, int] = {}
        for key, _ in self.store.scan(f"{SUBJECT_PREFIX}{subject}/"):
            kind = key[len(SUBJECT_PREFIX) + len(subject) + 1 :].partition("/")[0]
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def delete_subject(self, subject: str) -> int:
        """Delete every record of a subject; return how many (the key is shredded separately)."""
        check_subject(subject)
        return self.store.delete_prefix(f"{SUBJECT_PREFIX}{subject}/")


# Record keys are built on every read and write; the three regex checks cost as much as the
# AES-GCM decryption of a small record, so validated keys are memoized (bounded).
@functools.lru_cache(maxsize=65536)
def _record_key(subject: str, kind: str, name: str) -> str:
    tail = f"{subject}/{kind}/{name}"
    # No part's pattern admits a '/', so a match splits the tail exactly into the three parts.
    if _ADDRESS_RE.fullmatch(tail) is not None:
        return SUBJECT_PREFIX + tail
    check_subject(subject)
    if not _PART_RE.fullmatch(kind) or not _NAME_RE.fullmatch(name):
        raise InvalidInput(
            "invalid record address",
            [Problem(where="record", what="kind / name has characters outside the allowed set")],
        )
    return SUBJECT_PREFIX + tail
