"""The evaluation's temporal split: boundary timestamps, same-second order, the metrics."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from personakit.recommendations import Params
from personakit.recommendations.offline import (
    evaluate,
    popularity_baseline,
    temporal_split,
)


def test_events_sharing_the_boundary_timestamp_all_go_to_the_test_side() -> None:
    # 10 events, the last 2 (20%) held out; the 8th shares the 9th's second, so it goes too
    ratings = [("u", f"i{n}", n) for n in range(7)] + [
        ("u", "i7", 8),
        ("u", "i8", 8),
        ("u", "i9", 9),
    ]
    split = temporal_split(ratings)
    assert set(split.train["u"]) == {f"i{n}" for n in range(7)}
    assert split.test["u"] == {"i7", "i8", "i9"}


def test_when_every_event_shares_the_boundary_all_go_to_training() -> None:
    split = temporal_split([("u", f"i{n}", 5) for n in range(6)])
    assert len(split.train["u"]) == 6
    assert "u" not in split.test


@settings(max_examples=50, deadline=None)
@given(
    times=st.lists(st.integers(0, 6), min_size=1, max_size=30),
    seed=st.integers(0, 2**16),
)
def test_the_order_of_events_cannot_change_the_split(times: list[int], seed: int) -> None:
    ratings = [("u", f"i{n}", t) for n, t in enumerate(times)]
    shuffled = ratings[:]
    random.Random(seed).shuffle(shuffled)
    a, b = temporal_split(ratings), temporal_split(shuffled)
    assert a.train == b.train
    assert a.test == b.test
    cut = min((t for (_, i, t) in ratings if i in a.test.get("u", set())), default=None)
    if cut is not None:  # everything held out is later than everything kept
        assert all(x.last < cut for x in a.train["u"].values())


def test_metrics_are_bounded_for_both_rankings() -> None:
    rng = random.Random(3)
    ratings = [
        (f"u{u}", f"i{rng.randrange(40)}", rng.randrange(1000))
        for u in range(60)
        for _ in range(15)
    ]
    split = temporal_split(ratings)
    rec = evaluate(split, Params(min_support=1))
    pop = popularity_baseline(split)
    for quality in (rec, pop):
        assert 0.0 <= quality.ndcg <= 1.0
        assert 0.0 <= quality.hr <= 1.0
