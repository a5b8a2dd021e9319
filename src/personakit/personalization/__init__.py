"""Personalization: per-subject aggregates, affinities, segments, rules, experiments, decisions.

A capability: it imports the foundation, the base features and the workflows layer, never
another capability, and registers what it keeps and offers with ``kit.registries``.
"""

from __future__ import annotations

from personakit.personalization._facts import MISSING, Facts, Missing

__all__ = ["MISSING", "Facts", "Missing"]
