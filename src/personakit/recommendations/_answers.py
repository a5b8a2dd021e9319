"""What ``recommend`` and ``similar_items`` return: items with reasons a person understands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from attrs import frozen

from personakit.recommendations._filters import CatalogueItem, Filter
from personakit.recommendations._model import Interaction, ItemModel

__all__ = ["RebuildSummary", "Recommendation", "Recommendations", "explain", "popular_answer"]

#: How many days "this week" covers (today and the six before).
WEEK_DAYS: Final = 7


@frozen(kw_only=True)
class Recommendation:
    """One recommended item.

    Attributes:
        item: The item id.
        score: Its score (similarity-weighted history, or customers for popularity).
        reason: ``similar`` (from the history or the given item), ``popular_recent``,
            ``popular_category`` or ``popular``.
        explanation: One sentence for the customer ("Because you bought sourdough").
        because: The contributing items, most contributing first (for the developer).
    """

    item: str
    score: float
    reason: str
    explanation: str
    because: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON form (the CLI prints it)."""
        return {
            "item": self.item,
            "score": round(self.score, 6),
            "reason": self.reason,
            "explanation": self.explanation,
            "because": list(self.because),
        }


@frozen(kw_only=True)
class Recommendations:
    """An answer: the items, and whether any came from the subject's own history."""

    items: tuple[Recommendation, ...]
    personalized: bool

    def as_dict(self) -> dict[str, Any]:
        """A JSON form (the CLI prints it)."""
        return {"personalized": self.personalized, "items": [r.as_dict() for r in self.items]}


@frozen(kw_only=True)
class RebuildSummary:
    """What :meth:`Recommender.rebuild` did."""

    subjects: int
    contributing: int
    items: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON summary (the CLI prints it)."""
        return {"subjects": self.subjects, "contributing": self.contributing, "items": self.items}


def _name(item: str, catalogue: Mapping[str, CatalogueItem] | None) -> str:
    info = catalogue.get(item) if catalogue is not None else None
    return info.name if info is not None and info.name else item


def explain(
    ranked: Iterable[tuple[str, float, dict[str, float]]],
    record: Mapping[str, Interaction],
    catalogue: Mapping[str, CatalogueItem] | None,
    *,
    similar_to: str | None = None,
) -> Recommendations:
    """Scored items with their explanations: the most contributing history item is named."""
    out: list[Recommendation] = []
    for item, score, parts in ranked:
        # Most contributing first, ties in id order; one part (the usual case) needs no sort.
        because = (
            tuple(sorted(parts, key=lambda i: (-parts[i], i))) if len(parts) > 1 else tuple(parts)
        )
        top = because[0]
        if similar_to is not None:
            text = f"Often chosen with {_name(top, catalogue)}"
        else:
            verb = "bought" if record[top].bought else "viewed"
            text = f"Because you {verb} {_name(top, catalogue)}"
        out.append(
            Recommendation(
                item=item, score=score, reason="similar", explanation=text, because=because
            )
        )
    return Recommendations(items=tuple(out), personalized=bool(out) and similar_to is None)


def popular_answer(
    model: ItemModel,
    k: int,
    filt: Filter,
    today: int,
    *,
    why: str,
    first: Recommendations | None = None,
    skip: Iterable[str] = (),
) -> Recommendations:
    """``first`` filled up to ``k`` by popularity this week, then overall (in the category).

    ``why`` is said when nothing is personal ("personalization is off"); it depends only on
    what the caller passes, so two subjects given the same ``why`` get the same answer.
    """
    if first is not None and len(first.items) >= k:
        return first  # nothing to fill
    items = list(first.items) if first is not None else []
    taken = {r.item for r in items} | set(skip)
    suffix = f": {why}" if why else ""
    where = f"in {filt.category}" if filt.category is not None else ""
    sources = (
        (
            "popular_recent",
            f"Popular {where or 'this week'}{suffix}",
            model.recent(today - WEEK_DAYS + 1),
        ),
        ("popular", f"Popular {where or 'with customers'}{suffix}", model.popularity()),
    )
    for reason, text, ranked in sources:
        for count, item in ranked:
            if len(items) >= k:
                break
            if item in taken or not filt.keep(item):
                continue
            taken.add(item)
            reason_ = "popular_category" if filt.category is not None else reason
            items.append(
                Recommendation(item=item, score=float(count), reason=reason_, explanation=text)
            )
    return Recommendations(
        items=tuple(items), personalized=first is not None and first.personalized
    )
