"""Segments: built-ins over time, the index and its entered / left changes, defined segments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from _shared import PRIVACY
from personakit import FixedClock, LocalKeyProvider, Personakit, generate_master_key
from personakit.cli import main
from personakit.exceptions import ConfigurationError, InvalidInput
from personakit.personalization import (
    MISSING,
    Facts,
    LifecycleThresholds,
    PersonalizationConfig,
    RfmThresholds,
    Segment,
)
from personakit.workflows import SegmentChange

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def kit() -> Iterator[tuple[Personakit, FixedClock]]:
    """A kit with short lifecycle thresholds and fixed RFM cut points."""
    clock = FixedClock(START)
    config = PersonalizationConfig(
        lifecycle=LifecycleThresholds(new_days=7, at_risk_days=20, lapsed_days=30, churned_days=90),
        rfm=RfmThresholds(
            recency_days=(10, 20, 30, 40), frequency=(1, 2, 3, 4), monetary_cents=(1, 2, 3, 4)
        ),
    )
    made = Personakit.open(
        "memory:", keys=LocalKeyProvider(generate_master_key()), clock=clock, personalization=config
    )
    with made:
        yield made, clock


def _raises(facts: Facts) -> Any:
    return 1 / 0


def _not_a_bool(facts: Facts) -> Any:
    return "yes"


def _customer(kit: Personakit, who: str) -> str:
    subject = kit.identity.resolve(who, create=True)
    kit.consent.grant(subject, ["personalization"], **PRIVACY)
    return subject


def test_lifecycle_moves_with_time_and_refresh_reports_each_change(
    kit: tuple[Personakit, FixedClock],
) -> None:
    """new -> active -> at risk -> lapsed -> churned: live at once, in the index at refresh."""
    made, clock = kit
    changes: list[SegmentChange] = []
    made.registries.hooks.on_segment_change("journeys-probe", changes.append)
    subject = _customer(made, "customer:1")
    made.track("customer:1", "purchase", channel="web", properties={"item": "a", "value_cents": 5})
    service = made.personalization
    assert "lifecycle.new" in service.segments_of(subject)
    assert service.members("lifecycle.new") == [subject]
    stages = []
    for days in (8, 21, 31, 91):
        now = START + timedelta(days=days)
        live = [s for s in service.segments_of(subject, now) if s.startswith("lifecycle.")]
        service.refresh(now)
        stages.append(live)
        assert [
            n for n in service.sizes() if n.startswith("lifecycle.") and service.sizes()[n]
        ] == live
    assert stages == [
        ["lifecycle.active"],
        ["lifecycle.at_risk"],
        ["lifecycle.lapsed"],
        ["lifecycle.churned"],
    ]
    entered = [
        c.segment for c in changes if c.change == "entered" and c.segment.startswith("lifecycle.")
    ]
    assert entered == [
        "lifecycle.new",
        "lifecycle.active",
        "lifecycle.at_risk",
        "lifecycle.lapsed",
        "lifecycle.churned",
    ]
    assert all(c.subject == subject for c in changes)
    assert clock.now() == START


def test_cart_abandoners_and_a_purchase_closing_the_cart(
    kit: tuple[Personakit, FixedClock],
) -> None:
    """Items in a cart for an hour: abandoned; a purchase closes the cart and the segment."""
    made, clock = kit
    subject = _customer(made, "customer:2")
    made.track(
        "customer:2",
        "add_to_cart",
        channel="web",
        properties={"item": "a", "price_cents": 250, "quantity": 2},
    )
    aggregates = made.personalization.aggregates(subject)
    assert aggregates is not None
    assert (aggregates.cart_items, aggregates.cart_value_cents) == (2, 500)
    assert "cart_abandoners" not in made.personalization.segments_of(subject)
    clock.advance(timedelta(hours=2))
    assert "cart_abandoners" in made.personalization.segments_of(subject)
    made.personalization.refresh()
    assert made.personalization.members("cart_abandoners") == [subject]
    made.track(
        "customer:2", "purchase", channel="web", properties={"item": "a", "value_cents": 500}
    )
    assert made.personalization.members("cart_abandoners") == []
    aggregates = made.personalization.aggregates(subject)
    assert aggregates is not None
    assert (aggregates.cart_items, aggregates.order_count, aggregates.monetary_cents) == (0, 1, 500)


def test_a_defined_segment_is_indexed_and_offered_through_the_registry(
    kit: tuple[Personakit, FixedClock],
) -> None:
    """define(): a predicate over Facts, evaluated on ingest, listed, offered to others."""
    made, _ = kit

    def big_spender(facts: Facts) -> bool:
        cents = facts.field("aggregates.monetary_cents")
        return isinstance(cents, int) and cents >= 1000

    made.personalization.define("big-spenders", big_spender, reads=("aggregates.monetary_cents",))
    subject = _customer(made, "customer:3")
    made.track(
        "customer:3", "purchase", channel="web", properties={"item": "a", "value_cents": 1500}
    )
    assert made.personalization.members("big-spenders") == [subject]
    assert made.registries.segments.member("big-spenders", subject, START)
    assert "big-spenders" in made.registries.segments.names()
    with pytest.raises(InvalidInput, match="invalid segment"):
        made.personalization.define("big-spenders", big_spender)
    with pytest.raises(InvalidInput, match="invalid segment"):
        made.personalization.define("broken", _raises)
    with pytest.raises(InvalidInput, match="invalid segment"):
        made.personalization.define("not-a-bool", _not_a_bool)
    with pytest.raises(InvalidInput, match="unknown segment"):
        made.personalization.members("no-such-segment")


def test_a_predicate_that_breaks_later_fails_loudly_and_writes_nothing(
    kit: tuple[Personakit, FixedClock],
) -> None:
    """A predicate that raises on real data is a ConfigurationError; the event is not stored."""
    made, _ = kit

    def fragile(facts: Facts) -> bool:
        if facts.field("aggregates.order_count") == 1:
            raise KeyError("boom")
        return False

    made.personalization.add_segment(Segment(name="fragile", predicate=fragile))
    subject = _customer(made, "customer:4")
    with pytest.raises(ConfigurationError, match="fragile"):
        made.track("customer:4", "purchase", channel="web", properties={"item": "a"})
    assert made.events.read(subject) == []


def test_a_link_merges_aggregates_and_moves_memberships(kit: tuple[Personakit, FixedClock]) -> None:
    """The anonymous visitor's cart and views join the account; the visitor leaves the index."""
    made, clock = kit
    known = _customer(made, "customer:5")
    made.track("customer:5", "purchase", channel="web", properties={"item": "a", "value_cents": 40})
    clock.advance(timedelta(minutes=1))
    anon = _customer(made, "anon:cookie")
    made.track(
        "anon:cookie", "add_to_cart", channel="web", properties={"item": "b", "price_cents": 100}
    )
    clock.advance(timedelta(hours=3))
    made.personalization.refresh()
    assert made.personalization.members("cart_abandoners") == [anon]
    made.link("anon:cookie", "customer:5")
    merged = made.personalization.aggregates(known)
    assert merged is not None
    assert (merged.order_count, merged.cart_items, merged.recent_items) == (1, 1, ("b", "a"))
    assert made.personalization.members("cart_abandoners") == [known]
    assert made.personalization.segments_of(anon) == []


