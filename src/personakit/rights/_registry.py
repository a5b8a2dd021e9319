"""Where components plug into export and erasure: exporters per record kind, contribution removers.

Export and erasure work over a subject's vault records generically (everything under
``s/<subject>/``), so a component that adds a record kind is exported and erased without
registering anything: an unregistered kind appears in the export's ``other_records`` section
(decrypted JSON, or base64), and erasure deletes the whole prefix. A component registers

* an **exporter** when its records deserve a readable section of their own (``traits``,
  ``events``, ``derived_data.affinities``, …), and
* a **contribution remover** when it keeps data *outside* the subject's prefix that the subject
  contributed to (co-occurrence counts, popularity, segment member lists): erasure calls it to
  take the subject's share out.

Components that keep a kind of record register it once, as a
:class:`~personakit.workflows.RecordKind` in ``kit.registries.record_kinds`` (with its own
exporter and, for shared state, its remover); this registry reads those too, so a kind
registered there is exported and erased without a second registration here.

The registry is per kit (``kit.rights.registry``); there is no global state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from attrs import frozen

from personakit.exceptions import InvalidInput, Problem
from personakit.workflows import (
    ContributionRemover,
    ExportRecord,
    RecordExporter,
    RecordKinds,
)

__all__ = [
    "TOP_LEVEL_SECTIONS",
    "ContributionRemover",
    "ExportRecord",
    "RecordExporter",
    "RightsRegistry",
]

#: Export sections that sit at the top of the document; any other section an exporter names
#: goes under ``derived_data``.
TOP_LEVEL_SECTIONS: Final = frozenset({"profile", "identifiers", "traits", "events", "consent"})

_SECTION_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
_KIND_RE: Final = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


@frozen(kw_only=True)
class _Exporter:
    section: str
    kinds: tuple[str, ...]
    exporter: RecordExporter


class RightsRegistry:
    """Per-kit registrations of exporters (by record kind) and contribution removers (by name)."""

    def __init__(self, kinds: RecordKinds | None = None) -> None:
        """Start empty (the rights service registers the built-in sections).

        ``kinds`` is the kit's record-kind registry: its kinds' own exporters and removers
        are listed here as well.
        """
        self._kinds = kinds
        self._by_kind: dict[str, _Exporter] = {}
        self._by_section: dict[str, _Exporter] = {}
        self._removers: dict[str, ContributionRemover] = {}

    def __repr__(self) -> str:
        """Render with what is registered."""
        sections = {name: list(e.kinds) for name, e in sorted(self._by_section.items())}
        return f"RightsRegistry(exporters={sections!r}, removers={sorted(self._removers)!r})"

    def register_exporter(
        self,
        section: str,
        exporter: RecordExporter,
        *,
        kinds: str | Iterable[str] | None = None,
        replace: bool = False,
    ) -> None:
        """Export the records of ``kinds`` (default: the kind named ``section``) as ``section``.

        ``profile``, ``identifiers``, ``traits``, ``events`` and ``consent`` are top-level
        sections of the export; any other name becomes ``derived_data.<section>``. Each kind
        belongs to one section. ``replace=True`` replaces an existing registration of the same
        section (e.g. a component that owns ``traits`` swapping in its own exporter).

        Raises :class:`InvalidInput` listing every problem (bad names, a kind already
        exported by another section, a section taken without ``replace``).
        """
        problems: list[Problem] = []
        if not isinstance(section, str) or not _SECTION_RE.fullmatch(section):
            problems.append(Problem(where="section", what="must match [a-z][a-z0-9_]{0,63}"))
        wanted = (section,) if kinds is None else (kinds,) if isinstance(kinds, str) else kinds
        listed = tuple(dict.fromkeys(wanted))
        previous = self._by_section.get(section) if isinstance(section, str) else None
        if previous is not None and not replace:
            problems.append(Problem(where="section", what="already registered (replace=True)"))
        problems.extend(self._kind_problems(section, listed))
        candidate: object = exporter  # callers without a type checker can pass anything
        if not callable(candidate):
            problems.append(Problem(where="exporter", what="must be callable"))
        if problems:
            raise InvalidInput("cannot register exporter", problems)
        if previous is not None:
            for kind in previous.kinds:
                self._by_kind.pop(kind, None)
        entry = _Exporter(section=section, kinds=listed, exporter=exporter)
        self._by_section[section] = entry
        for kind in listed:
            self._by_kind[kind] = entry

    def _kind_problems(self, section: str, kinds: tuple[str, ...]) -> list[Problem]:
        if not kinds:
            return [Problem(where="kinds", what="must name at least one record kind")]
        problems = []
        for index, kind in enumerate(kinds):
            owner = self._by_kind.get(kind) if isinstance(kind, str) else None
            if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind):
                problems.append(Problem(where=f"kinds[{index}]", what="not a record kind"))
            elif owner is not None and owner.section != section:
                problems.append(
                    Problem(where=f"kinds[{index}]", what="already exported by another section")
                )
        return problems

    def unregister_exporter(self, section: str) -> bool:
        """Remove a section's exporter (its kinds fall back to ``other_records``)."""
        entry = self._by_section.pop(section, None)
        if entry is None:
            return False
        for kind in entry.kinds:
            self._by_kind.pop(kind, None)
        return True

    def exporters(self) -> list[tuple[str, tuple[str, ...], RecordExporter]]:
        """``(section, kinds, exporter)`` for every registration, sorted by section.

        Record kinds that export their own section are included, unless this registry
        already exports that kind (an explicit registration here wins).
        """
        listed = [(e.section, e.kinds, e.exporter) for e in self._by_section.values()]
        if self._kinds is not None:
            listed.extend(
                (section, (kind,), exporter)
                for section, kind, exporter in self._kinds.exporters()
                if kind not in self._by_kind and section not in self._by_section
            )
        return sorted(listed, key=lambda entry: entry[0])

    def section_of(self, kind: str) -> str | None:
        """The section that exports ``kind``, or None (it goes to ``other_records``)."""
        entry = self._by_kind.get(kind)
        if entry is not None:
            return entry.section
        for section, name, _ in self._kinds.exporters() if self._kinds is not None else ():
            if name == kind and section not in self._by_section:
                return section
        return None

    def register_remover(self, name: str, remover: ContributionRemover) -> None:
        """Register component ``name``'s :class:`ContributionRemover` for erasure.

        Its count appears in the erasure receipt as ``contribution:<name>``. Raises
        :class:`InvalidInput` for a malformed or taken name or a non-callable.
        """
        problems: list[Problem] = []
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            problems.append(Problem(where="name", what="must match [a-z][a-z0-9_.-]{0,63}"))
        elif name in self._removers:
            problems.append(Problem(where="name", what="already registered"))
        candidate: object = remover
        if not callable(candidate):
            problems.append(Problem(where="remover", what="must be callable"))
        if problems:
            raise InvalidInput("cannot register contribution remover", problems)
        self._removers[name] = remover

    def unregister_remover(self, name: str) -> bool:
        """Remove a remover; return whether there was one."""
        return self._removers.pop(name, None) is not None

    def removers(self) -> list[tuple[str, ContributionRemover]]:
        """``(name, remover)`` for every remover, in name order (the order erasure runs them).

        Shared record kinds' removers are included under the kind's name.
        """
        listed = dict(self._removers)
        if self._kinds is not None:
            for name, remover in self._kinds.removers():
                listed.setdefault(name, remover)
        return sorted(listed.items())
