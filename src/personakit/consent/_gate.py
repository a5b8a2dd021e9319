"""One store read for a request path: the consent verdict and the data it guards, together.

A capability that answers a request from a subject's sealed records for one purpose (the
personalization decision) needs the verdict first and the records only if it allows. Three
reads (existence, verdict, data) cost three round trips; :class:`ConsentGate` fetches the
consent state, the restriction record when the verdict needs it, the records and any plain keys
in one ``store.get_many``, then decrypts the records only when the verdict allows. The verdict
is exactly :meth:`ConsentManager.allowed`'s (same state record, same evaluation, same clock),
and it is read in the same store read as the data, so nothing cached in the process can make
it stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from personakit._clock import Clock
from personakit._vault import Vault
from personakit.consent._manifest import Manifest
from personakit.consent._records import to_micros
from personakit.consent._state import (
    RESTRICTION_KIND,
    RESTRICTION_NAME,
    STATE_KIND,
    decode_state,
    evaluate,
)
from personakit.exceptions import InvalidInput, Problem

__all__ = ["ConsentGate", "GateRead"]

_NOTHING: Final[dict[tuple[str, str], bytes]] = {}


class GateRead:
    """What :meth:`ConsentGate.read` found: the verdict, the opened records, the plain values."""

    __slots__ = ("allowed", "plain", "records")

    def __init__(
        self, *, allowed: bool, records: dict[tuple[str, str], bytes], plain: dict[str, bytes]
    ) -> None:
        """Hold the three parts (records is empty unless ``allowed``)."""
        self.allowed = allowed
        self.records = records
        self.plain = plain

    def __repr__(self) -> str:
        """Render without any value."""
        return f"GateRead(allowed={self.allowed}, records={sorted(self.records)!r})"


class ConsentGate:
    """Reads one subject's records for ``purpose`` with its verdict, in one store read."""

    def __init__(self, *, vault: Vault, manifest: Manifest, clock: Clock, purpose: str) -> None:
        """Bind to the kit's vault, manifest and clock; ``purpose`` must be in the manifest."""
        found = manifest.get_purpose(purpose) if isinstance(purpose, str) else None
        if found is None:
            raise InvalidInput(
                "unknown purpose", [Problem(where="purpose", what="not a purpose in the manifest")]
            )
        self._vault = vault
        self._manifest = manifest
        self._clock = clock
        self._purpose = found
        self._guarded = found.needs_consent or found.objectable
        # Only a legitimate-interest purpose with no state record needs the subject-level
        # restriction record (as ConsentManager.allowed does, see its _verdict).
        self._needs_restriction = self._guarded and not found.needs_consent

    def __repr__(self) -> str:
        """Render with the purpose."""
        return f"ConsentGate(purpose={self._purpose.id!r})"

    def read(
        self, subject: str, records: Sequence[tuple[str, str]], plain: Sequence[str] = ()
    ) -> GateRead:
        """The verdict, the records ``(kind, name)`` if it allows, ``plain`` keys: one read.

        ``plain`` are store keys returned as stored (the present ones). ``subject`` must be a
        valid pseudonym (else :class:`InvalidInput`). Records are decrypted only when the
        verdict allows; an absent record is absent from the answer.
        """
        key = self._vault.key
        state_key = key(subject, STATE_KIND, self._purpose.id) if self._guarded else None
        wanted = [key(subject, kind, name) for kind, name in records]
        keys = [*plain, *wanted]
        if state_key is not None:
            keys.append(state_key)
        restriction_key = None
        if self._needs_restriction:
            restriction_key = key(subject, RESTRICTION_KIND, RESTRICTION_NAME)
            keys.append(restriction_key)
        found = self._vault.store.get_many(keys)
        values = {k: found[k] for k in plain if k in found}
        if state_key is not None and not self._allowed(subject, found, state_key, restriction_key):
            return GateRead(allowed=False, records=_NOTHING, plain=values)
        opened: dict[tuple[str, str], bytes] = {}
        open_record = self._vault.keyring.open
        for (kind, name), record_key in zip(records, wanted, strict=True):
            sealed = found.get(record_key)
            if sealed is not None:
                opened[(kind, name)] = open_record(subject, kind, name, sealed)
        return GateRead(allowed=True, records=opened, plain=values)

    def _allowed(
        self, subject: str, found: dict[str, bytes], state_key: str, restriction_key: str | None
    ) -> bool:
        sealed = found.get(state_key)
        raw = (
            None
            if sealed is None
            else self._vault.keyring.open(subject, STATE_KIND, self._purpose.id, sealed)
        )
        state, restricted = decode_state(raw)
        if state is None and not restricted and restriction_key is not None:
            restricted = restriction_key in found
        if restricted:
            return False
        return evaluate(self._manifest, self._purpose, state, to_micros(self._clock.now()))[1]
