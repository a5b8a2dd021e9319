"""Segment definitions kept in the store (``kit.personalization.defined``), for every process.

``personakit segments define FILE`` stores JSON segment definitions (the shipped
``segments.schema.json``) under one shared key, as canonical JSON, and audit-logs the SHA-256
of the whole stored set in the same transaction: an auditor can tell which definitions made a
membership. Every process's kit loads them: when it is built, at
:meth:`~personakit.personalization.Personalization.refresh` and at ``load_rules`` (never
inside a write transaction, where reading the shared key would lock it for every writer, as
journeys' definitions explain). A process that has not reloaded yet keeps the definitions it
read last: its event hooks evaluate those until its next reload.

Defining is all or nothing: the new documents are checked against the vocabulary (every
problem listed, with paths into the caller's document), then the whole stored set as it would
become is compiled again (a stored definition that reads a redefined one must still compile),
then each new predicate is probed; only then is the set written. A name another part of the
kit defines (a built-in, a host-defined or another capability's segment) is refused; a name
already stored is replaced. Removing refuses a segment another stored definition or the
current rule set reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from attrs import frozen

from personakit._codec import SURROGATE, canonical_json, loads
from personakit.audit import AuditLog
from personakit.exceptions import InvalidInput, Problem
from personakit.personalization._decide import as_segment
from personakit.personalization._index import INDEX_PREFIX
from personakit.personalization._segment_docs import (
    SegmentDefinition,
    compile_segment,
    compile_segments,
    json_problems,
)
from personakit.personalization._segments import Segment
from personakit.personalization._vocabulary import Vocabulary
from personakit.storage import Store

__all__ = ["DEFINITIONS", "DefineReport", "DefinedSegments"]

#: The shared key of the stored definitions (a JSON list, canonical form).
DEFINITIONS: Final = "x/personalization/definitions"
MAX_DEFINITIONS: Final = 256
_DEFINED: Final = "personalization.segments_defined"
_REMOVED: Final = "personalization.segment_removed"


@frozen(kw_only=True)
class DefineReport:
    """What a define or remove did (or, with ``dry_run``, would do)."""

    #: The names this call defined, replaced or removed, in document order.
    names: tuple[str, ...]
    #: The names of every stored definition after the call, in stored order.
    stored: tuple[str, ...]
    #: SHA-256 of the stored set's canonical JSON after the call (what the audit entry names).
    sha256: str
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON form."""
        return {
            "names": list(self.names),
            "stored": list(self.stored),
            "sha256": self.sha256,
            "dry_run": self.dry_run,
        }


