"""personakit dp: queries, dry runs, budgets and refusals from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from _shared import PRIVACY
from analytics.conftest import shop
from personakit import LocalKeyProvider, Personakit
from personakit.cli import main


@pytest.fixture
def env(tmp_path: Path, master_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store holding the small shop, named by the environment."""
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    store = tmp_path / "store"
    monkeypatch.setenv("PERSONAKIT_STORE", str(store))
    with Personakit.open(store, keys=LocalKeyProvider(master_key)) as kit:
        shop(kit)
    return store


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_budget_then_queries_then_budget(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Set a cap, run every query kind, and the budget shows what they spent."""
    assert main(["dp", "budget", "--dataset", "orders", "--cap-epsilon", "10"]) == 0
    capsys.readouterr()
    commands = [
        ["dp", "count", "orders", "--epsilon", "1"],
        [
            "dp",
            "sum",
            "orders",
            "value_cents",
            "--lower",
            "0",
            "--upper",
            "20000",
            "--epsilon",
            "1",
        ],
        [
            "dp",
            "mean",
            "orders",
            "value_cents",
            "--lower",
            "0",
            "--upper",
            "20000",
            "--epsilon",
            "1",
        ],
        [
            "dp",
            "quantile",
            "orders",
            "value_cents",
            "--q",
            "0.5",
            "--lower",
            "0",
            "--upper",
            "20000",
            "--epsilon",
            "1",
        ],
        ["dp", "histogram", "orders", "value_cents", "--bins", "[0,5000,20000]", "--epsilon", "1"],
        ["dp", "groupby", "orders", "month", "--keys", "[202601,202602]", "--epsilon", "1"],
        ["dp", "metric", "aov", "--upper", "20000", "--epsilon", "0.5"],
    ]
    for command in commands:
        assert main(command) == 0, command
        assert _json(capsys)["spent_now"] is True  # type: ignore[index]
    assert main(["dp", "count", "orders", "--accuracy", "50", "--dry-run"]) == 0
    assert _json(capsys)["value"] is None  # type: ignore[index]
    assert main(["dp", "budget", "--dataset", "orders"]) == 0
    budget = _json(capsys)
    assert budget["releases"] == len(commands)  # type: ignore[index]
    assert budget["spent"]["epsilon"] <= 7.0  # type: ignore[index]


def test_refusals_are_one_line_errors(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad epsilon, no cap, an unknown dataset: exit 1 and one line; bad options: exit 2."""
    assert main(["dp", "count", "orders", "--epsilon", "-1"]) == 1
    assert main(["dp", "count", "orders", "--epsilon", "1"]) == 1  # no cap yet
    assert main(["dp", "count", "nope", "--epsilon", "1"]) == 1
    assert main(["dp", "count", "orders"]) == 2  # no privacy given
    assert main(["dp", "histogram", "orders", "value_cents", "--bins", "{", "--epsilon", "1"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 5
    assert all(line.startswith("personakit: ") for line in errors)


def test_segment_sizes_metric(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``dp metric segment_sizes --segments``: counts per named segment; without: exit 1."""
    with Personakit.open(env, keys=LocalKeyProvider(os.environ["PERSONAKIT_MASTER_KEY"])) as kit:
        subject = kit.identity.resolve("customer:c5")
        assert subject is not None
        kit.consent.grant(subject, "personalization", **PRIVACY)
        kit.track(
            "customer:c5",
            "purchase",
            channel="web",
            properties={"order_id": "o9", "item": "bread", "value_cents": 900},
        )
        assert kit.personalization.segments_of(subject)
    cap = ["dp", "budget", "--dataset", "personalization.segments", "--cap-epsilon", "2"]
    assert main(cap) == 0
    capsys.readouterr()
    sizes = ["dp", "metric", "segment_sizes", "--segments", '["lifecycle.new"]', "--epsilon", "1"]
    assert main(sizes) == 0
    result = _json(capsys)
    assert set(result["value"]) == {"lifecycle.new"}  # type: ignore[index]
    assert main(["dp", "metric", "segment_sizes", "--epsilon", "1"]) == 1
