"""The bakery's catalogue and its synthetic history: customers, orders and store visits.

Everything is generated from a fixed seed, so two first starts make the same shop. The lines
go through ``kit.ingest`` like a real shop's export would: consent first, then traits, then
events, each customer's data sealed with their own key.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from attrs import frozen

__all__ = [
    "CATALOGUE",
    "MARKETING_NOTICE",
    "MARKETING_TEXT",
    "NOTICE",
    "SEED",
    "Product",
    "history_lines",
    "product",
]

#: The seed of the synthetic history (the same shop on every first start).
SEED: Final = 2026
#: The privacy notice every consent line and banner choice refers to.
NOTICE: Final = {"notice": "privacy_notice", "notice_version": "2026-01"}
#: The marketing notice the sign-in form's e-mail checkbox refers to (recorded with the grant).
MARKETING_NOTICE: Final = {"notice": "marketing_notice", "notice_version": "2026-01"}
#: What the sign-in form shows next to its (unticked) e-mail checkbox.
MARKETING_TEXT: Final = (
    "Send me e-mails from La Boulangerie: a reminder when I leave something in my cart, and "
    "now and then our new bakes. At most one e-mail a day; every e-mail has a one-click "
    "unsubscribe link, and you can withdraw at any time in the privacy center."
)


@frozen
class Product:
    """One item on sale."""

    id: str
    name: str
    category: str
    price_cents: int


CATALOGUE: Final = (
    Product("sourdough", "Sourdough loaf", "bread", 450),
    Product("baguette", "Baguette", "bread", 120),
    Product("rye", "Rye bread", "bread", 380),
    Product("croissant", "Croissant", "pastry", 180),
    Product("pain-au-chocolat", "Pain au chocolat", "pastry", 200),
    Product("eclair", "Chocolate eclair", "pastry", 320),
    Product("lemon-tart", "Lemon tart", "cake", 420),
    Product("carrot-cake", "Carrot cake slice", "cake", 390),
    Product("coffee", "Filter coffee", "drinks", 250),
    Product("butter", "Salted butter", "grocery", 300),
    Product("jam", "Apricot jam", "grocery", 520),
)
_BY_ID: Final = {p.id: p for p in CATALOGUE}
_FIRST_NAMES: Final = ("Ana", "Ben", "Chloe", "David", "Emma", "Farid", "Gina", "Hugo", "Ines")
_STORES: Final = ("lyon-1", "lyon-2")


def product(item: str) -> Product | None:
    """The product with id ``item``, or None."""
    return _BY_ID.get(item)


def history_lines(
    *, customers: int = 40, seed: int = SEED, now: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Ingest lines for ``customers`` synthetic regulars over the 90 days before ``now``.

    Each customer has a favourite category (so personalization has something to find), gives
    or refuses consent per purpose, buys 2-12 times on the web or in a shop and visits a shop.
    """
    rng = random.Random(seed)  # noqa: S311 (synthetic data, not a secret)
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    categories = sorted({p.category for p in CATALOGUE})
    for number in range(1, customers + 1):
        who = f"customer:{1000 + number}"
        start = end - timedelta(days=90)
        for purpose in ("personalization", "analytics"):
            status = "given" if rng.random() < 0.8 else "refused"  # noqa: PLR2004
            yield {
                "kind": "consent",
                "subject": who,
                "purpose": purpose,
                "status": status,
                "source": "web",
                "at": _iso(start),
                **NOTICE,
            }
        name = rng.choice(_FIRST_NAMES)
        yield {
            "kind": "traits",
            "subject": who,
            "traits": {"first_name": name, "email": f"{name.lower()}.{number}@example.com"},
            "at": _iso(start),
        }
        favourite = rng.choice(categories)
        for _ in range(rng.randint(2, 12)):
            at = start + timedelta(minutes=rng.randint(60, 90 * 24 * 60 - 60))
            pool = [p for p in CATALOGUE if p.category == favourite or rng.random() < 0.2]  # noqa: PLR2004
            item = rng.choice(pool or list(CATALOGUE))
            in_store = rng.random() < 0.5  # noqa: PLR2004
            if in_store:
                yield {
                    "kind": "event",
                    "subject": who,
                    "name": "store_visit",
                    "channel": "store",
                    "at": _iso(at - timedelta(minutes=5)),
                    "properties": {"store_id": rng.choice(_STORES)},
                }
            yield {
                "kind": "event",
                "subject": who,
                "name": "purchase",
                "channel": "store" if in_store else "web",
                "at": _iso(at),
                "properties": {
                    "item": item.id,
                    "category": item.category,
                    "value_cents": item.price_cents,
                },
            }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