def test_erasure_and_withdrawal_empty_the_index(kit: tuple[Personakit, FixedClock]) -> None:
    """Withdrawal leaves every segment at once; erasure leaves no index entry of the subject."""
    made, _ = kit
    first, second = _customer(made, "customer:6"), _customer(made, "customer:7")
    for who in ("customer:6", "customer:7"):
        made.track(who, "purchase", channel="web", properties={"item": "a", "value_cents": 9})
    made.consent.withdraw(first, "personalization", source="web")
    made.rights.erase(second, reason="test")
    keys = [key for key, _ in made.store.scan("x/personalization/segments/")]
    assert keys == []
    assert made.personalization.aggregates(first) is None


def test_rebuild_repairs_a_lost_state(kit: tuple[Personakit, FixedClock]) -> None:
    """rebuild() recomputes state and memberships from the stored consented events."""
    made, _ = kit
    subject = _customer(made, "customer:8")
    made.track("customer:8", "purchase", channel="web", properties={"item": "a", "value_cents": 70})
    before = made.personalization.aggregates(subject)
    made.vault.delete(subject, "aggregates", "state")
    assert made.personalization.aggregates(subject) != before
    assert made.personalization.rebuild(subject) == 1
    assert made.personalization.aggregates(subject) == before
    assert made.personalization.rebuild() == 0
    facts = made.personalization.facts(subject)
    assert facts.field("aggregates.rfm_m") == 5
    assert facts.field("aggregates.nothing") is MISSING


def test_quintiles_need_a_population(tmp_path: Path) -> None:
    """Without fixed cut points RFM scores come from refresh, and only over 100 customers."""
    clock = FixedClock(START)
    with Personakit.open(
        tmp_path / "s", keys=LocalKeyProvider(generate_master_key()), clock=clock
    ) as made:
        subject = _customer(made, "customer:9")
        made.track(
            "customer:9", "purchase", channel="web", properties={"item": "a", "value_cents": 70}
        )
        report = made.personalization.refresh()
        assert report.rfm_population == 1
        assert made.personalization.facts(subject).field("aggregates.rfm_r") is MISSING


def test_the_cli_lists_sizes_and_refreshes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """personakit segments list | sizes | refresh: JSON out, exit 0; a bad --now exits 1."""
    key = generate_master_key()
    store = tmp_path / "store"
    with Personakit.open(store, keys=LocalKeyProvider(key)) as made:
        _customer(made, "customer:1")
        made.track("customer:1", "purchase", channel="web", properties={"item": "a"})
    key_file = tmp_path / "master.key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    base = ["--store", str(store), "--key-file", str(key_file), "segments"]
    assert main([*base, "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {"name": "cart_abandoners", "owner": "personalization"}.items() <= listed[
        0
    ].items() or any(entry["name"] == "cart_abandoners" for entry in listed)
    assert main([*base, "sizes"]) == 0
    assert json.loads(capsys.readouterr().out)["lifecycle.new"] == 1
    assert main([*base, "refresh", "--now", "2027-06-01T00:00:00Z"]) == 0
    assert json.loads(capsys.readouterr().out)["subjects"] == 1
    assert main([*base, "refresh", "--now", "yesterday"]) == 1
