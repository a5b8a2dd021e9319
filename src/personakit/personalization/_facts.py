"""What rules and segments may read about one subject at one moment.

The contract between the two halves of personalization: the state kept on ingest
(aggregates, affinities, segment index) answers it, and the condition language (JSON
segments and rules) reads only through it. Consent and restriction are applied before a
:class:`Facts` is built: a subject whose data may not be used for personalization is
answered with the facts of an unknown subject (``known`` is False, every field MISSING).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol, runtime_checkable

__all__ = ["MISSING", "Facts", "Missing"]


class Missing:
    """The type of :data:`MISSING`: a field that has no value for this subject."""

    __slots__ = ()

    def __repr__(self) -> str:
        """``MISSING``."""
        return "MISSING"

    def __bool__(self) -> bool:
        """Falsy, like an absent value."""
        return False


#: The value of a field the subject does not have (never None: None can be a stored value).
#: Compare with ``is``; there is one instance.
MISSING: Final = Missing()


@runtime_checkable
class Facts(Protocol):
    """**Protocol**: the readable view of one subject at ``now``, consent already applied.

    Field paths are ``traits.<name>`` (declared traits), ``aggregates.<name>`` (kept on ingest:
    ``first_seen``, ``last_seen``, ``last_purchase_at`` and ``cart_updated_at`` as aware
    datetimes; ``order_count``, ``monetary_cents``, ``cart_items``, ``cart_value_cents`` as ints;
    ``recent_items`` as a tuple of item ids, newest first) and ``context.<name>`` (what the
    caller passed: ``channel``, ``page``, ``locale``...).
    """

    @property
    def now(self) -> datetime:
        """The moment the facts are read at (aware, UTC)."""
        ...

    @property
    def known(self) -> bool:
        """Whether this is a known subject whose data may be used for personalization."""
        ...

    def field(self, path: str) -> object:
        """The value at ``path``, or :data:`MISSING`."""
        ...

    def in_segment(self, name: str) -> bool:
        """Whether the subject is in segment ``name`` now (unknown name: InvalidInput)."""
        ...

    def affinity_top(self, dimension: str, k: int) -> tuple[str, ...]:
        """The subject's top ``k`` values of ``dimension`` by decayed affinity, best first."""
        ...

    def has_consent(self, purpose: str) -> bool:
        """Whether the subject's data may be used for ``purpose`` now."""
        ...
