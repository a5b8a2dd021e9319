"""How personalization reads a subject on a request path: one store read after the lookup."""

from __future__ import annotations

from typing import Any, Final

from personakit._vault import names_a_pseudonym, valid_subject_id
from personakit.consent import ConsentGate
from personakit.personalization._keeper import KIND, NAME
from personakit.personalization._state import SubjectState
from personakit.profiles import TRAITS_RECORD, IdentityIndex, trait_values

__all__ = ["SubjectReader"]

_STATE_RECORD: Final = ((KIND, NAME),)
_WITH_TRAITS: Final = ((KIND, NAME), TRAITS_RECORD)


class SubjectReader:
    """(pseudonym, allowed, state) of a subject, with as few store reads as can be.

    The existence of a pseudonym, the ``personalization`` consent verdict (restriction
    included) and the aggregates record are read in one store read (:class:`ConsentGate`); a
    host identifier (``customer:42``) costs its index lookup first. The aggregates record is
    decrypted only when the verdict allows. Nothing is cached between calls: a withdrawal or
    restriction written by another process is seen by the next read. Without a gate (the
    purpose is not in the manifest, or personalization is off) no subject is ever allowed.
    """

    def __init__(self, identity: IdentityIndex, gate: ConsentGate | None) -> None:
        """Read through ``identity`` and ``gate``."""
        self._identity = identity
        self._gate = gate

    def __repr__(self) -> str:
        """Render with the gate."""
        return f"SubjectReader({self._gate!r})"

    def read(
        self, subject: str, *, traits: bool = False
    ) -> tuple[str | None, bool, SubjectState | None, dict[str, Any] | None]:
        """(pseudonym or None, whether its data may be used now, its state, its traits).

        The state and traits only if the data may be used. ``traits`` adds the traits record
        to the same store read (for a placement whose rules read traits); without it the
        fourth value is None (traits are read when a rule asks).
        """
        gate = self._gate
        if gate is None:
            return self._identity.lookup(subject), False, None, None
        records = _WITH_TRAITS if traits else _STATE_RECORD
        if names_a_pseudonym(subject):
            if not valid_subject_id(subject):
                return None, False, None, None
            meta = IdentityIndex.meta_key(subject)
            read = gate.read(subject, records, (meta,))
            if meta not in read.plain:  # as IdentityIndex.lookup: no such subject
                return None, False, None, None
            found: str | None = subject
        else:
            found = self._identity.lookup(subject)
            if found is None:
                return None, False, None, None
            read = gate.read(found, records)
        if not read.allowed:
            return found, False, None, None
        raw = read.records.get(_STATE_RECORD[0])
        state = None if raw is None else SubjectState.from_bytes(raw)
        values = trait_values(read.records.get(TRAITS_RECORD)) if traits else None
        return found, True, state, values
