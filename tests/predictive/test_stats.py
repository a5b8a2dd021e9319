"""PurchaseStats: O(1) updates agree with the summary the replication uses; merges add up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personakit import testing
from personakit._codec import canonical_json
from personakit.predictive import Purchase, PurchaseStats, summarize
from personakit.predictive._stats import MAX_SPAN_DAYS

DAY0 = date(2025, 1, 6)
END = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ORDERS = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 10_000)), min_size=1, max_size=30)


def _stats(orders: list[tuple[int, int]], *, in_order: bool = True) -> PurchaseStats:
    ordered = sorted(orders) if in_order else orders
    stats = PurchaseStats.start(DAY0 + timedelta(days=ordered[0][0]), ordered[0][1])
    for offset, cents in ordered[1:]:
        stats = stats.add(DAY0 + timedelta(days=offset), cents)
    return stats


@given(orders=ORDERS)
def test_updates_in_time_order_match_the_summary_of_the_whole_history(
    orders: list[tuple[int, int]],
) -> None:
    stats = _stats(orders)
    purchases = [Purchase("c", DAY0 + timedelta(days=o), cents / 100) for o, cents in orders]
    summary = summarize(purchases, END.date())["c"]
    x, t_x, big_t, mean = stats.model_inputs(END)
    assert (x, t_x, big_t) == (summary.x, summary.t_x, summary.big_t)
    assert mean == pytest.approx(summary.mean_value)
    assert PurchaseStats.from_bytes(stats.to_bytes()) == stats


@given(orders=ORDERS, data=st.data())
def test_updates_in_any_order_match_the_summary_of_the_whole_history(
    orders: list[tuple[int, int]], data: st.DataObject
) -> None:
    # purchases recorded late (imports, offline tills): a day already counted counts once
    shuffled = data.draw(st.permutations(orders))
    stats = _stats(shuffled, in_order=False)
    assert stats == _stats(orders)
    purchases = [Purchase("c", DAY0 + timedelta(days=o), cents / 100) for o, cents in orders]
    summary = summarize(purchases, END.date())["c"]
    x, t_x, big_t, mean = stats.model_inputs(END)
    assert (x, t_x, big_t) == (summary.x, summary.t_x, summary.big_t)
    assert mean == pytest.approx(summary.mean_value)
    assert stats.purchase_days() == sorted({DAY0 + timedelta(days=o) for o, _ in orders})


@given(orders=ORDERS, other=ORDERS)
def test_merging_two_histories_that_share_days_is_the_stats_of_both(
    orders: list[tuple[int, int]], other: list[tuple[int, int]]
) -> None:
    merged = _stats(orders).merge(_stats(other))
    assert merged == _stats(orders + other)
    assert _stats(other).merge(_stats(orders)) == merged


def test_a_record_without_day_bits_still_reads_and_updates() -> None:
    # written before the day bits were kept: read as it was, a late day counts as new
    legacy = PurchaseStats.start(DAY0, 100).add(DAY0 + timedelta(days=10), 200)
    old = {k: v for k, v in legacy.to_json().items() if k != "purchase_day_bits"}
    read = PurchaseStats.from_bytes(canonical_json(old))
    assert read.seen is None
    assert read.purchase_days() is None
    assert read.add(DAY0 + timedelta(days=10), 50).days == 2  # the last day is still known
    assert read.add(DAY0 + timedelta(days=5), 50).days == 3


def test_a_history_spanning_decades_stops_keeping_day_bits() -> None:
    stats = PurchaseStats.start(DAY0, 100).add(DAY0 + timedelta(days=MAX_SPAN_DAYS + 1), 100)
    assert stats.seen is None
    assert stats.days == 2
    assert len(stats.to_bytes()) < 200
    early = PurchaseStats.start(DAY0, 100).add(DAY0 - timedelta(days=MAX_SPAN_DAYS + 1), 100)
    assert (early.seen, early.days) == (None, 2)


@given(orders=ORDERS, other=ORDERS)
def test_merging_two_histories_on_different_days_is_the_stats_of_both(
    orders: list[tuple[int, int]], other: list[tuple[int, int]]
) -> None:
    shifted = [(offset + 400, cents) for offset, cents in other]  # no day in common
    merged = _stats(orders).merge(_stats(shifted))
    assert merged == _stats(orders + shifted)
    assert _stats(shifted).merge(_stats(orders)) == merged


def test_a_link_folds_the_anonymous_history_into_the_known_customer() -> None:
    kit, _ = testing.memory_kit()
    with kit:
        for ident in ("anon:cookie1", "customer:k1"):
            subject = kit.identity.resolve(ident, create=True)
            kit.consent.grant(
                subject,
                "personalization",
                notice="privacy_notice",
                notice_version="2026-01",
                source="web",
            )
        kit.track(
            "anon:cookie1",
            "purchase",
            channel="web",
            properties={"item": "a", "value_cents": 300},
            at="2025-12-01T10:00:00Z",
        )
        kit.track(
            "customer:k1",
            "purchase",
            channel="web",
            properties={"item": "b", "value_cents": 500},
            at="2025-12-20T10:00:00Z",
        )
        kit.link("anon:cookie1", "customer:k1")
        known = kit.identity.lookup("customer:k1")
        assert known is not None
        stats = kit.predict.stats(known)
        assert stats is not None
        assert (stats.days, stats.total_cents, stats.first_cents) == (2, 800, 300)
