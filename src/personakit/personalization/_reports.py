"""Reports of :class:`~personakit.personalization.Personalization` operations."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

__all__ = ["RefreshReport"]


@frozen(kw_only=True)
class RefreshReport:
    """What :meth:`Personalization.refresh` did."""

    subjects: int
    entered: int
    left: int
    rfm_population: int | None = None
    dropped_segments: tuple[str, ...] = field(factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """A JSON form."""
        return {
            "subjects": self.subjects,
            "entered": self.entered,
            "left": self.left,
            "rfm_population": self.rfm_population,
            "dropped_segments": list(self.dropped_segments),
        }
