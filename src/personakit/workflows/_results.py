"""What the ingest workflow returns: the outcome of one event, of a bulk run, of one line."""

from __future__ import annotations

from typing import Any, Literal

from attrs import field, frozen

from personakit.events import Event

__all__ = ["IngestError", "IngestSummary", "TrackResult"]


@frozen(kw_only=True)
class TrackResult:
    """Outcome of :meth:`Ingestor.track`: stored (with the purposes) or dropped for no basis."""

    outcome: Literal["stored", "dropped_no_basis"]
    subject: str | None
    event: Event | None
    purposes: tuple[str, ...] = ()


@frozen(kw_only=True)
class IngestError:
    """A rejected line: its number (from 1) and what was wrong (never the offending value)."""

    line: int
    error: str

    def to_json(self) -> dict[str, Any]:
        """``{"line": L, "error": "..."}``."""
        return {"line": self.line, "error": self.error}


@frozen(kw_only=True)
class IngestSummary:
    """What a bulk ingest did."""

    accepted: int
    rejected: int
    dropped_no_basis: int
    errors: tuple[IngestError, ...] = field(factory=tuple)
    stopped_at: int | None = None
    resumed_after: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary ``personakit ingest`` prints last."""
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "dropped_no_basis": self.dropped_no_basis,
            "errors": [e.to_json() for e in self.errors],
        }
        if self.stopped_at is not None:
            out["stopped_at_line"] = self.stopped_at
        if self.resumed_after is not None:
            out["resumed_after_line"] = self.resumed_after
        return out
