"""``kit.recommend``: history, exclusions, filters, min support, explanations, typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from personakit import LocalKeyProvider, Personakit
from personakit.exceptions import InvalidInput

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "web"}
CATALOGUE = {
    "sourdough": {"name": "Sourdough loaf", "category": "bread", "price_cents": 450},
    "rye": {"category": "bread", "price_cents": 400},
    "butter": {"category": "dairy", "price_cents": 250, "in_stock": True},
    "jam": {"category": "spreads", "price_cents": 600, "in_stock": False},
    "honey": {"category": "spreads", "price_cents": 900},
}


def _shop(kit: Personakit, baskets: list[list[str]], *, consent: bool = True) -> list[str]:
    subjects = []
    for n, basket in enumerate(baskets):
        ident = f"customer:t{n}-{len(baskets)}-{consent}"
        kit.track(ident, "purchase", channel="web", properties={"item": basket[0]})
        subject = kit.identity.lookup(ident)
        assert subject is not None
        if consent:
            kit.consent.grant(subject, ["personalization"], **NOTICE)
            kit.track(
                ident,
                "purchase",
                channel="web",
                properties={"items": [{"item": i} for i in basket]},
            )
        subjects.append(subject)
    return subjects


@pytest.fixture
def kit(tmp_path: Path, master_key: str) -> Personakit:
    opened = Personakit.open(tmp_path / "s", keys=LocalKeyProvider(master_key))
    _shop(opened, [["sourdough", "butter", "honey"]] * 6 + [["rye", "jam", "honey"]] * 4)
    return opened


def test_history_ranks_with_reasons_and_bought_items_are_excluded(kit: Personakit) -> None:
    (me,) = _shop(kit, [["sourdough"]])
    answer = kit.recommend.recommend(me, 3)
    assert answer.personalized
    first = answer.items[0]
    assert first.item in {"butter", "honey"}
    assert first.explanation == "Because you bought sourdough"
    assert first.because == ("sourdough",)
    assert "sourdough" not in [r.item for r in answer.items]
    kept = kit.recommend.recommend(me, 5, {"exclude_bought": False})
    assert "sourdough" in [r.item for r in kept.items]


def test_a_pair_below_min_support_is_not_used(kit: Personakit) -> None:
    (me,) = _shop(kit, [["rye", "jam"]])  # rye-jam: 5 supporters with me; rye-honey: 4
    similar = {r.item for r in kit.recommend.similar_items("rye", 10).items}
    assert similar == {"jam"}
    kit.recommend.params = kit.recommend.params.__class__(min_support=6)
    assert kit.recommend.similar_items("sourdough", 10).items != ()
    with pytest.raises(InvalidInput):  # fewer than 6 customers chose rye: not revealed
        kit.recommend.similar_items("rye", 10)
    kit.recommend.use_catalogue(CATALOGUE)  # a listed item is known, its pairs still withheld
    assert kit.recommend.similar_items("rye", 10).items == ()
    answer = kit.recommend.recommend(me, 2)
    assert not answer.personalized  # my items' pairs lack support: popularity, saying so
    assert answer.items[0].item == "honey"
    assert answer.items[0].explanation == "Popular this week"


def test_business_filters_use_the_catalogue(kit: Personakit) -> None:
    (me,) = _shop(kit, [["rye"]])
    with pytest.raises(InvalidInput):
        kit.recommend.recommend(me, 3, {"category": "spreads"})  # no catalogue yet
    kit.recommend.use_catalogue(CATALOGUE)
    spreads = kit.recommend.recommend(me, 3, {"category": "spreads"})
    assert [r.item for r in spreads.items] == ["honey"]  # jam is out of stock
    cheap = kit.recommend.recommend(me, 5, {"max_price_cents": 500, "in_stock": False})
    assert {r.item for r in cheap.items} <= {"sourdough", "butter", "jam"} - {"jam"} | {"rye"}
    assert "honey" not in {r.item for r in cheap.items}
    hosted = kit.recommend.recommend(me, 5, where=lambda item: item != "honey")
    assert "honey" not in {r.item for r in hosted.items}
    named = kit.recommend.similar_items("butter", 1).items[0]
    assert named.explanation == "Often chosen with butter"
    assert kit.recommend.similar_items("honey", 2).items[0].because == ("honey",)


def test_cold_start_and_no_consent_fall_back_to_popularity_saying_so(kit: Personakit) -> None:
    (without,) = _shop(kit, [["butter"]], consent=False)
    answer = kit.recommend.recommend(without, 2)
    assert not answer.personalized
    assert answer.items[0].item == "honey"
    assert answer.items[0].explanation == "Popular this week: personalization is off"
    kit.consent.grant(without, ["personalization"], **NOTICE)
    cold = kit.recommend.recommend(without, 2)
    assert cold.items[0].explanation == "Popular this week: not enough history yet"


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (lambda k, s: k.recommend.recommend(s, 0), "k"),
        (lambda k, s: k.recommend.recommend(s, 1001), "k"),
        (lambda k, s: k.recommend.recommend(s, True), "k"),
        (lambda k, s: k.recommend.recommend(s, 3, {"colour": "red"}), "context"),
        (lambda k, s: k.recommend.recommend(s, 3, {"exclude": "rye"}), "context.exclude"),
        (
            lambda k, s: k.recommend.recommend(s, 3, {"max_price_cents": -1}),
            "context.max_price_cents",
        ),
        (lambda k, s: k.recommend.recommend(s, 3, where=lambda i: 1 / 0), "where"),
        (lambda k, s: k.recommend.similar_items("caviar"), "item"),
        (lambda k, s: k.recommend.similar_items("x\ud800"), "item"),
        (
            lambda k, s: k.recommend.use_catalogue({"rye": {"price_cents": "cheap"}}),
            "catalogue[0].price_cents",
        ),
    ],
)
def test_bad_input_is_a_typed_error(kit: Personakit, call: object, where: str) -> None:
    (me,) = _shop(kit, [["rye"]])
    with pytest.raises(InvalidInput) as raised:
        call(kit, me)  # type: ignore[operator]
    assert where in [p.where for p in raised.value.problems]


def test_the_dataset_yields_subjects_with_a_basis_and_no_item_ids(kit: Personakit) -> None:
    (without,) = _shop(kit, [["butter"]], consent=False)
    rows = dict(kit.registries.datasets.rows("recommendations.interactions", "personalization"))
    assert len(rows) == 10
    assert without not in rows
    assert all(set(row) == {"items", "interactions", "bought"} for row in rows.values())
    assert {row["items"] for row in rows.values()} == {3}
    with pytest.raises(InvalidInput):
        list(kit.recommend.dataset("no-such-purpose"))
