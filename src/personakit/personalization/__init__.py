"""Personalization: per-subject aggregates, affinities, segments, rules, experiments, decisions.

A capability: it imports the foundation, the base features and the workflows layer, never
another capability, and registers what it keeps and offers with ``kit.registries``.
"""

from __future__ import annotations

from personakit.personalization._conditions import Condition, compile_condition
from personakit.personalization._decider import Rules
from personakit.personalization._decision import Decision
from personakit.personalization._experiments import Arm, Experiment, bucket
from personakit.personalization._facts import MISSING, Facts, Missing
from personakit.personalization._rules import Outcome, Rule, RuleSet, compile_rule_set
from personakit.personalization._segments import (
    SegmentDefinition,
    compile_segment,
    compile_segments,
)
from personakit.personalization._vocabulary import FieldInfo, Reads, Vocabulary

__all__ = [
    "MISSING",
    "Arm",
    "Condition",
    "Decision",
    "Experiment",
    "Facts",
    "FieldInfo",
    "Missing",
    "Outcome",
    "Reads",
    "Rule",
    "RuleSet",
    "Rules",
    "SegmentDefinition",
    "Vocabulary",
    "bucket",
    "compile_condition",
    "compile_rule_set",
    "compile_segment",
    "compile_segments",
]
