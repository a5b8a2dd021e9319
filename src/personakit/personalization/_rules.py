"""Rule sets: placements with their defaults, rules and experiments, checked all at once.

:func:`compile_rule_set` turns a JSON document into a :class:`RuleSet` or raises one
:class:`InvalidInput` listing every problem of every rule (nothing of an invalid set is
used). The set's digest is the SHA-256 of its canonical JSON: every decision names it, and
loading it through :class:`~personakit.personalization.Rules` audit-logs it, so an auditor can
tell which rules made any decision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from attrs import field, frozen

from personakit import schema
from personakit._codec import canonical_json
from personakit.exceptions import InvalidInput, Problem
from personakit.personalization._conditions import Condition, compile_condition
from personakit.personalization._experiments import (
    Experiment,
    experiment_problems,
    parse_experiment,
)
from personakit.personalization._facts import Facts
from personakit.personalization._segment_docs import json_problems, special_problems
from personakit.personalization._vocabulary import Reads, Vocabulary

__all__ = ["Outcome", "Rule", "RuleSet", "compile_rule_set"]

_DEFAULT_PURPOSE: Final = "personalization"


@frozen(kw_only=True)
class Outcome:
    """What a placement shows: a content id, an optional offer id and a payload."""

    content: str
    offer: str | None = None
    payload: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Outcome:
        """Build from a ``then`` / ``default`` object that passed the schema."""
        return cls(
            content=document["content"],
            offer=document.get("offer"),
            payload=document.get("payload"),
        )


@frozen(kw_only=True)
class Rule:
    """A compiled rule: when ``condition`` holds on a placement, show ``then``."""

    id: str
    placement: str
    priority: int
    purpose: str
    condition: Condition
    then: Outcome
    experiment: str | None
    reads: Reads
    order: int
    #: Whether the condition has a leaf that may explain a match to the person.
    speaks: bool = False
    #: The purpose whose consent the rule needs beyond personalization's, if any.
    gate: str | None = field(init=False)
    #: The condition's predicate (an attribute: read once per rule per decision).
    test: Callable[[Facts], bool] = field(init=False)

    def __attrs_post_init__(self) -> None:
        """Derive ``gate`` and ``test``."""
        gate = None if self.purpose == _DEFAULT_PURPOSE else self.purpose
        object.__setattr__(self, "gate", gate)
        object.__setattr__(self, "test", self.condition.test)


@frozen(kw_only=True)
class RuleSet:
    """A compiled, immutable rule set and the digest of the document it came from."""

    sha256: str
    placements: Mapping[str, Outcome]
    rules: tuple[Rule, ...]
    by_placement: Mapping[str, tuple[Rule, ...]]
    experiments: Mapping[str, Experiment]
    #: Placements with a rule that reads a trait (decide fetches the traits record with the
    #: aggregates for those, in the same store read).
    trait_placements: frozenset[str] = frozenset()
    #: Decisions that depend on nothing but the set and the placement, built once.
    memo: dict[tuple[Any, ...], Any] = field(factory=dict, eq=False, repr=False)

    def reads(self) -> dict[str, dict[str, list[str]]]:
        """What each rule reads (``rule id -> Reads.to_json()``), for the minimization report."""
        return {rule.id: rule.reads.to_json() for rule in self.rules}

    def experiment_reads(self) -> dict[str, dict[str, list[str]]]:
        """What each experiment reads: the union of its rules' reads.

        Bucketing itself reads no data: the unit is an id the caller passes, hashed under a key.
        """
        out: dict[str, Reads] = {name: Reads() for name in self.experiments}
        for rule in self.rules:
            if rule.experiment is not None:
                out[rule.experiment] |= rule.reads
        return {name: reads.to_json() for name, reads in out.items()}

    def summary(self) -> dict[str, Any]:
        """Counts and the digest (what the audit entry records; nothing personal)."""
        return {
            "sha256": self.sha256,
            "placements": len(self.placements),
            "rules": len(self.rules),
            "experiments": len(self.experiments),
        }


def compile_rule_set(document: Any, vocabulary: Vocabulary) -> RuleSet:
    """Check and compile a rule-set document; :class:`InvalidInput` lists every problem."""
    problems = json_problems(document)
    if problems:
        raise InvalidInput("invalid rule set", problems)
    problems = schema.validate(document, "rules")
    if problems and not _checkable(document, problems):
        raise InvalidInput("invalid rule set", problems)
    # The shape holds where it matters: check every well-formed part too, so one run lists
    # every problem (a schema problem in rule 3 does not hide an unknown segment in rule 7).
    bad = {p.where for p in problems}
    placements = {
        name: Outcome.from_json(spec["default"])
        for name, spec in document["placements"].items()
        if isinstance(spec, dict)
        and isinstance(spec.get("default"), dict)
        and "content" in spec["default"]
    }
    experiments = _experiments(document.get("experiments", []), bad, problems)
    declared = {
        item["id"]
        for item in document.get("experiments", [])
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    }
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, item in enumerate(document["rules"]):
        where = f"$.rules[{index}]"
        if _under(bad, where):
            continue
        rule, found = _rule(item, where, vocabulary, placements, declared, order=index)
        if rule is not None and rule.id in seen:
            found.append(Problem(where=f"{where}.id", what="duplicate rule id"))
        problems.extend(found)
        if rule is not None and not found:
            seen.add(rule.id)
            rules.append(rule)
    if problems:
        raise InvalidInput("invalid rule set", problems)
    by_placement = {
        name: tuple(
            sorted(
                (rule for rule in rules if rule.placement == name),
                key=lambda r: (-r.priority, r.order),
            )
        )
        for name in placements
    }
    return RuleSet(
        sha256=hashlib.sha256(canonical_json(document)).hexdigest(),
        placements=placements,
        rules=tuple(rules),
        by_placement=by_placement,
        experiments=experiments,
        trait_placements=frozenset(
            name
            for name, listed in by_placement.items()
            if any(read.startswith("traits.") for rule in listed for read in rule.reads.fields)
        ),
    )


def _experiments(items: list[Any], bad: set[str], problems: list[Problem]) -> dict[str, Experiment]:
    experiments: dict[str, Experiment] = {}
    for index, item in enumerate(items):
        where = f"$.experiments[{index}]"
        if _under(bad, where):
            continue
        found = schema.validate(item, "experiments", where=where)
        found = found or experiment_problems(item, where)
        if not found and item["id"] in experiments:
            found = [Problem(where=f"{where}.id", what="duplicate experiment id")]
        problems.extend(found)
        if not found:
            experiments[item["id"]] = parse_experiment(item)
    return experiments


def _checkable(document: Any, problems: list[Problem]) -> bool:
    # Rules can be checked one by one when the top level and the placements are well formed.
    return (
        isinstance(document, dict)
        and isinstance(document.get("placements"), dict)
        and isinstance(document.get("rules"), list)
        and isinstance(document.get("experiments", []), list)
        and not any(_under({p.where}, "$.placements") for p in problems)
    )


def _under(wheres: set[str], prefix: str) -> bool:
    return any(w == prefix or w.startswith((prefix + ".", prefix + "[")) for w in wheres)


def _rule(
    item: dict[str, Any],
    where: str,
    vocab: Vocabulary,
    placements: Mapping[str, Outcome],
    experiments: set[str],
    *,
    order: int,
) -> tuple[Rule | None, list[Problem]]:
    problems = schema.validate(item["when"], "conditions", where=f"{where}.when")
    if problems:
        return None, problems
    condition, problems = compile_condition(item["when"], vocab, where=f"{where}.when")
    if item["placement"] not in placements:
        problems.append(Problem(where=f"{where}.placement", what="unknown placement"))
    purpose = item.get("purpose", _DEFAULT_PURPOSE)
    if purpose not in vocab.purposes:
        problems.append(Problem(where=f"{where}.purpose", what="not a purpose in the manifest"))
    experiment = item.get("experiment")
    if experiment is not None and experiment not in experiments:
        problems.append(Problem(where=f"{where}.experiment", what="unknown experiment"))
    if condition is None or problems:
        return None, problems
    reads = condition.reads | Reads(purposes=frozenset({purpose}))
    problems = special_problems(reads, vocab, purpose, where)
    rule = Rule(
        id=item["id"],
        placement=item["placement"],
        priority=int(item.get("priority", 0)),
        purpose=purpose,
        condition=condition,
        then=Outcome.from_json(item["then"]),
        experiment=experiment,
        reads=reads,
        order=order,
        speaks=condition.speaks,
    )
    return rule, problems
