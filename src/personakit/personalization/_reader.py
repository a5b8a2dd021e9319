"""How personalization reads a subject on a request path: one store read after the lookup."""

from __future__ import annotations

from typing import Final

from personakit._vault import names_a_pseudonym, valid_subject_id
from personakit.consent import ConsentGate
from personakit.personalization._keeper import KIND, NAME
from personakit.personalization._state import SubjectState
from personakit.profiles import IdentityIndex

__all__ = ["SubjectReader"]

_STATE_RECORD: Final = ((KIND, NAME),)


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

    def read(self, subject: str) -> tuple[str | None, bool, SubjectState | None]:
        """(pseudonym or None, whether its data may be used now, its state if so)."""
        gate = self._gate
        if gate is None:
            return self._identity.lookup(subject), False, None
        if names_a_pseudonym(subject):
            if not valid_subject_id(subject):
                return None, False, None
            meta = IdentityIndex.meta_key(subject)
            read = gate.read(subject, _STATE_RECORD, (meta,))
            if meta not in read.plain:  # as IdentityIndex.lookup: no such subject
                return None, False, None
            found: str | None = subject
        else:
            found = self._identity.lookup(subject)
            if found is None:
                return None, False, None
            read = gate.read(found, _STATE_RECORD)
        if not read.allowed:
            return found, False, None
        raw = read.records.get(_STATE_RECORD[0])
        return found, True, None if raw is None else SubjectState.from_bytes(raw)
