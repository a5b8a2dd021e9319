"""The bakery's logic, framework-free: seeding, the banner decision, panels, the operator view.

The Flask app (:mod:`personakit.demo._app`) only renders what this returns. Personalization
decides with :class:`personakit.personalization.Rules` and the shipped ``rules.json``; the
facts come from ``kit.personalization`` when this build has it, else from the visitor's own
events (:class:`EventFacts`). Recommendations and journeys are shown only when the kit has
``recommend`` / ``journeys``: otherwise their panels say "not enabled in this build".
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

from personakit import Personakit
from personakit.demo._data import NOTICE, history_lines
from personakit.exceptions import InvalidInput, PersonakitError, Problem
from personakit.personalization import MISSING, Decision, Facts, Rules

__all__ = ["DP_CAP_EPSILON", "NOT_ENABLED", "EventFacts", "Shop", "choices_body"]

#: The privacy budget the demo caps its ``orders`` dataset at (the operator page spends it).
DP_CAP_EPSILON: Final = 3.0
#: What a panel says when the capability behind it is not in this build.
NOT_ENABLED: Final = "not enabled in this build"
_BANNER: Final = "home.banner"
_MARKER: Final = "demo-seeded"  # a file in the demo directory: the history is generated once
_DP_EPSILON: Final = 0.5
_INTEREST_KINDS: Final = frozenset({"purchase", "product_view", "add_to_cart"})


def choices_body(*, accept: bool) -> bytes:
    """The privacy center's ``POST /consent`` body for the banner's accept / refuse."""
    document = {
        **NOTICE,
        "choices": {"personalization": accept, "analytics": accept},
    }
    return json.dumps(document).encode("utf-8")


class EventFacts:
    """:class:`~personakit.personalization.Facts` read from one subject's own events.

    Used when the kit has no ``kit.personalization`` (the state half): the affinity of a
    dimension is how many of the subject's purchases (each basket line), product views and cart
    additions kept for personalization carry each value. Nothing is stored: the events are read
    (and decrypted) per decision, which is fine for a demo shop's handful of events per visitor.
    """

    def __init__(self, kit: Personakit, subject: str | None) -> None:
        """Read ``subject``'s events if personalization is allowed (None: an unknown visitor)."""
        self._kit = kit
        self._subject = subject
        self._now = datetime.now(UTC)
        self._known = subject is not None and kit.consent.allowed(subject, "personalization")
        self._counts: dict[str, Counter[str]] = {}
        if self._known and subject is not None:
            for event in kit.events.read(subject):
                if event.kind not in _INTEREST_KINDS or "personalization" not in event.purposes:
                    continue
                lines = event.properties.get("items")
                parts = lines if isinstance(lines, list) else [event.properties]
                for part in parts:  # a basket's lines, or the event itself
                    for dimension in ("category", "brand"):
                        value = part.get(dimension) if isinstance(part, Mapping) else None
                        if isinstance(value, str):
                            self._counts.setdefault(dimension, Counter())[value] += 1

    @property
    def now(self) -> datetime:
        """When the facts were read."""
        return self._now

    @property
    def known(self) -> bool:
        """Whether the visitor exists and allows personalization."""
        return self._known

    def field(self, path: str) -> object:  # noqa: ARG002 (the demo's rules read no fields)
        """No stored fields in this view: every path is :data:`MISSING`."""
        return MISSING

    def in_segment(self, name: str) -> bool:  # noqa: ARG002 (the protocol's signature)
        """The demo defines no segments: any name is unknown."""
        raise InvalidInput("unknown segment", [Problem(where="segment", what="not defined")])

    def affinity_top(self, dimension: str, k: int) -> tuple[str, ...]:
        """The ``k`` most frequent values of ``dimension`` (ties: alphabetical)."""
        counts = self._counts.get(dimension, Counter())
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return tuple(value for value, _ in ranked[: max(0, k)])

    def has_consent(self, purpose: str) -> bool:
        """The consent guard for ``purpose``."""
        if self._subject is None:
            return False
        return self._kit.consent.allowed(self._subject, purpose)


