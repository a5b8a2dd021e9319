"""Traits: declared attributes of a subject (e-mail, name, birthday, preferred channel, …).

Each trait is declared in the manifest with a JSON Schema, a data category and whether it is
personal. An update validates *every* field and reports every problem at once; nothing is
written unless all fields pass. All traits (personal or not) are stored sealed with the subject's
data key, in one record ``s/<subject>/traits/current``; each value keeps when and from where it
was last set. Rectification (GDPR Art 16) is an update recorded as such in the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from attrs import field, frozen

from personakit._args import check_moment, check_str_items, raise_problems
from personakit._clock import Clock, as_utc
from personakit._ids import ACTOR_RE
from personakit._vault import Vault, check_subject
from personakit.audit import AuditLog
from personakit.exceptions import ConsentRequired, InvalidInput, Problem, SubjectNotFound
from personakit.schema import SchemaValidator, compile_schema

__all__ = [
    "CompiledTrait",
    "TraitStore",
    "TraitUpdate",
    "compile_manifest_traits",
    "compile_traits",
]

_KIND: Final = "traits"
_NAME: Final = "current"
_TRAIT_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
_SOURCE_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,31}")
# The same shape as every other audited actor: an operator id or a role, never a name.


@frozen(kw_only=True)
class CompiledTrait:
    """A trait the manifest declares, with its compiled schema."""

    name: str
    category: str
    personal: bool
    validator: SchemaValidator = field(repr=False, eq=False)


@frozen(kw_only=True)
class TraitUpdate:
    """What an update changed: trait names set and removed (never their values)."""

    subject: str
    set: tuple[str, ...]
    removed: tuple[str, ...]
    rectification: bool
    at: datetime


def compile_manifest_traits(declarations: Iterable[Any]) -> dict[str, CompiledTrait]:
    """Compile the manifest's trait declarations; see :func:`compile_traits`.

    Each declaration has ``name``, ``schema``, ``category`` and ``personal`` attributes.
    """
    return compile_traits(
        {
            d.name: {"schema": d.schema, "category": d.category, "personal": d.personal}
            for d in declarations
        }
    )


def compile_traits(section: Mapping[str, Mapping[str, Any]]) -> dict[str, CompiledTrait]:
    """Compile trait declarations ``{name: {"schema", "category", "personal"}}``.

    :class:`InvalidInput` lists every problem.
    """
    declared: dict[str, CompiledTrait] = {}
    problems: list[Problem] = []
    for name, decl in section.items():
        if not _TRAIT_RE.fullmatch(name):
            problems.append(Problem(where="$.traits", what="trait names are [a-z][a-z0-9_]*"))
            continue
        try:
            validator = compile_schema(decl["schema"])
        except InvalidInput as exc:
            problems.extend(
                Problem(where=f"$.traits.{name}.schema{p.where[1:]}", what=p.what)
                for p in exc.problems
            )
            continue
        declared[name] = CompiledTrait(
            name=name,
            category=str(decl.get("category", "")),
            personal=bool(decl.get("personal", False)),
            validator=validator,
        )
    if problems:
        raise InvalidInput("invalid trait declarations", problems)
    return declared


class TraitStore:
    """Read and update subjects' traits.

    ``may_store(subject, category)`` is the lawful-basis check the kit supplies: a trait whose
    category no purpose with a current basis covers is refused. ``subject_exists(subject)``
    says whether a pseudonym names a live subject; an update re-checks it (and the basis)
    inside its transaction, see :meth:`update`.
    """

    def __init__(
        self,
        vault: Vault,
        audit: AuditLog,
        clock: Clock,
        declarations: Mapping[str, CompiledTrait],
        *,
        subject_ref: Callable[[str], str],
        may_store: Callable[[str, str], bool],
        subject_exists: Callable[[str], bool] | None = None,
    ) -> None:
        """Wire the store to the vault, audit log, clock and the manifest's declarations."""
        self.vault = vault
        self._exists = subject_exists
        self.audit = audit
        self.clock = clock
        self.declarations = dict(declarations)
        self._ref = subject_ref
        self._may_store = may_store
        #: ``on_change(subject, names)``, called in the write transaction of every update
        #: (the workflows layer sets it to run its traits hooks).
        self.on_change: Callable[[str, Sequence[str]], None] | None = None

    def __repr__(self) -> str:
        """Render with the declared trait names."""
        return f"TraitStore({sorted(self.declarations)!r})"

    def validate(self, values: object, *, where: str = "$.traits") -> dict[str, Any]:
        """Check an update (``None`` removes a trait); return it, or raise with every problem."""
        if not isinstance(values, dict) or not values:
            raise InvalidInput(
                "invalid traits", [Problem(where=where, what="must be a non-empty object")]
            )
        problems: list[Problem] = []
        for name, value in values.items():
            declared = self.declarations.get(name) if isinstance(name, str) else None
            if declared is None:
                problems.append(
                    Problem(where=where, what="unknown trait (declare it in the manifest)")
                )
            elif value is not None and not declared.validator.is_valid(value):
                problems.extend(declared.validator.problems(value, where=f"{where}.{name}"))
        if problems:
            raise InvalidInput("invalid traits", problems)
        return values

    def update(
        self,
        subject: str,
        values: Mapping[str, Any],
        *,
        source: str = "api",
        at: datetime | None = None,
        rectification: bool = False,
        actor: str = "system",
    ) -> TraitUpdate:
        """Set (or with ``None`` remove) traits, all or nothing, with an audit entry.

        Raises :class:`InvalidInput` listing every problem,
        :class:`~personakit.exceptions.ConsentRequired` if a trait's category has no basis, and
        :class:`~personakit.exceptions.SubjectNotFound` if the subject is gone (erased).

        The subject's existence and the basis are checked inside the transaction that writes:
        its first read takes the subject (PostgreSQL: the subject's advisory lock; SQLite: the
        write lock), so an erasure or a withdrawal that committed first is seen, and one that
        comes later waits for this update. Checked before it, an erasure committing in between
        would be followed by a traits record (and a fresh data key) of the erased subject.
        """
        check_subject(subject)
        checked = self.validate(dict(values) if isinstance(values, Mapping) else values)
        token_problems = [
            Problem(where=where, what="must be a short lower-case token (it is audited in clear)")
            for where, value, pattern in (
                ("source", source, _SOURCE_RE),
                ("actor", actor, ACTOR_RE),
            )
            if not isinstance(value, str) or not pattern.fullmatch(value)
        ]
        moment = None if at is None else check_moment(at, "at", token_problems)
        raise_problems("invalid traits", token_problems)
        when = self.clock.now() if moment is None else as_utc(moment)
        with self.vault.store.transaction():
            if self._exists is not None and not self._exists(subject):
                raise SubjectNotFound("subject")
            self._check_basis(subject, checked)
            current = self._load(subject)
            for name, value in checked.items():
                if value is None:
                    current.pop(name, None)
                else:
                    current[name] = {
                        "value": value,
                        "updated_at": when.isoformat(),
                        "source": source,
                    }
            self.vault.put_json(subject, _KIND, _NAME, current)
            update = TraitUpdate(
                subject=subject,
                set=tuple(sorted(n for n, v in checked.items() if v is not None)),
                removed=tuple(sorted(n for n, v in checked.items() if v is None)),
                rectification=rectification,
                at=when,
            )
            self.audit.append(
                "traits.rectified" if rectification else "traits.updated",
                subject=self._ref(subject),
                actor=actor,
                data={"set": list(update.set), "removed": list(update.removed), "source": source},
            )
            if self.on_change is not None:
                self.on_change(subject, (*update.set, *update.removed))
        return update

    def _check_basis(self, subject: str, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            if value is None:
                continue
            category = self.declarations[name].category
            if not self._may_store(subject, category):
                raise ConsentRequired(
                    subject, f"category:{category}", "no purpose with a lawful basis covers it"
                )

    def get(self, subject: str) -> dict[str, Any]:
        """The subject's trait values by name."""
        check_subject(subject)
        return {name: entry["value"] for name, entry in self._load(subject).items()}

    def details(self, subject: str) -> dict[str, dict[str, Any]]:
        """Trait values with ``updated_at`` and ``source`` (for exports)."""
        check_subject(subject)
        return self._load(subject)

    def remove(self, subject: str, names: Iterable[str]) -> int:
        """Delete some traits without audit (cascades and retention audit on their own)."""
        check_subject(subject)
        problems: list[Problem] = []
        wanted = check_str_items(names, "names", problems)
        raise_problems("invalid trait names", problems)
        with self.vault.store.transaction():
            current = self._load(subject)
            doomed = [n for n in dict.fromkeys(wanted) if n in current]
            for name in doomed:
                del current[name]
            if doomed:
                self._save(subject, current)
        return len(doomed)

    def merge(self, source: str, target: str) -> int:
        """Merge ``source``'s traits into ``target`` (newest value wins); return how many moved."""
        check_subject(source, where="source")
        check_subject(target, where="target")
        with self.vault.store.transaction():
            incoming = self._load(source)
            current = self._load(target)
            moved = 0
            for name, entry in incoming.items():
                mine = current.get(name)
                newer = mine is None or datetime.fromisoformat(
                    entry["updated_at"]
                ) > datetime.fromisoformat(mine["updated_at"])
                if newer:
                    current[name] = entry
                    moved += 1
            if moved:
                self._save(target, current)
            self.vault.delete(source, _KIND, _NAME)
        return moved

    def _load(self, subject: str) -> dict[str, dict[str, Any]]:
        doc = self.vault.get_json(subject, _KIND, _NAME)
        return dict(doc) if isinstance(doc, dict) else {}

    def _save(self, subject: str, current: dict[str, dict[str, Any]]) -> None:
        if current:
            self.vault.put_json(subject, _KIND, _NAME, current)
        else:
            self.vault.delete(subject, _KIND, _NAME)
