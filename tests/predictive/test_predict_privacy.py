"""Property: withdrawal, objection, restriction and erasure take a customer out of predictions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _predictive_shop import shop_lines
from personakit import testing
from personakit.predictive._fit import fit_bgnbd

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CUSTOMERS = 60
ACTIONS = ("withdraw", "object", "erase", "restrict")
LINES = shop_lines(CUSTOMERS, seed=11)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    removed=st.dictionaries(
        st.integers(0, CUSTOMERS - 1), st.sampled_from(ACTIONS), min_size=1, max_size=12
    )
)
def test_a_customer_who_loses_the_basis_has_no_prediction_and_no_part_in_the_next_fit(
    removed: dict[int, str],
) -> None:
    kit, _ = testing.memory_kit()
    with kit:
        kit.ingest(LINES)
        subjects = {n: kit.identity.lookup(f"customer:p{n}") for n in range(CUSTOMERS)}
        kit.predict.fit(now=NOW)
        for number, action in removed.items():
            subject = subjects[number]
            assert subject is not None
            if action == "withdraw":
                kit.consent.withdraw(subject, "personalization", source="web")
            elif action == "object":
                kit.rights.object(subject, "personalization", source="api")
            elif action == "erase":
                kit.rights.erase(subject)
            else:
                kit.rights.restrict(subject, source="api")
        for number, action in removed.items():
            subject = subjects[number]
            assert subject is not None
            if action != "erase":
                prediction = kit.predict.score(subject, now=NOW)
                assert not prediction.personalized
                section: Any = kit.rights.export(subject)["derived_data"].get("predictions")
                assert section is None or not section["prediction"]["personalized"]
                # restriction keeps the data (Art 18) but no prediction is made from it
                assert (kit.predict.stats(subject) is None) == (action != "restrict")
            assert not kit.registries.segments.member("predictive.high_value", subject, NOW)
        kept = [subjects[n] for n in range(CUSTOMERS) if n not in removed]
        rows = [kit.predict.stats(s).model_inputs(NOW) for s in kept if s is not None]  # type: ignore[union-attr]
        summary = kit.predict.fit(now=NOW)
        assert summary.customers == len(rows) == CUSTOMERS - len(removed)
        expected = fit_bgnbd(*list(zip(*rows, strict=True))[:3])
        assert summary.bgnbd == expected  # the same data, so the same optimum: nobody else's
