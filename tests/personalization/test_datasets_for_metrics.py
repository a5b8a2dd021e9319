"""Datasets personalization offers analytics: exposures with a conversion, segment memberships."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from _facts_double import BAKERY_RULES, NOW, StaticFacts
from _shared import PRIVACY
from personakit import LocalKeyProvider, Personakit, generate_master_key

_BREAD: Final = {"category": ["bread"]}


def test_exposure_rows_say_whether_a_purchase_followed_the_first_exposure(tmp_path: Path) -> None:
    """Bought after the exposure: 1; bought only before, or never: 0 (from the aggregates)."""
    with Personakit.open(tmp_path, keys=LocalKeyProvider(generate_master_key())) as kit:
        kit.personalization.rules.load(BAKERY_RULES)
        names = ("after", "before", "never")
        subjects = {n: kit.identity.resolve(f"customer:{n}", create=True) for n in names}
        for subject in subjects.values():
            kit.consent.grant(subject, ["personalization", "analytics"], **PRIVACY)
        kit.track(
            "customer:before",
            "purchase",
            channel="web",
            properties={"order_id": "o1", "item": "bread", "value_cents": 500},
            at="2026-05-01T10:00:00Z",
        )
        for subject in subjects.values():
            decision = kit.personalization.rules.decide(
                StaticFacts(affinities=_BREAD), "home_banner", subject=subject
            )
            assert decision.experiment == "bread-banner-test"
        kit.track(
            "customer:after",
            "purchase",
            channel="web",
            properties={"order_id": "o2", "item": "bread", "value_cents": 700},
            at=NOW.replace(day=3).isoformat(),
        )
        rows = dict(kit.registries.datasets.rows("personalization.exposures", "analytics"))
        assert {n: rows[s]["converted"] for n, s in subjects.items()} == {
            "after": 1,
            "before": 0,
            "never": 0,
        }
        assert {row["experiment"] for row in rows.values()} == {"bread-banner-test"}


def test_segment_rows_are_the_index_entries_of_consenting_members(tmp_path: Path) -> None:
    """One row per (member, segment) in the index; a member without analytics is left out."""
    with Personakit.open(tmp_path, keys=LocalKeyProvider(generate_master_key())) as kit:
        subjects = []
        for i in range(4):
            subject = kit.identity.resolve(f"customer:s{i}", create=True)
            kit.consent.grant(subject, ["personalization", "analytics"], **PRIVACY)
            kit.track(
                f"customer:s{i}",
                "purchase",
                channel="web",
                properties={"order_id": f"o{i}", "item": "bread", "value_cents": 300},
            )
            subjects.append(subject)
        kit.consent.withdraw(subjects[0], "analytics", source="web")
        rows = list(kit.registries.datasets.rows("personalization.segments", "analytics"))
        assert rows
        assert {s for s, _ in rows} == set(subjects[1:])
        sizes = kit.personalization.sizes()
        for segment in {row["segment"] for _, row in rows}:
            counted = sum(row["segment"] == segment for _, row in rows)
            assert counted == sizes[segment] - (
                subjects[0] in kit.personalization.index.members(segment)
            )
