"""The minimization report over every reader the kit wires: journeys, analytics, predictive."""

from __future__ import annotations

import json
from typing import Any

from personakit import FixedClock, LocalKeyProvider, Personakit, generate_master_key
from personakit.consent import Manifest

from ._scenario import NOW, manifest, open_kit

#: Declared event properties: some read (purchase value and lines), some read by no one.
PURCHASE = {
    "type": "object",
    "properties": {
        "value_cents": {"type": "integer"},
        "items": {"type": "array"},
        "coupon_code": {"type": "string"},
    },
}
CLICK = {"type": "object", "properties": {"link": {"type": "string"}}}


def _kit() -> Personakit:
    doc = manifest().to_json()
    doc["events"]["purchase"]["schema"] = PURCHASE
    doc["events"]["email_click"]["schema"] = CLICK
    return Personakit.open(
        "memory:",
        keys=LocalKeyProvider(generate_master_key()),
        clock=FixedClock(NOW),
        manifest=Manifest.from_json(doc),
    )


def _rows(doc: dict[str, Any], table: str, *key: str) -> dict[Any, dict[str, Any]]:
    rows = next(t["rows"] for t in doc["tables"] if t["id"] == table)
    return {tuple(r[k] for k in key) if len(key) > 1 else r[key[0]]: r for r in rows}


def _declared(readers: dict[str, dict[str, dict[str, list[str]]]], field: str) -> set[str]:
    """``owner:definition`` of every definition that declares ``field``."""
    return {
        f"{owner}:{name}"
        for owner, reads in readers.items()
        for name, read in reads.items()
        if field in read["fields"]
    }


def test_minimization_lists_what_journeys_analytics_and_predictive_read() -> None:
    """Declared reads are used with their readers; the rest is unused, with its purposes."""
    with _kit() as kit:
        kit.journeys.enable_builtin()
        kit.track(
            "customer:0",
            "purchase",
            channel="web",
            properties={"value_cents": 1200, "coupon_code": "X"},
        )
        doc = kit.reports.build("minimization")
        assert kit.reports.validate(doc) == []
        assert kit.reports.validate(json.loads(kit.reports.render("minimization"))) == []
        readers = {
            "journeys": kit.journeys.reads(),
            "analytics": kit.analytics.reads(),
            "predictive": kit.predict.reads(),
        }
        assert doc["summary"]["readers"] == [
            "analytics",
            "journeys",
            "personalization",
            "predictive",
            "recommendations",
        ]
        assert set(kit.journeys.reads()) == {
            f"journey.{j['id']}" for j in kit.journeys.definitions()
        }
        props = _rows(doc, "event_properties", "event", "property")
        value = props[("purchase", "value_cents")]
        assert value["used"] is True
        assert set(value["read_by"]) == _declared(readers, "events.purchase.value_cents")
        assert {"analytics:dataset.orders", "predictive:predictive.purchases"} <= set(
            value["read_by"]
        )
        for unread in (("purchase", "coupon_code"), ("email_click", "link")):
            row = props[unread]
            assert row["used"] is False
            assert row["read_by"] == []
            declared = next(e for e in kit.manifest.events if e.kind == unread[0])
            assert row["justified_by"] == list(declared.purposes)
        traits = _rows(doc, "traits", "trait")
        for name, row in traits.items():
            journeys = {r for r in row["read_by"] if r.startswith("journeys:")}
            assert journeys == _declared({"journeys": readers["journeys"]}, f"traits.{name}")
            assert row["used"] is bool(row["read_by"])
            if not row["used"]:
                category = row["category"]
                assert row["justified_by"] == [
                    p.id for p in kit.manifest.purposes if category in p.data_categories
                ]
        assert traits["email"]["used"] is True  # the email channel's address
        categories = _rows(doc, "categories", "category")
        engagement = set(categories["engagement"]["read_by"])
        assert "predictive:predictive.responsiveness" in engagement
        # The analytics datasets read only events collected for analytics: not engagement.
        assert not {r for r in engagement if r.startswith("analytics:")}
        assert doc["summary"]["properties_unused"] == 2


def test_the_recommendation_model_is_a_reader_of_the_interaction_items() -> None:
    """kit.recommend declares the interaction events and their items it reads."""
    with open_kit() as kit:
        doc = kit.reports.build("minimization")
        assert kit.reports.validate(doc) == []
    assert "recommendations" in doc["summary"]["readers"]
