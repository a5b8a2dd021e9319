"""Queries through kit.analytics: who is counted, what a result says, what bad input costs."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.conftest import arrays, shop
from personakit import Personakit
from personakit.analytics import Dataset, _release, build_dataset
from personakit.exceptions import BudgetExceeded, InvalidInput


def _spent(kit: Personakit, dataset: str) -> tuple[float, int, int]:
    budget = kit.analytics.budget(dataset)
    return budget.spent.epsilon, budget.releases, kit.audit.head()[0]


def test_only_subjects_with_a_basis_for_analytics_are_in_the_datasets(
    memory_kit: Personakit,
) -> None:
    """No consent (c0, c1) and restricted (c2) customers contribute no row at all."""
    subjects = shop(memory_kit)
    customers = memory_kit.analytics.dataset("customers")
    orders = memory_kit.analytics.dataset("orders")
    assert customers.rows == 9  # c3..c11
    assert orders.rows == sum(i % 4 + 1 for i in range(3, 12))
    assert sorted(customers.column("value_cents").values.tolist()) == sorted(
        (i + 1) * 1000 * (i % 4 + 1) for i in range(3, 12)
    )
    memory_kit.consent.withdraw(subjects["customer:c3"], "analytics", source="web")
    memory_kit.analytics.refresh()
    assert memory_kit.analytics.dataset("customers").rows == 8


def test_rows_per_subject_is_enforced_and_stated(memory_kit: Personakit) -> None:
    """A customer with many rows keeps only the bound's worth; the result says the bound."""
    rows = [("heavy", {"v": 1})] * 50 + [("light", {"v": 1})]
    kit = memory_kit
    dataset = build_dataset("heavy", rows, rows_per_subject=3)
    assert dataset.rows == 4
    kit.analytics.offer(dataset)
    kit.analytics.set_budget("heavy", epsilon=1.0)
    result = kit.analytics.count("heavy", epsilon=0.5, reason="bound test")
    assert result.bounds["rows_per_subject"] == 3
    assert isinstance(result.value, int)
    assert result.value >= 0
    assert result.loss.epsilon <= 0.5
    assert result.mechanism == "discrete laplace"


def test_a_repeated_query_returns_the_stored_answer_at_no_cost(memory_kit: Personakit) -> None:
    """Same query, same dataset version: the same value, nothing spent; reuse=False spends."""
    kit = memory_kit
    kit.analytics.offer(arrays("cache", list(range(100))))
    kit.analytics.set_budget("cache", epsilon=3.0)
    first = kit.analytics.sum("cache", "value", bounds=(0, 100), epsilon=1.0)
    before = _spent(kit, "cache")
    again = kit.analytics.sum("cache", "value", bounds=(0, 100), epsilon=1.0)
    assert (again.value, again.release, again.spent_now) == (first.value, first.release, False)
    assert again.loss.epsilon == 0
    assert _spent(kit, "cache") == before
    fresh = kit.analytics.sum("cache", "value", bounds=(0, 100), epsilon=1.0, reuse=False)
    assert fresh.spent_now
    assert fresh.release == first.release + 1


def test_a_changed_dataset_is_a_new_query(memory_kit: Personakit) -> None:
    """One value changed: a new version, so the query runs and spends again."""
    kit = memory_kit
    kit.analytics.offer(arrays("versioned", list(range(100))))
    kit.analytics.set_budget("versioned", epsilon=3.0)
    first = kit.analytics.count("versioned", epsilon=1.0)
    kit.analytics.offer(arrays("versioned", [*range(99), 1000]))
    second = kit.analytics.count("versioned", epsilon=1.0)
    assert second.version != first.version
    assert second.spent_now
    assert kit.analytics.budget("versioned").releases == 2


def test_an_unchanged_dataset_rebuilt_keeps_its_version(memory_kit: Personakit) -> None:
    """Rebuilt from the same rows: the same digest, so the stored answer comes back."""
    one, two = arrays("same", [5, 6, 7]), arrays("same", [5, 6, 7])
    assert one.version == two.version


def test_dry_run_costs_nothing_and_accuracy_gives_the_epsilon(memory_kit: Personakit) -> None:
    """dry_run: loss and 95% interval, no release; accuracy A: the epsilon it costs."""
    kit = memory_kit
    kit.analytics.offer(arrays("dry", list(range(10)), per_subject=2))
    kit.analytics.set_budget("dry", epsilon=1.0)
    before = _spent(kit, "dry")
    dry = kit.analytics.count("dry", accuracy=20.0, dry_run=True)
    assert dry.value is None
    assert dry.dry_run
    assert dry.interval == pytest.approx(20.0, rel=1e-3)
    assert dry.loss.epsilon == pytest.approx(2 * math.log(20) / 20.0, rel=1e-6)
    assert _spent(kit, "dry") == before


