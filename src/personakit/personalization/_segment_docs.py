"""JSON segment definitions, compiled into predicates over :class:`Facts`, and shared checks.

The state half of personalization registers the predicates (it keeps the segment index); this
module only turns a definition into ``(name, predicate, reads)`` or lists every problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from attrs import frozen

from personakit import schema
from personakit._codec import check_value
from personakit.exceptions import InvalidInput, Problem
from personakit.personalization._conditions import Condition, compile_condition
from personakit.personalization._facts import Facts
from personakit.personalization._vocabulary import Reads, Vocabulary

__all__ = [
    "SegmentDefinition",
    "compile_segment",
    "compile_segments",
    "json_problems",
    "special_problems",
]

_DEFAULT_PURPOSE: Final = "personalization"


@frozen(kw_only=True)
class SegmentDefinition:
    """A compiled JSON segment: call ``predicate(facts)``; ``reads`` says what it reads."""

    name: str
    description: str
    purpose: str
    condition: Condition
    reads: Reads

    @property
    def predicate(self) -> Callable[[Facts], bool]:
        """Membership at ``facts.now`` (False for facts whose ``known`` is False)."""
        test = self.condition.test
        purpose = self.purpose
        explicit = purpose != _DEFAULT_PURPOSE

        def member(facts: Facts) -> bool:
            if facts.known is not True:
                return False
            if explicit and facts.has_consent(purpose) is not True:
                return False
            return test(facts)

        return member


def compile_segment(document: Any, vocabulary: Vocabulary) -> SegmentDefinition:
    """Compile one segment definition; :class:`InvalidInput` lists every problem."""
    found, problems = _one(document, vocabulary, "$")
    if found is None:
        raise InvalidInput("invalid segment definition", problems)
    return found


def compile_segments(documents: Any, vocabulary: Vocabulary) -> list[SegmentDefinition]:
    """Compile a list of definitions, all or none; later ones may use earlier ones by name.

    :class:`InvalidInput` lists every problem of every definition (duplicate names too).
    """
    problems = json_problems(documents)
    if problems:
        raise InvalidInput("invalid segment definitions", problems)
    if not isinstance(documents, list):
        raise InvalidInput("invalid segment definitions", [Problem(where="$", what="not a list")])
    compiled: list[SegmentDefinition] = []
    seen: set[str] = set()
    vocab = vocabulary
    for index, document in enumerate(documents):
        found, found_problems = _one(document, vocab, f"$[{index}]")
        problems.extend(found_problems)
        if found is None:
            continue
        if found.name in seen or found.name in vocabulary.segments:
            problems.append(Problem(where=f"$[{index}].name", what="segment name already used"))
            continue
        seen.add(found.name)
        compiled.append(found)
        vocab = vocab.with_segments({found.name: found.reads.categories})
    if problems:
        raise InvalidInput("invalid segment definitions", problems)
    return compiled


def _one(document: Any, vocab: Vocabulary, where: str) -> tuple[SegmentDefinition | None, Any]:
    problems = json_problems(document, where=where)
    if problems:
        return None, problems
    problems = schema.validate(document, "segments", where=where)
    if problems:
        return None, problems
    problems = schema.validate(document["condition"], "conditions", where=f"{where}.condition")
    if problems:
        return None, problems
    condition, problems = compile_condition(
        document["condition"], vocab, where=f"{where}.condition"
    )
    purpose = document.get("purpose", _DEFAULT_PURPOSE)
    if purpose not in vocab.purposes:
        problems.append(Problem(where=f"{where}.purpose", what="not a purpose in the manifest"))
    if condition is None or problems:
        return None, problems
    reads = condition.reads | Reads(purposes=frozenset({purpose}))
    problems = special_problems(reads, vocab, purpose, where)
    if problems:
        return None, problems
    definition = SegmentDefinition(
        name=document["name"],
        description=document["description"],
        purpose=purpose,
        condition=condition,
        reads=reads,
    )
    return definition, []


def json_problems(document: Any, *, where: str = "$") -> list[Problem]:
    """One problem if ``document`` is not plain JSON (types, depth, surrogates, huge ints)."""
    try:
        check_value(document, where=where)
    except InvalidInput as exc:
        return list(exc.problems)
    return []


def special_problems(reads: Reads, vocab: Vocabulary, purpose: str, where: str) -> list[Problem]:
    """The "never creepy" rules for a definition kept for ``purpose``.

    A definition may not read what the shop marked as never used for personalization, and may
    read a special category (Art. 9) only when ``purpose`` asks for explicit consent.
    """
    problems: list[Problem] = []
    never = sorted(
        (reads.categories | reads.fields | reads.dimensions) & vocab.never,
    )
    if never:
        problems.append(
            Problem(where=where, what="reads data the shop never uses for personalization")
        )
    if reads.categories & vocab.special and not vocab.purposes.get(purpose, False):
        problems.append(
            Problem(
                where=where,
                what="reads a special category (GDPR Art. 9): its purpose must ask for "
                "explicit consent",
            )
        )
    return problems
