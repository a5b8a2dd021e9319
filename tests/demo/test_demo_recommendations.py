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
