"""kit.predict: statistics kept on ingest, a fit over customers with a basis, explained scores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from _predictive_shop import shop_lines
from personakit import Personakit, testing
from personakit.predictive import InsufficientData, ScoreOptions

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def shop() -> Iterator[Personakit]:
    kit, _ = testing.memory_kit()
    with kit:
        summary = kit.ingest(shop_lines(200))
        assert summary.rejected == 0
        yield kit


def _subject(kit: Personakit, number: int) -> str:
    subject = kit.identity.lookup(f"customer:p{number}")
    assert subject is not None
    return subject


def test_ingest_keeps_purchase_statistics(shop: Personakit) -> None:
    stats = shop.predict.stats(_subject(shop, 0))
    assert stats is not None
    assert stats.days >= 1
    assert stats.total_cents > 0


def test_fit_and_score_explain_the_prediction(shop: Personakit) -> None:
    summary = shop.predict.fit(now=NOW)
    assert summary.customers == 200
    assert 0 < summary.bgnbd.r < 10
    assert summary.as_dict()["bgnbd"]["log_likelihood"] < 0
    prediction = shop.predict.score(_subject(shop, 1), now=NOW)
    assert prediction.personalized
    assert 0 <= prediction.p_alive <= 1
    assert prediction.expected_purchases >= 0
    assert "probability still active" in prediction.explanation
    assert set(prediction.inputs) == {
        "repeat_purchases",
        "recency_days",
        "age_days",
        "mean_order_value",
    }


def test_fit_on_too_little_data_says_what_is_missing() -> None:
    kit, _ = testing.memory_kit()
    with kit:
        kit.ingest(shop_lines(5))
        with pytest.raises(InsufficientData) as caught:
            kit.predict.fit(now=NOW)
        assert [p.where for p in caught.value.problems] == ["customers"]


def test_a_customer_without_basis_gets_the_default_with_the_reason(shop: Personakit) -> None:
    shop.predict.fit(now=NOW)
    subject = _subject(shop, 2)
    shop.consent.withdraw(subject, "personalization", source="web")
    prediction = shop.predict.score(subject, now=NOW)
    assert not prediction.personalized
    assert prediction.reason == "no lawful basis for personalization"
    assert shop.predict.stats(subject) is None


def test_segments_and_export_use_the_predictions(shop: Personakit) -> None:
    shop.predict.fit(now=NOW)
    segments = shop.registries.segments
    members = {
        name: sum(segments.member(name, _subject(shop, n), NOW) for n in range(3, 200))
        for name in ("predictive.at_risk", "predictive.likely_to_buy_soon", "predictive.high_value")
    }
    assert all(0 < count < 197 for count in members.values()), members
    section = shop.rights.export(_subject(shop, 3))["derived_data"]["predictions"]
    statistics = section["statistics"]
    assert statistics["purchase_days"] == len(statistics["purchase_dates"]) >= 1
    assert statistics["purchase_dates"][0] == statistics["first_purchase"]
    assert "BG/NBD" in section["logic"]
    assert section["prediction"]["explanation"]


def test_options_are_checked() -> None:
    with pytest.raises(ValueError):
        ScoreOptions.check(ScoreOptions(horizon_days=0))


def _touch_lines(number: int, channels: list[str], purchase: bool) -> list[dict[str, object]]:
    ident = f"customer:a{number}"
    lines: list[dict[str, object]] = [
        {
            "kind": "consent",
            "subject": ident,
            "purpose": "analytics",
            "status": "given",
            "notice": "privacy_notice",
            "notice_version": "2026-01",
            "source": "web",
            "at": "2025-12-01T08:00:00Z",
        }
    ]
    names = {"web": "page_view", "store": "store_visit", "app": "product_view"}
    props = {"web": {"url": "/"}, "store": {"store_id": "s1"}, "app": {"item": "bread"}}
    for day, channel in enumerate(channels, start=1):
        lines.append(
            {
                "kind": "event",
                "subject": ident,
                "name": names[channel],
                "channel": channel,
                "at": f"2025-12-0{day}T10:00:00Z",
                "properties": props[channel],
            }
        )
    if purchase:
        lines.append(
            {
                "kind": "event",
                "subject": ident,
                "name": "purchase",
                "channel": "web",
                "at": "2025-12-05T10:00:00Z",
                "properties": {"item": "bread", "value_cents": 500},
            }
        )
    return lines


def test_attribution_reports_credit_per_channel_with_small_cells_suppressed() -> None:
    kit, _ = testing.memory_kit()
    with kit:
        lines = [line for n in range(30) for line in _touch_lines(n, ["web", "store"], True)]
        lines += [line for n in range(30, 35) for line in _touch_lines(n, ["app"], False)]
        assert kit.ingest(lines).rejected == 0
        report = kit.predict.attribution("linear", min_paths=10)
        assert report["paths"] == 35
        assert report["conversions"] == 30
        assert report["channels"] == [
            {"channel": "app", "suppressed": True},
            {"channel": "store", "suppressed": False, "credit": 15.0, "paths": 30},
            {"channel": "web", "suppressed": False, "credit": 15.0, "paths": 30},
        ]
        with pytest.raises(ValueError):
            kit.predict.attribution("magic", lookback_days=0)  # type: ignore[arg-type]


def test_retention_deletes_statistics_past_the_purposes_period() -> None:
    kit, _ = testing.memory_kit()
    with kit:
        kit.ingest(shop_lines(3))
        subject = _subject(kit, 0)
        stats = kit.predict.stats(subject)
        assert stats is not None
        days = kit.manifest.get_purpose("personalization").retention_days  # type: ignore[union-attr]
        just_in = datetime.combine(stats.last, datetime.min.time(), UTC) + timedelta(days=days)
        assert kit.predict.sweep(subject, just_in) == 0
        assert kit.predict.sweep(subject, just_in + timedelta(days=1)) == 1
        assert kit.predict.stats(subject) is None
