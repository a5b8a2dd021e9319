"""Personalization: per-subject aggregates, affinities, segments, rules, experiments, decisions.

A capability: it imports the foundation, the base features and the workflows layer, never
another capability, and registers what it keeps and offers with ``kit.registries``.

Two halves meet in :class:`Facts`: the state kept on ingest (aggregates, affinities, built-in
segments, the membership index: ``_state``, ``_segments``, ``_index``, ``_keeper``, ``_view``,
``_service``) answers it, and the condition language (JSON segments, rules, experiments,
decisions: ``_conditions``, ``_segment_docs``, ``_rules``, ``_experiments``, ``_decider``)
reads only through it.
"""

from __future__ import annotations

from personakit.personalization._conditions import Condition, compile_condition
from personakit.personalization._config import (
    LifecycleThresholds,
    PersonalizationConfig,
    RfmThresholds,
)
from personakit.personalization._decider import Rules
from personakit.personalization._decision import Decision
from personakit.personalization._defined import DefinedSegments, DefineReport
from personakit.personalization._experiments import Arm, Experiment, bucket
from personakit.personalization._facts import MISSING, Facts, Missing
from personakit.personalization._reports import RefreshReport
from personakit.personalization._rules import Outcome, Rule, RuleSet, compile_rule_set
from personakit.personalization._segment_docs import (
    SegmentDefinition,
    compile_segment,
    compile_segments,
)
from personakit.personalization._segments import Segment
from personakit.personalization._service import Personalization
from personakit.personalization._state import Aggregates
from personakit.personalization._view import SubjectFacts
from personakit.personalization._vocabulary import FieldInfo, Reads, Vocabulary

__all__ = [
    "MISSING",
    "Aggregates",
    "Arm",
    "Condition",
    "Decision",
    "DefineReport",
    "DefinedSegments",
    "Experiment",
    "Facts",
    "FieldInfo",
    "LifecycleThresholds",
    "Missing",
    "Outcome",
    "Personalization",
    "PersonalizationConfig",
    "Reads",
    "RefreshReport",
    "RfmThresholds",
    "Rule",
    "RuleSet",
    "Rules",
    "Segment",
    "SegmentDefinition",
    "SubjectFacts",
    "Vocabulary",
    "bucket",
    "compile_condition",
    "compile_rule_set",
    "compile_segment",
    "compile_segments",
]