class Shop:
    """The demo shop's state around one kit: the rule set and the demo directory."""

    def __init__(self, kit: Personakit, directory: Path) -> None:
        """Load the shipped rule set (audit-logged) for ``kit``."""
        self.kit = kit
        self.directory = directory
        self.rules = Rules(
            manifest=kit.manifest,
            audit=kit.audit,
            keyring=kit.keyring,
            vault=kit.vault,
            allowed=kit.consent.allowed,
            subjects=kit.retention.subjects,
        )
        document = json.loads(
            resources.files("personakit.demo").joinpath("rules.json").read_text("utf-8")
        )
        self.rules.load(document, actor="demo")
        self._lock = threading.Lock()

    # -- first start ------------------------------------------------------------------------

    def seed(self, *, customers: int = 40) -> bool:
        """Generate the synthetic history once per directory; True when it was generated now."""
        marker = self.directory / _MARKER
        if marker.exists():
            return False
        self.kit.ingest(list(history_lines(customers=customers)))
        self.kit.analytics.set_budget(
            "orders", epsilon=DP_CAP_EPSILON, actor="demo", reason="demo shop budget"
        )
        marker.write_text("1\n", encoding="utf-8")
        return True

    # -- the visitor's pages ----------------------------------------------------------------

    def needs_choice(self, subject: str | None) -> bool:
        """Whether the banner asks: no decision on personalization recorded yet."""
        if subject is None:
            return True
        return "personalization" not in self.kit.consent.decisions(subject)

    def banner(self, subject: str | None) -> Decision:
        """The home banner decided for the visitor (the default when personalization is off)."""
        facts = self._facts(subject)
        return self.rules.decide(facts, _BANNER)

    def _facts(self, subject: str | None) -> Facts:
        state = getattr(self.kit, "personalization", None)
        make = getattr(state, "facts", None)
        if subject is not None and callable(make):
            facts = make(subject)  # the state half's view: aggregates, affinities, segments
            if isinstance(facts, Facts):
                return facts
        return EventFacts(self.kit, subject)

    def goes_well_with(self, item: str) -> dict[str, Any]:
        """The "goes well with" panel: ``kit.recommend.similar_items`` if this build has it."""
        similar = getattr(getattr(self.kit, "recommend", None), "similar_items", None)
        if not callable(similar):
            return {"enabled": False, "note": NOT_ENABLED, "items": []}
        try:
            found = similar(item, 4)
        except PersonakitError as exc:
            return {"enabled": True, "note": type(exc).__name__, "items": []}
        items = list(found) if isinstance(found, list | tuple) else []
        return {"enabled": True, "note": "", "items": items}

    def journeys_note(self) -> str:
        """What the cart's events do for the cart-abandonment journey in this build."""
        if getattr(self.kit, "journeys", None) is None:
            return f"cart-abandonment journey: {NOT_ENABLED}"
        # Journeys trigger in the transaction that accepts the event: nothing to call here.
        return "cart-abandonment journey: triggered by these cart events (see the operator page)"

    # -- the operator page ------------------------------------------------------------------

    def operator(self) -> dict[str, Any]:
        """DP figures, the audit chain, the journeys' outbox and the audit pack if present."""
        with self._lock:  # one release at a time: the ledger is shared by all threads
            figures = self._dp_figures()
        report = self.kit.audit.verify()
        journeys = getattr(self.kit, "journeys", None)
        outbox = getattr(journeys, "pending", None)
        reporting = getattr(self.kit, "reporting", None)
        return {
            "dp": figures,
            "audit": {"ok": report.ok, "entries": report.entries, "head_seq": report.head_seq},
            "rules_sha256": self.rules.current.sha256 if self.rules.current else None,
            "journeys": NOT_ENABLED if journeys is None else _listing(outbox),
            "reporting": NOT_ENABLED if reporting is None else "available: personakit report",
        }

    def _dp_figures(self) -> dict[str, Any]:
        analytics = self.kit.analytics
        out: dict[str, Any] = {}
        try:
            result = analytics.count(
                "orders", epsilon=_DP_EPSILON, reason="demo operator page: orders"
            )
            out["orders"] = {
                "value": result.value,
                "interval": result.interval,
                "mechanism": result.mechanism,
                "spent_now": result.spent_now,
            }
        except PersonakitError as exc:
            out["orders"] = {"error": type(exc).__name__}
        budget = analytics.budget("orders").to_json()
        out["budget"] = budget
        return out


def _listing(outbox: Any) -> Any:
    if outbox is None:
        return []
    items = outbox() if callable(outbox) else outbox
    if isinstance(items, Mapping):
        return dict(items)
    try:
        return [str(item) for item in list(items)[:50]]
    except TypeError:
        return str(items)
