"""The bakery's logic, framework-free: seeding, the banner decision, panels, the operator view.

The Flask app (:mod:`personakit_demo`) only renders what this returns. The home banner is
``kit.personalization.decide`` on the shipped ``rules.json`` (loaded with ``load_rules``).
Recommendations are ``kit.recommend``'s, each shown with the explanation of its answer; the
cart's events trigger ``kit.journeys``' cart abandonment.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Final

from personakit import Personakit
from personakit.demo._data import CATALOGUE, NOTICE, history_lines, product
from personakit.exceptions import PersonakitError
from personakit.personalization import Decision
from personakit.recommendations import Recommendations

__all__ = ["DP_CAP_EPSILON", "NOT_ENABLED", "Shop", "choices_body"]

#: The privacy budget the demo caps its ``orders`` dataset at (the operator page spends it).
DP_CAP_EPSILON: Final = 3.0
#: What a panel says when the capability behind it is not in this build.
NOT_ENABLED: Final = "not enabled in this build"
_BANNER: Final = "home.banner"
_MARKER: Final = "demo-seeded"  # a file in the demo directory: the history is generated once
_DP_EPSILON: Final = 0.5
_JOURNEY: Final = "cart_abandonment"
#: How far ahead the operator page's outbox looks (the reminder's delay is 4 hours).
OUTBOX_AHEAD: Final = timedelta(days=1)
_INTEREST_KINDS: Final = frozenset({"purchase", "product_view", "add_to_cart"})


def choices_body(*, accept: bool) -> bytes:
    """The privacy center's ``POST /consent`` body for the banner's accept / refuse."""
    document = {
        **NOTICE,
        "choices": {"personalization": accept, "analytics": accept},
    }
    return json.dumps(document).encode("utf-8")


class Shop:
    """The demo shop's state around one kit and its demo directory."""

    def __init__(self, kit: Personakit, directory: Path) -> None:
        """Load the shipped rule set (audit-logged), the cart journey and the catalogue."""
        self.kit = kit
        self.directory = directory
        document = json.loads(
            resources.files("personakit.demo").joinpath("rules.json").read_text("utf-8")
        )
        kit.personalization.load_rules(document, actor="demo")
        # The cart's add_to_cart events enter this journey (its exit: a purchase).
        if _JOURNEY not in {d["id"] for d in kit.journeys.definitions()}:
            kit.journeys.enable_builtin([_JOURNEY])
        # Names and categories for the recommendations' reasons ("Because you viewed Rye bread").
        kit.recommend.use_catalogue(
            {
                p.id: {"name": p.name, "category": p.category, "price_cents": p.price_cents}
                for p in CATALOGUE
            }
        )
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

    def banner(self, visitor: str) -> Decision:
        """The home banner decided for ``visitor`` (an identifier: ``anon:…``, ``customer:…``).

        ``kit.personalization.decide``: an identifier that names nobody yet, or a subject
        without consent, gets the default and "personalization is off". Looking the visitor up
        creates nothing.
        """
        return self.kit.personalization.decide(visitor, _BANNER)

    def goes_well_with(self, item: str) -> dict[str, Any]:
        """The "goes well with" panel: ``kit.recommend.similar_items``, each with its reason."""
        try:
            found = self.kit.recommend.similar_items(item, 4)
        except PersonakitError as exc:
            return {"enabled": True, "note": type(exc).__name__, "items": []}
        return {"enabled": True, "note": "", "items": _shown(found)}

    def recommended(self, subject: str | None) -> dict[str, Any]:
        """The home page's recommendations for ``subject`` (``kit.recommend``), with reasons.

        ``None`` (a visitor the shop holds nothing about) gets the note and no items: looking
        a visitor up creates nothing.
        """
        if subject is None:
            return {"enabled": True, "note": "personalization is off", "items": []}
        try:
            found = self.kit.recommend.recommend(subject, 4)
        except PersonakitError as exc:
            return {"enabled": True, "note": type(exc).__name__, "items": []}
        return {"enabled": True, "note": "", "items": _shown(found)}

    def journeys_note(self) -> str:
        """What the cart's events do for the cart-abandonment journey."""
        # Journeys trigger in the transaction that accepts the event: nothing to call here.
        return "cart-abandonment journey: triggered by these cart events (see the operator page)"

    # -- the operator page ------------------------------------------------------------------

    def operator(self) -> dict[str, Any]:
        """DP figures, the audit chain, the journeys' outbox and the audit pack if present."""
        with self._lock:  # one release at a time: the ledger is shared by all threads
            figures = self._dp_figures()
        report = self.kit.audit.verify()
        reporting = getattr(self.kit, "reporting", None)
        return {
            "dp": figures,
            "audit": {"ok": report.ok, "entries": report.entries, "head_seq": report.head_seq},
            "rules_sha256": self._rules_sha256(),
            "journeys": self._outbox(),
            "reporting": NOT_ENABLED if reporting is None else "available: personakit report",
        }

    def _rules_sha256(self) -> str | None:
        current = self.kit.personalization.rules.current
        return current.sha256 if current is not None else None

    def _outbox(self) -> list[str]:
        """The journeys' actions due to send within :data:`OUTBOX_AHEAD` (no addresses shown)."""
        ahead = self.kit.clock.now() + OUTBOX_AHEAD
        return [
            f"{a.journey}/{a.step} by {a.channel} ({a.template}), "
            f"send after {a.send_after.isoformat(timespec='minutes')}"
            for a in self.kit.journeys.pending(ahead, limit=50)
        ]

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


def _shown(found: Recommendations) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for r in found.items:
        known = product(r.item)
        name = known.name if known is not None else r.item
        rows.append({"item": r.item, "name": name, "reason": r.explanation})
    return rows