def test_each_query_kind_answers_with_its_bounds(shop_kit: Personakit) -> None:
    """count, sum, mean, quantile, histogram, group-by (public and unknown keys), metrics."""
    a = shop_kit.analytics
    a.set_budget("orders", epsilon=100.0)
    a.set_budget("customers", epsilon=100.0, delta=1e-4)
    assert a.count("orders", epsilon=10.0).value >= 0
    assert isinstance(a.sum("orders", "value_cents", bounds=(0, 20_000), epsilon=10.0).value, int)
    mean = a.mean("orders", "value_cents", bounds=(0, 20_000), epsilon=10.0)
    assert 0 <= mean.value <= 20_000
    assert mean.interval[0] <= mean.interval[1]
    median = a.quantile("orders", "value_cents", q=0.5, bounds=(0, 20_000), epsilon=10.0)
    assert 0 <= median.value <= 20_000
    assert median.interval is None
    histogram = a.histogram("orders", "value_cents", bins=[0, 5000, 20_000], epsilon=10.0)
    assert [b["count"] >= 0 for b in histogram.value["bins"]] == [True, True]
    groups = a.groupby("orders", "month", keys=[202601, 202602], epsilon=10.0)
    assert set(groups.value) == {"202601", "202602"}
    sums = a.groupby(
        "orders", "channel", keys=["web"], column="value_cents", bounds=(0, 20_000), epsilon=10.0
    )
    assert set(sums.value) == {"web"}
    found = a.groupby("customers", "cohort", epsilon=50.0, delta=1e-5)
    assert set(found.value) <= {"202601", "202602"}
    assert a.metric("repeat_rate", epsilon=5.0).value <= 1
    assert 0 <= a.metric("aov", upper=20_000, epsilon=5.0).value <= 20_000
    clv = a.metric("clv_by_cohort", upper=100_000, cohorts=[202601, 202602], epsilon=5.0)
    assert set(clv.value) == {"202601", "202602"}
    assert a.budget("customers").releases == 4  # thresholded, repeat rate, clv (two)


def test_every_release_is_audited_with_who_and_why(shop_kit: Personakit) -> None:
    """The audit entry names the actor, the reason, the loss; no value, no subject."""
    shop_kit.analytics.set_budget("orders", epsilon=1.0, actor="owner", reason="monthly report")
    shop_kit.analytics.count("orders", epsilon=0.5, actor="owner", reason="croissant buyers")
    entry = list(shop_kit.audit.entries())[-1]
    assert entry.action == "dp.release"
    assert entry.actor == "owner"
    assert entry.subject is None
    assert entry.data["reason"] == "croissant buyers"
    assert entry.data["loss"]["epsilon"] <= 0.5
    assert "value" not in entry.data
    assert shop_kit.audit.verify().ok


def test_nan_and_infinity_are_refused_or_imputed(memory_kit: Personakit) -> None:
    """A float column with NaN/inf: InvalidInput unless impute= gives a finite value."""
    rows = [(f"s{i}", {"x": v}) for i, v in enumerate([1.0, math.nan, math.inf, 2.5])]
    memory_kit.analytics.offer(build_dataset("floats", rows, rows_per_subject=1))
    memory_kit.analytics.set_budget("floats", epsilon=2.0)
    with pytest.raises(InvalidInput, match="impute"):
        memory_kit.analytics.sum("floats", "x", bounds=(0.0, 3.0), epsilon=1.0)
    assert memory_kit.analytics.budget("floats").releases == 0
    assert math.isfinite(
        memory_kit.analytics.sum("floats", "x", bounds=(0.0, 3.0), impute=0.0, epsilon=1.0).value
    )


_BAD: list[tuple[str, dict[str, Any]]] = [
    ("unbounded column", {"bounds": None}),
    ("inverted bounds", {"bounds": (10, 0)}),
    ("infinite bound", {"bounds": (0, math.inf)}),
    ("fractional cents", {"bounds": (0, 10.5)}),
    ("zero epsilon", {"epsilon": 0.0}),
    ("negative epsilon", {"epsilon": -1.0}),
    ("nan epsilon", {"epsilon": math.nan}),
    ("inf epsilon", {"epsilon": math.inf}),
    ("two privacy kinds", {"rho": 0.1}),
    ("unknown column", {"column": "nope"}),
    ("unknown dataset", {"dataset": "nope"}),
    ("category column", {"column": "label"}),
]


@pytest.mark.parametrize(("why", "change"), _BAD, ids=[b[0] for b in _BAD])
def test_bad_input_is_a_typed_error_before_any_privacy_is_spent(
    memory_kit: Personakit, why: str, change: dict[str, Any]
) -> None:
    """Each bad input: InvalidInput, and the ledger and audit log are untouched."""
    kit = memory_kit
    rows = [(f"s{i}", {"cents": i * 10, "label": "a"}) for i in range(20)]
    kit.analytics.offer(build_dataset("bad", rows, rows_per_subject=1))
    kit.analytics.set_budget("bad", epsilon=5.0)
    before = _spent(kit, "bad")
    call: dict[str, Any] = {
        "dataset": "bad",
        "column": "cents",
        "bounds": (0, 1000),
        "epsilon": 1.0,
    }
    call.update(change)
    with pytest.raises(InvalidInput):
        kit.analytics.sum(call.pop("dataset"), call.pop("column"), **call)
    assert _spent(kit, "bad") == before, why


