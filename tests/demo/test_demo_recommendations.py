"""The seeded history gives ``kit.recommend`` enough consenting support for the bread tour.

The model uses a pair only when at least 5 distinct consenting customers support it: the demo's
synthetic history (a fixed seed) must give every loaf a bread neighbour, so a visitor who
accepts and views bread sees bread recommended with its reason.
"""

from __future__ import annotations

import pytest

pytest.importorskip("flask")

from personakit.demo import CATALOGUE
from personakit_demo import running_shop

BREAD = {p.id for p in CATALOGUE if p.category == "bread"}


def test_every_loaf_has_a_supported_bread_neighbour(tmp_path):
    with running_shop(tmp_path / "demo") as shop:
        assert shop.kit.recommend.params.min_support == 5
        for item in sorted(BREAD):
            found = shop.kit.recommend.similar_items(item, 4)
            neighbours = {r.item for r in found.items}
            assert neighbours & (BREAD - {item}), item
            for r in found.items:
                assert r.explanation.startswith("Often chosen with ")


def test_items_just_viewed_are_not_recommended_back(tmp_path):
    """The home page leaves out the latest ``recent_views`` items viewed; 0 turns that off."""
    from personakit.demo import NOTICE, Shop  # noqa: PLC0415

    with running_shop(tmp_path / "demo") as shop:
        kit = shop.kit
        subject = kit.identity.resolve("customer:browser", create=True)
        kit.consent.grant(subject, ["personalization", "analytics"], source="web", **NOTICE)
        for item in ("sourdough", "baguette"):
            kit.track(
                "customer:browser",
                "product_view",
                channel="web",
                properties={"item": item, "category": "bread", "price_cents": 100},
            )
        shown = Shop(kit, tmp_path / "demo").recommended(subject)["items"]
        items = {row["item"] for row in shown}
        assert items
        assert not items & {"sourdough", "baguette"}
        assert "rye" in items  # the loaf not seen yet, for having viewed the other two
        one = Shop(kit, tmp_path / "demo", recent_views=1)
        assert one.recently_viewed(subject) == ["baguette"]
        assert "baguette" not in {row["item"] for row in one.recommended(subject)["items"]}
        everything = Shop(kit, tmp_path / "demo", recent_views=0)
        assert everything.recently_viewed(subject) == []
        back = {row["item"] for row in everything.recommended(subject)["items"]}
        assert back & {"sourdough", "baguette"}  # without the exclusion they come back
