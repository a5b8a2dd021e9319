"""EASE over the shared sums: the privacy rule holds, and erasure reaches the derived inverse."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from personakit import Personakit, testing
from personakit.recommendations import Params
from personakit.recommendations._model import Interaction, ItemModel

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "web"}
ITEMS = [f"i{n}" for n in range(6)]

records = st.lists(
    st.sets(st.sampled_from(ITEMS), min_size=1, max_size=4).map(
        lambda items: {i: Interaction(1, 0, 1) for i in sorted(items)}
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(records=records, support=st.integers(1, 3))
def test_ease_lists_only_pairs_with_enough_support(
    records: list[dict[str, Interaction]], support: int
) -> None:
    params = Params(kind="ease", l2=1.0, min_support=support)
    model = ItemModel.from_contributions(records, params)
    for item, row in model.rows.items():
        for weight, other in model.neighbours(item):
            assert weight > 0
            assert row.co[other] >= support


def _kit_with(customers: list[list[str]]) -> Personakit:
    kit, _ = testing.memory_kit()
    kit.recommend.params = Params(kind="ease", l2=1.0, min_support=1, half_life_s=1e9)
    for n, items in enumerate(customers):
        subject = kit.identity.resolve(f"customer:{n}", create=True)
        kit.consent.grant(subject, ["personalization"], **NOTICE)
        props = {"items": [{"item": i} for i in items]}
        kit.track(f"customer:{n}", "purchase", channel="web", properties=props)
    return kit


def test_after_an_erasure_ease_answers_as_if_the_customer_never_came() -> None:
    baskets = [["a", "b"], ["a", "c"], ["b", "c", "d"], ["a", "d", "e"]]
    kit = _kit_with(baskets)
    without = _kit_with(baskets[:3])
    with kit, without:
        asker = kit.identity.lookup("customer:0")
        same = without.identity.lookup("customer:0")
        assert asker is not None
        assert same is not None
        before = kit.recommend.recommend(asker, 3)
        erased = kit.identity.lookup("customer:3")
        assert erased is not None
        kit.rights.erase(erased)
        after = kit.recommend.recommend(asker, 3)
        assert after == without.recommend.recommend(same, 3)
        assert after != before  # the erased basket had changed the answer
