"""The bakery's logic, framework-free: seeding, the banner decision, panels, the operator view.

The Flask app (:mod:`personakit_demo`) only renders what this returns. The home banner is
``kit.personalization.decide`` on the shipped ``rules.json`` (loaded with ``load_rules``).
Recommendations are ``kit.recommend``'s, each shown with the explanation of its answer; the
cart's events trigger ``kit.journeys``' cart abandonment.
"""

from __future__ import annotations

import json
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Final

from personakit import Personakit
from personakit.demo._data import CATALOGUE, MARKETING_NOTICE, NOTICE, history_lines, product
from personakit.exceptions import ConsentRequired, PersonakitError
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
_INTEREST_KINDS: Final = frozenset({"purchase", "product_view", "add_to_cart"})
#: How many of the visitor's latest product views the home page does not recommend back.
RECENT_VIEWS: Final = 3


def choices_body(*, accept: bool) -> bytes:
    """The privacy center's ``POST /consent`` body for the banner's accept / refuse."""
    document = {
        **NOTICE,
        "choices": {"personalization": accept, "analytics": accept},
    }
    return json.dumps(document).encode("utf-8")


class Shop:
    """The demo shop's state around one kit and its demo directory."""

    def __init__(
        self, kit: Personakit, directory: Path, *, recent_views: int = RECENT_VIEWS
    ) -> None:
        """Load the shipped rule set (audit-logged), the cart journey and the catalogue.

        ``recent_views``: the home page does not recommend the items of the visitor's latest
        that many product views (0: recommend them back).
        """
        self.kit = kit
        self.directory = directory
        self.recent_views = recent_views
        self._released: dict[str, Any] | None = None
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
        a visitor up creates nothing. The items of the visitor's latest ``recent_views``
        product views are left out: they were just seen, recommending them back is noise.
        """
        if subject is None:
            return {"enabled": True, "note": "personalization is off", "items": []}
        context = {"exclude": self.recently_viewed(subject)}
        try:
            found = self.kit.recommend.recommend(subject, 4, context)
        except PersonakitError as exc:
            return {"enabled": True, "note": type(exc).__name__, "items": []}
        return {"enabled": True, "note": "", "items": _shown(found)}

    def recently_viewed(self, subject: str) -> list[str]:
        """The distinct items of ``subject``'s latest ``recent_views`` product views."""
        if self.recent_views <= 0:
            return []
        views = [e for e in self.kit.events.read(subject) if e.kind == "product_view"]
        # Newest first (views of one instant, as under a fixed clock, in the log's order).
        order = sorted(range(len(views)), key=lambda n: (views[n].at, n), reverse=True)
        seen: list[str] = []
        for event in (views[n] for n in order[: self.recent_views]):
            item = event.properties.get("item")
            if isinstance(item, str) and item not in seen:
                seen.append(item)
        return seen

    def subscribe(self, subject: str, address: str) -> None:
        """Record the sign-in form's ticked e-mail box: the grant, then the address.

        The grant refers to the marketing notice the form showed; the address is kept as the
        ``email`` trait the cart reminder is sent to (its category needs that basis).
        """
        self.kit.consent.grant(
            subject,
            "marketing.email",
            notice=MARKETING_NOTICE["notice"],
            notice_version=MARKETING_NOTICE["notice_version"],
            source="web",
            actor="demo-shop",
        )
        try:
            self.kit.traits.update(subject, {"email": address}, source="web", actor="demo-shop")
        except ConsentRequired:  # no basis for contact data after all: keep nothing
            return

    def journeys_note(self) -> str:
        """What the cart's events do for the cart-abandonment journey."""
        # Journeys trigger in the transaction that accepts the event: nothing to call here.
        return "cart-abandonment journey: triggered by these cart events (see the operator page)"

    # -- the operator page ------------------------------------------------------------------

    def operator(self) -> dict[str, Any]:
        """DP figures, the audit chain, the journeys' outbox: read only, nothing is written.

        The DP figure shown is the last one released (:meth:`release`): viewing the page
        spends no privacy budget, and the outbox is listed without the re-checks that
        ``pending`` makes (and writes).
        """
        report = self.kit.audit.verify()
        reporting = getattr(self.kit, "reporting", None)
        return {
            "dp": {
                "orders": self._released,
                "budget": self.kit.analytics.budget("orders").to_json(),
            },
            "audit": {"ok": report.ok, "entries": report.entries, "head_seq": report.head_seq},
            "rules_sha256": self._rules_sha256(),
            "journeys": self._outbox(),
            "reporting": NOT_ENABLED if reporting is None else "available: personakit report",
        }

    def release(self) -> dict[str, Any]:
        """Release a DP count of orders (spends budget, audit-logged); the page shows it."""
        with self._lock:  # one release at a time: the ledger is shared by all threads
            try:
                result = self.kit.analytics.count(
                    "orders", epsilon=_DP_EPSILON, reason="demo operator page: orders"
                )
                self._released = {
                    "value": result.value,
                    "interval": result.interval,
                    "mechanism": result.mechanism,
                    "spent_now": result.spent_now,
                }
            except PersonakitError as exc:
                self._released = {"error": type(exc).__name__}
            return self._released

    def _rules_sha256(self) -> str | None:
        current = self.kit.personalization.rules.current
        return current.sha256 if current is not None else None

    def _outbox(self) -> list[str]:
        """The journeys' queued actions, soonest first (no addresses shown, nothing written)."""
        return [
            f"{a['journey']}/{a['step']} by {a['channel']} ({a['template']}), "
            f"send after {a['send_after'].isoformat(timespec='minutes')}"
            for a in self.kit.journeys.queued(limit=50)
        ]


def _shown(found: Recommendations) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for r in found.items:
        known = product(r.item)
        name = known.name if known is not None else r.item
        rows.append({"item": r.item, "name": name, "reason": r.explanation})
    return rows