class DefinedSegments:
    """The stored segment definitions of one kit; see the module doc.

    Wired by :class:`~personakit.personalization.Personalization` with callables over its
    state: ``vocabulary()`` (what conditions may name now), ``taken(name)`` (a segment this
    component does not own), ``install(segment)`` (define or replace), ``uninstall(name)``,
    ``probe(segment)`` (refuse a predicate that fails on an empty subject) and
    ``in_use(name)`` (the current rule set reads it).
    """

    def __init__(
        self,
        *,
        store: Store,
        audit: AuditLog,
        vocabulary: Callable[[], Vocabulary],
        taken: Callable[[str], bool],
        install: Callable[[Segment], None],
        uninstall: Callable[[str], None],
        probe: Callable[[Segment], None],
        in_use: Callable[[str], bool],
    ) -> None:
        """Wire the component (nothing is read until :meth:`reload`)."""
        self._store = store
        self._audit = audit
        self._vocabulary = vocabulary
        self._taken = taken
        self._install = install
        self._uninstall = uninstall
        self._probe = probe
        self._in_use = in_use
        self._raw: bytes | None = None
        #: Installed name -> the canonical JSON of its definition.
        self._installed: dict[str, bytes] = {}

    def __repr__(self) -> str:
        """Render with the installed names."""
        return f"DefinedSegments({sorted(self._installed)!r})"

    def names(self) -> list[str]:
        """The stored definitions this process has installed, sorted."""
        return sorted(self._installed)

    def documents(self) -> list[dict[str, Any]]:
        """The stored definitions as JSON documents, in stored order (read now)."""
        raw = self._store.get(DEFINITIONS)
        return [] if raw is None else _documents(raw)

    def reload(self) -> list[str]:
        """Install what the store holds now (outside transactions); return the names installed.

        A stored definition that no longer compiles here (it names a segment of a capability
        this process does not wire) is left out rather than stopping the others. A removed
        one the current rule set reads stays until rules that do not read it are loaded.
        """
        raw = self._store.get(DEFINITIONS)
        if raw == self._raw:
            return self.names()
        wanted = _documents(raw) if raw is not None else []
        vocab = self._vocabulary().without_segments(self._installed)
        compiled: list[tuple[SegmentDefinition, bytes]] = []
        for document in wanted:
            try:
                definition = compile_segment(document, vocab)
            except InvalidInput:
                continue
            if self._taken(definition.name):
                continue
            compiled.append((definition, canonical_json(document)))
            vocab = vocab.with_segments({definition.name: definition.reads.categories})
        self._apply(compiled)
        self._raw = raw
        return self.names()

    def _apply(self, compiled: Sequence[tuple[SegmentDefinition, bytes]]) -> None:
        keep = {definition.name for definition, _ in compiled}
        for name in [n for n in self._installed if n not in keep]:
            if not self._in_use(name):
                self._uninstall(name)
                del self._installed[name]
        for definition, form in compiled:
            if self._installed.get(definition.name) != form:
                self._install(as_segment(definition))
                self._installed[definition.name] = form

    def define(
        self, document: Any, *, actor: str = "system", dry_run: bool = False
    ) -> DefineReport:
        """Store (or with ``dry_run`` only check) one definition or a list of them.

        :class:`InvalidInput` lists every problem (schema, vocabulary, special categories, a
        name another part of the kit defines, a stored definition the change would break);
        nothing is stored or logged then. Otherwise the new set is written and audit-logged
        (SHA-256, names; nothing personal) in one transaction and installed in this process.
        """
        _check_call(actor, dry_run)
        problems = json_problems(document)
        if problems:
            raise InvalidInput("invalid segment definitions", problems)
        documents = [document] if isinstance(document, Mapping) else document
        if not isinstance(documents, list) or not documents:
            raise InvalidInput(
                "invalid segment definitions",
                [Problem(where="$", what="a definition or a non-empty list of them")],
            )
        self.reload()
        with self._store.transaction():  # read, check and write the set as one change
            current = self.documents()
            new = self._check_new(documents)
            merged = _merge(current, new)
            if len(merged) > MAX_DEFINITIONS:
                raise InvalidInput(
                    "invalid segment definitions",
                    [Problem(where="$", what=f"at most {MAX_DEFINITIONS} stored definitions")],
                )
            self._check_set(merged)
            raw = canonical_json(merged)
            report = DefineReport(
                names=tuple(d["name"] for d in new),
                stored=tuple(d["name"] for d in merged),
                sha256=hashlib.sha256(raw).hexdigest(),
                dry_run=dry_run,
            )
            if dry_run:
                return report
            self._store.put(DEFINITIONS, raw)
            self._audit.append(_DEFINED, actor=actor, data=_audit_data(report))
        self.reload()
        return report

    def remove(self, name: str, *, actor: str = "system") -> DefineReport:
        """Remove a stored definition and its index entries, audit-logged; see the module doc.

        :class:`InvalidInput` if ``name`` is not stored, or another stored definition or the
        current rule set reads it (nothing changed then).
        """
        _check_call(actor, dry_run=False)
        self.reload()
        with self._store.transaction():
            current = self.documents()
            if not isinstance(name, str) or name not in [d.get("name") for d in current]:
                raise InvalidInput(
                    "cannot remove segment",
                    [Problem(where="name", what="not a stored segment definition")],
                )
            if self._in_use(name):
                raise InvalidInput(
                    "cannot remove segment",
                    [Problem(where="name", what="the current rule set reads it")],
                )
            remaining = [d for d in current if d.get("name") != name]
            self._check_set(remaining)
            raw = canonical_json(remaining)
            report = DefineReport(
                names=(name,),
                stored=tuple(d["name"] for d in remaining),
                sha256=hashlib.sha256(raw).hexdigest(),
            )
            if remaining:
                self._store.put(DEFINITIONS, raw)
            else:
                self._store.delete(DEFINITIONS)
            self._store.delete_prefix(f"{INDEX_PREFIX}{name}/")
            self._audit.append(_REMOVED, actor=actor, data=_audit_data(report))
        self.reload()
        return report

    def _check_new(self, documents: list[Any]) -> list[dict[str, Any]]:
        """The new definitions, checked on their own: problems point into the caller's list."""
        names = {
            d["name"]
            for d in documents
            if isinstance(d, Mapping) and isinstance(d.get("name"), str)
        }
        # Definitions being replaced are unknown while the new ones compile (their names are
        # free again); the other stored ones stay known, so new definitions may read them.
        vocab = self._vocabulary().without_segments(n for n in self._installed if n in names)
        compiled = compile_segments(documents, vocab)  # InvalidInput: every problem
        problems = [
            Problem(where=f"$[{i}].name", what="a segment another part of the kit defines")
            for i, definition in enumerate(compiled)
            if self._taken(definition.name)
        ]
        if problems:
            raise InvalidInput("invalid segment definitions", problems)
        for definition in compiled:
            try:
                self._probe(as_segment(definition))
            except InvalidInput as exc:
                raise InvalidInput(
                    "invalid segment definitions",
                    [
                        Problem(where=f"{definition.name}.{p.where}", what=p.what)
                        for p in exc.problems
                    ],
                ) from None
        return [dict(d) for d in documents]

    def _check_set(self, merged: list[dict[str, Any]]) -> None:
        """The whole stored set as it would become must compile, in order."""
        vocab = self._vocabulary().without_segments(self._installed)
        try:
            compile_segments(merged, vocab)
        except InvalidInput as exc:
            raise InvalidInput(
                "the stored segment definitions would no longer compile",
                [
                    Problem(where=f"stored{p.where.removeprefix('$')}", what=p.what)
                    for p in exc.problems
                ],
            ) from None


def _merge(current: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``current`` with same-named definitions replaced in place and the others appended."""
    by_name = {d["name"]: d for d in new}
    merged = [by_name.pop(d.get("name"), d) for d in current]
    merged.extend(d for d in new if d["name"] in by_name)
    return merged


def _documents(raw: bytes) -> list[dict[str, Any]]:
    try:
        found = loads(raw)
    except ValueError:
        return []  # a damaged value defines nothing (definitions are validated when stored)
    if not isinstance(found, list):
        return []
    return [d for d in found if isinstance(d, dict)]


def _audit_data(report: DefineReport) -> dict[str, Any]:
    return {"sha256": report.sha256, "names": list(report.names), "stored": len(report.stored)}


def _check_call(actor: object, dry_run: object) -> None:
    problems = []
    if (
        not isinstance(actor, str)
        or not actor
        or len(actor) > 200  # noqa: PLR2004
        or SURROGATE.search(actor)
    ):
        problems.append(Problem(where="actor", what="1-200 characters"))
    if not isinstance(dry_run, bool):
        problems.append(Problem(where="dry_run", what="must be a bool"))
    if problems:
        raise InvalidInput("invalid call", problems)
