"""The lawful-basis rule: which purposes may use a subject's data *now*.

Contract and legal-obligation purposes always have a basis; legitimate interest unless the
subject objected; consent only while given (and not expired, restricted or withdrawn). The
guard of :class:`~personakit.consent.ConsentManager` answers for a known subject; a subject
that does not exist yet has no ledger, so only the purposes that need no consent qualify.

Ingest, traits, the withdrawal cascade and every later capability ask this one rule, injected
where needed, instead of each keeping a copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from personakit.consent._manifest import Manifest

__all__ = ["BasisRule", "ConsentGuard"]


class ConsentGuard(Protocol):
    """**Protocol**: the part of the consent manager the rule needs."""

    def allowed(self, subject: str, purpose: str) -> bool:
        """Whether ``purpose`` may process ``subject``'s data now."""
        ...


class BasisRule:
    """Answers "which of these purposes may use this subject's data now" from one place."""

    def __init__(self, manifest: Manifest, guard: ConsentGuard) -> None:
        """Ask ``guard`` for known subjects; purposes and categories come from ``manifest``."""
        self.manifest = manifest
        self._guard = guard
        # category -> purposes that use it, in manifest order (the manifest is immutable).
        self._using: dict[str, tuple[str, ...]] = {}
        for purpose in manifest.purposes:
            for category in purpose.data_categories:
                self._using[category] = (*self._using.get(category, ()), purpose.id)

    def __repr__(self) -> str:
        """Render with the number of purposes."""
        return f"BasisRule(purposes={len(self.manifest.purposes)})"

    def without_consent(self, purposes: Iterable[str]) -> tuple[str, ...]:
        """The purposes among ``purposes`` that need no consent (for a subject with no ledger).

        Contract / legal obligation always, legitimate interest (no objection can exist yet),
        never consent; unknown purposes never.
        """
        return tuple(
            p
            for p in purposes
            if (found := self.manifest.get_purpose(p)) is not None and not found.needs_consent
        )

    def purposes_with_basis(self, subject: str | None, purposes: Iterable[str]) -> tuple[str, ...]:
        """The purposes among ``purposes`` with a lawful basis for ``subject`` now.

        ``subject`` None means one not created yet (see :meth:`without_consent`).
        """
        if subject is None:
            return self.without_consent(purposes)
        return tuple(p for p in purposes if self._guard.allowed(subject, p))

    def purposes_using(self, category: str) -> tuple[str, ...]:
        """The purposes whose manifest entry uses data ``category``."""
        return self._using.get(category, ())

    def may_store_category(self, subject: str, category: str) -> bool:
        """Whether some purpose using ``category`` has a lawful basis for ``subject`` now."""
        return bool(self.purposes_with_basis(subject, self.purposes_using(category)))

    def covered_without(self, subject: str, category: str, purpose: str) -> bool:
        """Whether ``category`` keeps a basis for ``subject`` once ``purpose`` loses its own.

        The withdrawal cascade keeps a trait only when another purpose using its category
        still has a basis.
        """
        others = [p for p in self.purposes_using(category) if p != purpose]
        return bool(self.purposes_with_basis(subject, others))
