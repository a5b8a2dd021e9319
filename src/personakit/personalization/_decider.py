"""The :class:`Rules` component: loads rule sets (audited), decides placements, runs experiments.

It is built from the kit's parts (manifest, audit log, keyring, vault, consent guard) and what
the state half of personalization offers (segment names, affinity dimensions); it reads
subjects only through :class:`~personakit.personalization.Facts`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from personakit._codec import SURROGATE
from personakit._vault import Vault, check_subject, valid_subject_id
from personakit.audit import AuditLog
from personakit.consent import Manifest
from personakit.crypto import Keyring
from personakit.exceptions import InvalidInput, Problem
from personakit.personalization._decision import ContextFacts, Decision, decide_with
from personakit.personalization._experiments import BUCKET_LABEL, ExposureLog, bucket_mac
from personakit.personalization._facts import Facts
from personakit.personalization._rules import RuleSet, compile_rule_set
from personakit.personalization._segment_docs import SegmentDefinition, compile_segments
from personakit.personalization._vocabulary import (
    DEFAULT_CONTEXT,
    FieldInfo,
    Vocabulary,
)
from personakit.workflows import Registries

__all__ = ["Rules"]

_AUDIT_ACTION: Final = "personalization.rules_loaded"
_SEGMENT_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_MAX_UNIT: Final = 256
_MAX_CONTEXT_TEXT: Final = 1000


class Rules:
    """Rule sets, decisions and experiments for one kit.

    ``load(document)`` checks and compiles a rule set (every problem at once), audit-logs its
    digest and makes it current; ``decide(facts, placement, context)`` answers a
    :class:`Decision`. Built once per kit; thread-safe (a load swaps one reference).
    """

    def __init__(
        self,
        *,
        manifest: Manifest,
        audit: AuditLog,
        keyring: Keyring,
        vault: Vault,
        allowed: Callable[[str, str], bool],
        subjects: Callable[[], Iterable[str]],
        segments: Mapping[str, Iterable[str]] | None = None,
        dimensions: Mapping[str, Iterable[str]] | Iterable[str] | None = None,
        aggregates: Mapping[str, FieldInfo] | None = None,
        context: Iterable[str] = DEFAULT_CONTEXT,
        last_purchase: Callable[[str], datetime | None] = lambda _subject: None,
    ) -> None:
        """Wire the component.

        ``allowed(subject, purpose)`` is the consent guard (``kit.consent.allowed``) and
        ``subjects()`` lists every subject (``kit.retention.subjects``), for the exposures
        dataset. ``segments`` maps each segment the state half offers to the data categories
        it reads; ``dimensions`` names the affinity dimensions (or maps them to categories);
        ``last_purchase(subject)`` feeds the exposures dataset's ``converted`` column.
        """
        self.vocabulary = Vocabulary.from_manifest(
            manifest,
            segments={k: frozenset(v) for k, v in (segments or {}).items()},
            dimensions=dimensions,
            aggregates=aggregates,
            context=context,
        )
        self._audit = audit
        # The key Keyring.mac(BUCKET_LABEL, ...) uses, scheduled once: same tags, a third of
        # the cost per decision.
        self._mac = bucket_mac(keyring.derive(f"mac/{BUCKET_LABEL}"))
        self.exposures = ExposureLog(
            vault,
            allowed=allowed,
            subjects=subjects,
            exists=keyring.has_subject_key,
            last_purchase=last_purchase,
        )
        self._current: RuleSet | None = None
        self._lock = threading.Lock()
        # Segments come and go, fields never change: the context names are known once.
        self._context_names = frozenset(
            name[len("context.") :]
            for name in self.vocabulary.fields
            if name.startswith("context.")
        )

    def __repr__(self) -> str:
        """Render with the current digest."""
        current = self._current.sha256[:12] if self._current is not None else None
        return f"Rules(current={current!r})"

    def register(self, registries: Registries) -> None:
        """Register the exposures record kind and dataset (once per kit)."""
        self.exposures.register(registries)

    @property
    def current(self) -> RuleSet | None:
        """The rule set in use, or None before the first :meth:`load`."""
        return self._current

    def add_segments(self, segments: Mapping[str, Iterable[str]]) -> None:
        """Make segments known to conditions (name -> categories read); for the state half.

        :class:`InvalidInput` lists every bad entry (names as segment names, categories as
        lists of strings); nothing is added then.
        """
        if not isinstance(segments, Mapping):
            raise InvalidInput(
                "invalid segments", [Problem(where="segments", what="not a mapping")]
            )
        known: dict[str, frozenset[str]] = {}
        problems: list[Problem] = []
        for index, (name, categories) in enumerate(list(segments.items())):
            listed = list(categories) if _listable(categories) else None
            if not isinstance(name, str) or not _SEGMENT_RE.fullmatch(name):
                problems.append(Problem(where=f"segments[{index}]", what="not a segment name"))
            elif listed is None or not all(isinstance(c, str) for c in listed):
                problems.append(Problem(where=f"segments[{index}]", what="categories: strings"))
            else:
                known[name] = frozenset(listed)
        if problems:
            raise InvalidInput("invalid segments", problems)
        with self._lock:
            self.vocabulary = self.vocabulary.with_segments(known)

    def remove_segments(self, names: Iterable[str]) -> None:
        """Forget segments (a stored definition removed); rules loaded later cannot name them.

        ``names`` is a list of segment names (else :class:`InvalidInput`, nothing forgotten).
        """
        listed = list(names) if _listable(names) else None
        if listed is None or not all(isinstance(name, str) for name in listed):
            raise InvalidInput(
                "invalid segments", [Problem(where="names", what="must be a list of names")]
            )
        with self._lock:
            self.vocabulary = self.vocabulary.without_segments(listed)

    def check(self, document: Any) -> RuleSet:
        """Check and compile ``document`` without loading it; InvalidInput lists every problem."""
        return compile_rule_set(document, self.vocabulary)

    def compile_segments(self, documents: Any) -> list[SegmentDefinition]:
        """Compile JSON segment definitions (all or none) for the state half to register."""
        return compile_segments(documents, self.vocabulary)

    def load(self, document: Any, *, actor: str = "system") -> RuleSet:
        """Check, compile, audit-log the digest of, and make current a rule set.

        An invalid document raises :class:`InvalidInput` listing every problem; nothing of it
        is loaded and nothing is logged.
        """
        if not isinstance(actor, str) or not actor or len(actor) > 200 or SURROGATE.search(actor):  # noqa: PLR2004
            raise InvalidInput("invalid actor", [Problem(where="actor", what="1-200 characters")])
        compiled = self.check(document)
        with self._lock:
            self._audit.append(_AUDIT_ACTION, actor=actor, data=compiled.summary())
            self._current = compiled
        return compiled

    def decide(
        self,
        facts: Facts,
        placement: str,
        context: Mapping[str, Any] | None = None,
        *,
        subject: str | None = None,
        unit: str | None = None,
        explain: bool = False,
    ) -> Decision:
        """Decide ``placement`` for the subject ``facts`` describe.

        ``context`` overrides the facts' ``context.<name>`` fields (names from the
        vocabulary; string, number, boolean or null values). ``subject`` is the pseudonym
        exposures are recorded under; ``unit`` the id experiments bucket on (default:
        ``subject``). Facts whose ``known`` is False get the placement's default and exactly
        the decision of an unknown subject. An unknown placement, a bad context or no rule set
        loaded raise :class:`InvalidInput`.
        """
        rules = self._current
        if not (  # the usual call, checked without building a list of problems
            rules is not None
            and type(placement) is str
            and placement in rules.placements
            and type(facts) in _FACTS_TYPES
            and context is None
            and (subject is None or valid_subject_id(subject))
            and (
                unit is None
                or (type(unit) is str and 0 < len(unit) <= _MAX_UNIT and unit.isascii())
            )
            and type(explain) is bool
        ):
            problems = _call_problems(
                rules, facts, placement, subject=subject, unit=unit, explain=explain
            )
            problems.extend(self._context_problems(context))
            if problems:
                raise InvalidInput("cannot decide", problems)
        assert rules is not None  # checked above
        if context:
            facts = ContextFacts(facts, context)
        bucket_unit = unit if unit is not None else subject
        expose = None
        if subject is not None:
            moment = facts.now
            exposures = self.exposures

            def expose(experiment: str, arm: str) -> None:
                if isinstance(moment, datetime):
                    exposures.record(subject, experiment, arm, moment)

        return decide_with(
            rules, facts, placement, mac=self._mac, unit=bucket_unit, expose=expose, explain=explain
        )

    def check_context(self, context: object) -> None:
        """:class:`InvalidInput` unless ``context`` is None or a mapping :meth:`decide` takes.

        Names must be the vocabulary's context fields, values strings, numbers, booleans or
        null (at most 256 of them).
        """
        if context is None:
            return
        names = self._context_names
        if type(context) is dict and len(context) <= 256:  # noqa: PLR2004 - the usual call, fast
            for key, value in context.items():
                if key not in names or not _context_value(value):
                    break
            else:
                return
        problems = self._context_problems(context)
        if problems:
            raise InvalidInput("cannot decide", problems)

    def _context_problems(self, context: object) -> list[Problem]:
        if context is None:
            return []
        if not isinstance(context, Mapping):
            return [Problem(where="context", what="must be a mapping")]
        problems = []
        for key, value in list(context.items())[:256]:
            if not isinstance(key, str) or f"context.{key}" not in self.vocabulary.fields:
                problems.append(Problem(where="context", what="unknown context field"))
            elif not _context_value(value):
                problems.append(
                    Problem(where=f"context.{key}", what="must be a string, number, bool or null")
                )
        if len(context) > 256:  # noqa: PLR2004
            problems.append(Problem(where="context", what="at most 256 fields"))
        return problems


def _call_problems(
    rules: RuleSet | None,
    facts: object,
    placement: object,
    *,
    subject: object,
    unit: object,
    explain: object,
) -> list[Problem]:
    problems: list[Problem] = []
    if rules is None:
        problems.append(Problem(where="rules", what="no rule set loaded"))
    elif not isinstance(placement, str) or placement not in rules.placements:
        problems.append(Problem(where="placement", what="unknown placement"))
    if not _is_facts(facts):
        problems.append(Problem(where="facts", what="must implement the Facts protocol"))
    if subject is not None:
        try:
            check_subject(subject)
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if unit is not None and not _text(unit, _MAX_UNIT):
        problems.append(Problem(where="unit", what="must be text of 1-256 characters"))
    if not isinstance(explain, bool):
        problems.append(Problem(where="explain", what="must be a bool"))
    return problems


# Types already seen to implement Facts: isinstance() against a runtime-checkable protocol
# costs ~20 µs (it probes every member), a third of a decision.
_FACTS_TYPES: set[type] = set()
_MEMBERS: Final = ("now", "known", "field", "in_segment", "affinity_top", "has_consent")


def _is_facts(value: object) -> bool:
    kind = type(value)
    if kind in _FACTS_TYPES:
        return True
    if not isinstance(value, Facts):
        return False
    if all(hasattr(kind, name) for name in _MEMBERS) and len(_FACTS_TYPES) < 64:  # noqa: PLR2004
        _FACTS_TYPES.add(kind)  # members on the class: every instance has them
    return True


def _text(value: object, limit: int) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= limit
        and (value.isascii() or not SURROGATE.search(value))
    )


def _context_value(value: object) -> bool:
    if value is None or isinstance(value, (bool, int)):
        return True
    if isinstance(value, float):
        return value == value  # noqa: PLR0124 (NaN is not a value a rule could match)
    return isinstance(value, str) and (value == "" or _text(value, _MAX_CONTEXT_TEXT))


def _listable(value: object) -> bool:
    return isinstance(value, (list, tuple, set, frozenset))
