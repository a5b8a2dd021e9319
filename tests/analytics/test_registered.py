"""Datasets other capabilities register: analytics reads them by name, never imports their owner."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from personakit import Personakit


def _experiment(purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """400 customers: treatment converts 60%, holdout 20%; purpose is what analytics asks for."""
    assert purpose == "analytics"
    for i in range(400):
        arm = "birthday_mail" if i % 2 == 0 else "holdout"
        rate = 0.6 if arm == "birthday_mail" else 0.2
        yield f"sub_{i}", {"arm": arm, "converted": int((i * 7919) % 100 < rate * 100)}


def test_a_registered_dataset_is_queried_by_name(memory_kit: Personakit) -> None:
    """Registered through kit.registries.datasets, built once with the purpose analytics."""
    kit = memory_kit
    kit.registries.datasets.register(
        "journey.birthday", _experiment, owner="journeys", description="sends and conversions"
    )
    assert "journey.birthday" in kit.analytics.datasets()
    kit.analytics.set_budget("journey.birthday", epsilon=10.0)
    sizes = kit.analytics.groupby(
        "journey.birthday", "arm", keys=["birthday_mail", "holdout"], epsilon=2.0
    )
    assert set(sizes.value) == {"birthday_mail", "holdout"}


def test_conversion_gives_rates_and_uplift_with_an_interval(memory_kit: Personakit) -> None:
    """Uplift of treatment over holdout, both releases in the ledger, interval around it."""
    kit = memory_kit
    kit.registries.datasets.register(
        "exp.birthday", _experiment, owner="personalization", description="experiment exposures"
    )
    kit.analytics.set_budget("exp.birthday", epsilon=10.0)
    result = kit.analytics.conversion(
        "exp.birthday",
        "arm",
        "converted",
        treatment="birthday_mail",
        holdout="holdout",
        epsilon=8.0,
    )
    assert result.loss.epsilon <= 8.0
    assert kit.analytics.budget("exp.birthday").releases == 2
    low, high = result.interval
    assert low <= result.value["uplift"] <= high
    assert 0.2 < result.value["uplift"] < 0.6  # truth 0.4; noise at epsilon 4 per half is small
    dry = kit.analytics.conversion(
        "exp.birthday",
        "arm",
        "converted",
        treatment="birthday_mail",
        holdout="holdout",
        epsilon=1.0,
        dry_run=True,
    )
    assert dry.value is None
    assert dry.loss.epsilon <= 1.0


def test_import_personakit_loads_neither_numpy_nor_opendp() -> None:
    """OpenDP and numpy are imported when a query runs, not by import personakit."""
    code = (
        "import sys, personakit; print(sorted(m for m in ('numpy', 'opendp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
