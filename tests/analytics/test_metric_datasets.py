"""Named metrics over datasets other capabilities register, on a real kit on disk.

A journey with a holdout, then purchases: conversion over ``journeys.entries`` gives rates,
an uplift against the holdout with an interval, and ledger releases; segment sizes come from
``personalization.segments`` through the ``segment_sizes`` metric.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _journey_kit import customer
from _shared import PRIVACY
from personakit import InvalidInput, LocalKeyProvider, Personakit, generate_master_key, testing
from personakit._clock import FixedClock

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HELD = {
    "id": "held",
    "trigger": {"type": "event", "event": "add_to_cart"},
    "steps": [{"id": "only", "template": "cart_abandonment"}],
    "holdout": 0.5,
}


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Personakit]:
    with Personakit.open(
        tmp_path / "store", keys=LocalKeyProvider(generate_master_key()), clock=FixedClock(START)
    ) as opened:
        yield opened


def test_journey_conversion_uplift_and_segment_sizes(kit: Personakit) -> None:
    kit.journeys.load([HELD])
    subjects = []
    for n in range(40):
        subject = customer(kit, f"m{n}")
        kit.consent.grant(subject, "analytics", **PRIVACY)
        kit.track(f"customer:m{n}", "add_to_cart", channel="web", properties={"item": "p"})
        subjects.append(subject)
    kit.journeys.run_due()
    entries = dict(kit.registries.datasets.rows("journeys.entries", "analytics"))
    assert set(entries) == set(subjects)
    arms = Counter(row["arm"] for row in entries.values())
    assert arms["holdout"] == kit.journeys.report()["held"]["-"]["holdout"]
    assert 0 < arms["holdout"] < 40
    # every treated customer buys, one holdout customer in two: true uplift about 0.5
    names = {s: f"customer:m{n}" for n, s in enumerate(subjects)}
    buyers = [s for i, s in enumerate(subjects) if entries[s]["arm"] == "treated" or i % 2 == 0]
    for i, subject in enumerate(buyers):
        kit.track(
            names[subject],
            "purchase",
            channel="web",
            properties={"order_id": f"o{i}", "item": "p", "value_cents": 900},
        )
    entries = dict(kit.registries.datasets.rows("journeys.entries", "analytics"))
    assert {s for s, row in entries.items() if row["converted"]} == set(buyers)

    kit.analytics.set_budget("journeys.entries", epsilon=400.0)
    result = kit.analytics.conversion(
        "journeys.entries",
        "arm",
        "converted",
        treatment="treated",
        holdout="holdout",
        epsilon=200.0,
    )
    truth = (
        1.0
        - sum(entries[s]["converted"] for s in entries if entries[s]["arm"] == "holdout")
        / arms["holdout"]
    )
    rates, uplift = result.value["rates"], result.value["uplift"]
    assert set(rates) == {"treated", "holdout"}
    low, high = result.interval
    assert low <= uplift <= high
    assert abs(uplift - truth) < 0.25  # noise scale 0.2 per count at epsilon 100 a half
    releases = kit.analytics.ledger.releases("journeys.entries")
    assert len(releases) == 2
    assert kit.analytics.budget("journeys.entries").releases == 2

    sizes = {k: v for k, v in kit.personalization.sizes().items() if v}
    assert sizes
    kit.analytics.set_budget("personalization.segments", epsilon=200.0)
    counted = kit.analytics.metric("segment_sizes", segments=sorted(sizes), epsilon=100.0)
    assert set(counted.value) == set(sizes)
    for segment, size in sizes.items():
        assert abs(counted.value[segment] - size) < 5  # noise scale 0.2 (20 rows a customer)
    assert kit.analytics.budget("personalization.segments").releases == 1


@settings(max_examples=8, deadline=None)
@given(consents=st.lists(st.booleans(), min_size=1, max_size=5))
def test_offered_rows_are_only_of_customers_with_a_basis_for_analytics(
    consents: list[bool],
) -> None:
    """Any mix of consents: journeys.entries and personalization.segments read only consenters."""
    kit, _ = testing.memory_kit(clock=FixedClock(START))
    with kit:
        kit.journeys.load([HELD])
        allowed = set()
        for n, consent in enumerate(consents):
            subject = customer(kit, f"p{n}")
            if consent:
                kit.consent.grant(subject, "analytics", **PRIVACY)
                allowed.add(subject)
            kit.track(f"customer:p{n}", "add_to_cart", channel="web", properties={"item": "p"})
            kit.track(
                f"customer:p{n}",
                "purchase",
                channel="web",
                properties={"order_id": f"o{n}", "item": "p", "value_cents": 100},
            )
        kit.journeys.run_due()
        entries = list(kit.registries.datasets.rows("journeys.entries", "analytics"))
        assert sorted(s for s, _ in entries) == sorted(allowed)
        segments = list(kit.registries.datasets.rows("personalization.segments", "analytics"))
        assert {s for s, _ in segments} == allowed


def test_conversion_with_a_tiny_epsilon_answers_without_an_interval_and_refuses_no_outcome() -> (
    None
):
    """The noise of epsilon 1e-300 has no finite variance: the answer stands without an
    interval (it raised OverflowError after spending); a missing outcome is refused first."""
    kit, _ = testing.memory_kit()
    with kit:
        subject = kit.identity.resolve("customer:tiny", create=True)
        kit.consent.grant(subject, ["analytics"], **PRIVACY)
        kit.track(
            "customer:tiny", "purchase", channel="web", properties={"item": "b", "value_cents": 450}
        )
        kit.analytics.set_budget("orders", epsilon=50)
        keys = {"treatment": "web", "holdout": "store", "actor": "system"}
        result = kit.analytics.conversion("orders", "channel", "month", epsilon=1e-300, **keys)
        assert result.interval is None
        spent = kit.analytics.budget("orders")
        with pytest.raises(InvalidInput):
            kit.analytics.conversion("orders", "channel", None, epsilon=1.0, **keys)  # type: ignore[arg-type]
        assert kit.analytics.budget("orders") == spent
