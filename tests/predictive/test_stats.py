"""PurchaseStats: O(1) updates agree with the summary the replication uses; merges add up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personakit import testing
from personakit.predictive import Purchase, PurchaseStats, summarize

DAY0 = date(2025, 1, 6)
END = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ORDERS = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 10_000)), min_size=1, max_size=30)


def _stats(orders: list[tuple[int, int]]) -> PurchaseStats:
    ordered = sorted(orders)
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
