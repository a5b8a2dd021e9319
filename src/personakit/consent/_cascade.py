"""The withdrawal cascade: derived data that must go when its purpose loses its lawful basis."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, Protocol, runtime_checkable

from personakit.consent._manifest import Manifest
from personakit.exceptions import InvalidInput, Problem

__all__ = ["CascadeRegistry", "DerivedDataEraser"]

_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


@runtime_checkable
class DerivedDataEraser(Protocol):
    """**Protocol**: deletes the data a component derived for one purpose about one subject.

    Called inside the store transaction that records the withdrawal (or refusal, objection or
    expiry), so its writes commit or roll back with it. It must delete, not hide, and raise if
    it cannot: an exception aborts the whole change, and nothing is recorded.
    """

    def __call__(self, subject: str) -> int:
        """Delete what was derived for ``subject``; return how many items were deleted."""
        ...


class CascadeRegistry:
    """Per-kit registry of erasers, by purpose and component name (no global state)."""

    def __init__(self, manifest: Manifest) -> None:
        """Start empty; purposes are checked against ``manifest``."""
        self._manifest = manifest
        self._erasers: dict[str, dict[str, DerivedDataEraser]] = {}
        self._restriction: dict[str, Callable[[str, bool], object]] = {}

    def __repr__(self) -> str:
        """Render with what is registered."""
        listed = {purpose: sorted(names) for purpose, names in self._erasers.items()}
        return f"CascadeRegistry({listed!r})"

    def register(self, purpose: str, name: str, eraser: DerivedDataEraser) -> None:
        """Register ``eraser`` as component ``name``'s deleter for ``purpose``.

        Raises :class:`InvalidInput` for an unknown purpose, a purpose that needs no consent
        and allows no objection, a malformed name, or a name already registered.
        """
        problems: list[Problem] = []
        found = self._manifest.get_purpose(purpose)
        if found is None:
            problems.append(Problem(where="purpose", what="not a purpose in the manifest"))
        elif not (found.needs_consent or found.objectable):
            problems.append(
                Problem(where="purpose", what="its lawful basis cannot be withdrawn or objected to")
            )
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            problems.append(Problem(where="name", what="must match [a-z][a-z0-9_.-]{0,63}"))
        elif name in self._erasers.get(purpose, {}):
            problems.append(Problem(where="name", what="already registered for this purpose"))
        candidate: object = eraser  # callers without a type checker can pass anything
        if not callable(candidate):
            problems.append(Problem(where="eraser", what="must be callable"))
        if problems:
            raise InvalidInput("cannot register eraser", problems)
        self._erasers.setdefault(purpose, {})[name] = eraser

    def unregister(self, purpose: str, name: str) -> bool:
        """Remove a registration; return whether there was one."""
        return self._erasers.get(purpose, {}).pop(name, None) is not None

    def names(self, purpose: str) -> list[str]:
        """Names of the components registered for ``purpose``, sorted."""
        return sorted(self._erasers.get(purpose, {}))

    def run(self, purpose: str, subject: str) -> dict[str, int]:
        """Run every eraser of ``purpose`` for ``subject`` (in name order); return the counts."""
        done: dict[str, int] = {}
        for name in self.names(purpose):
            count = self._erasers[purpose][name](subject)
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                msg = f"eraser {name!r} must return a count of deleted items"
                raise TypeError(msg)
            done[name] = count
        return done

    def on_restriction(self, name: str, listener: Callable[[str, bool], object]) -> None:
        """Call ``listener(subject, restricted)`` in the transaction that sets or lifts it.

        For derived state that restriction must stop using at once (an index of members).
        :class:`InvalidInput` for a malformed or taken name, or a listener that is not callable.
        """
        problems: list[Problem] = []
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            problems.append(Problem(where="name", what="must match [a-z][a-z0-9_.-]{0,63}"))
        elif name in self._restriction:
            problems.append(Problem(where="name", what="already registered"))
        candidate: object = listener
        if not callable(candidate):
            problems.append(Problem(where="listener", what="must be callable"))
        if problems:
            raise InvalidInput("cannot register restriction listener", problems)
        self._restriction[name] = listener

    def restriction_changed(self, subject: str, restricted: bool) -> None:  # noqa: FBT001
        """Run the restriction listeners (in name order); called by the restriction change."""
        for name in sorted(self._restriction):
            self._restriction[name](subject, restricted)