def test_an_exceeded_budget_is_refused_before_opendp_runs(
    memory_kit: Personakit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the cap: BudgetExceeded, the measurement never invoked, nothing written."""
    kit = memory_kit
    kit.analytics.offer(arrays("capped", list(range(10))))
    kit.analytics.set_budget("capped", epsilon=1.0)
    kit.analytics.count("capped", epsilon=0.75)
    before = _spent(kit, "capped")
    ran: list[str] = []
    real = _release._plan

    def spy(plans: Any, shape: Any) -> Any:
        plan = real(plans, shape)

        class Watched:
            def __getattr__(self, name: str) -> Any:
                return getattr(plan, name)

            @property
            def measurement(self) -> Any:
                ran.append("opendp")
                return plan.measurement

        return Watched()

    monkeypatch.setattr(_release, "_plan", spy)
    with pytest.raises(BudgetExceeded):
        kit.analytics.count("capped", epsilon=0.5)
    assert ran == []
    assert _spent(kit, "capped") == before


def test_no_cap_means_no_release(memory_kit: Personakit) -> None:
    """A dataset without a cap releases nothing (dry runs still answer)."""
    memory_kit.analytics.offer(arrays("uncapped", [1, 2, 3]))
    assert memory_kit.analytics.count("uncapped", epsilon=1.0, dry_run=True).dry_run
    with pytest.raises(BudgetExceeded):
        memory_kit.analytics.count("uncapped", epsilon=1.0)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(epsilons=st.lists(st.floats(min_value=0.01, max_value=2.0), min_size=1, max_size=12))
def test_the_spent_budget_never_exceeds_the_cap(
    memory_kit: Personakit, epsilons: list[float]
) -> None:
    """Property: whatever sequence of releases is asked, the recorded spend stays within the cap."""
    name = f"prop{abs(hash(tuple(epsilons))) % 10**9}"
    memory_kit.analytics.offer(
        Dataset(name=name, rows_per_subject=1, subjects=np.arange(5), columns={})
    )
    memory_kit.analytics.set_budget(name, epsilon=3.0)
    for epsilon in epsilons:
        with contextlib.suppress(BudgetExceeded):
            memory_kit.analytics.count(name, epsilon=epsilon, reuse=False)
        budget = memory_kit.analytics.budget(name)
        assert budget.spent.epsilon <= 3.0
    releases = list(memory_kit.analytics.ledger.releases(name))
    assert sum(r["loss"]["epsilon"] for r in releases) == pytest.approx(
        memory_kit.analytics.budget(name).spent.epsilon
    )


def test_a_dry_run_of_a_stored_answer_costs_nothing(memory_kit: Personakit) -> None:
    """Dry run after the release: loss 0 (it would return the stored answer); fresh: full cost."""
    memory_kit.analytics.offer(arrays("drystored", list(range(30))))
    memory_kit.analytics.set_budget("drystored", epsilon=2.0)
    memory_kit.analytics.count("drystored", epsilon=0.5)
    assert memory_kit.analytics.count("drystored", epsilon=0.5, dry_run=True).loss.epsilon == 0
    fresh = memory_kit.analytics.count("drystored", epsilon=0.5, dry_run=True, reuse=False)
    assert fresh.loss.epsilon == pytest.approx(0.5)


def test_a_two_release_metric_spends_both_halves_or_neither(shop_kit: Personakit) -> None:
    """clv_by_cohort over a cap that holds one half only: refused, nothing spent or written."""
    shop_kit.analytics.set_budget("customers", epsilon=0.6)
    before = _spent(shop_kit, "customers")
    with pytest.raises(BudgetExceeded):
        shop_kit.analytics.metric("clv_by_cohort", upper=50_000, cohorts=[202601], epsilon=1.0)
    assert _spent(shop_kit, "customers") == before
    done = shop_kit.analytics.metric("clv_by_cohort", upper=50_000, cohorts=[202601], epsilon=0.6)
    assert done.loss.epsilon <= 0.6
    assert shop_kit.analytics.budget("customers").releases == 2


def test_a_sum_over_unknown_keys_releases_keys_then_sums(shop_kit: Personakit) -> None:
    """Thresholded count finds the keys, then sums over them; two releases, within the ask."""
    a = shop_kit.analytics
    a.set_budget("customers", epsilon=100.0, delta=1e-4)
    found = a.groupby(
        "customers", "cohort", column="value_cents", bounds=(0, 50_000), epsilon=60.0, delta=1e-5
    )
    assert set(found.value) <= {"202601", "202602"}
    assert found.loss.epsilon <= 60.0
    assert found.loss.delta <= 1e-5
    assert a.budget("customers").releases == (2 if found.value else 1)
    with pytest.raises(InvalidInput):
        a.groupby("customers", "cohort", column="value_cents", bounds=(0, 50_000), epsilon=1.0)
