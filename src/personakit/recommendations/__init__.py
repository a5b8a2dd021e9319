"""Recommendations: a shared item model kept incrementally and exactly erasable.

``kit.recommend`` is the :class:`Recommender`. The model is a sum of per-subject contributions
(each consenting customer's items, their pairs, the day each was last seen), kept up to date by
an events hook and reduced by exactly a subject's contribution on withdrawal, objection,
erasure and retention; :meth:`Recommender.rebuild` recomputes it for repair. See
``docs/recommendations.md``.
"""

from personakit.recommendations._answers import RebuildSummary, Recommendation, Recommendations
from personakit.recommendations._filters import CatalogueItem
from personakit.recommendations._model import ItemModel, Params
from personakit.recommendations._service import MAX_K, Recommender

__all__ = [
    "MAX_K",
    "CatalogueItem",
    "ItemModel",
    "Params",
    "RebuildSummary",
    "Recommendation",
    "Recommendations",
    "Recommender",
]
