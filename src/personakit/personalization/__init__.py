"""Personalization: per-subject aggregates, affinities, segments, rules, experiments, decisions.

A capability: it imports the foundation, the base features and the workflows layer, never
another capability, and registers what it keeps and offers with ``kit.registries``.
"""

from __future__ import annotations

from personakit.personalization._facts import MISSING, Facts, Missing

__all__ = ["MISSING", "Facts", "Missing"]

# The state half: aggregates, affinities, segments and the service (kit.personalization).
from personakit.personalization._config import (
    LifecycleThresholds,
    PersonalizationConfig,
    RfmThresholds,
)
from personakit.personalization._segments import Segment
from personakit.personalization._service import Personalization, RefreshReport
from personakit.personalization._state import Aggregates
from personakit.personalization._view import SubjectFacts

__all__ += [
    "Aggregates",
    "LifecycleThresholds",
    "Personalization",
    "PersonalizationConfig",
    "RefreshReport",
    "RfmThresholds",
    "Segment",
    "SubjectFacts",
]
