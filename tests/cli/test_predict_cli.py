"""``personakit predict fit|score``: a JSON summary with the parameters, an explained score."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from _predictive_shop import shop_lines
from personakit.cli import main


@pytest.fixture
def store(tmp_path: Path, master_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    path = tmp_path / "in.jsonl"
    # the CLI's clock is the real one: a consent given long ago may have expired by then
    yesterday = datetime.now(UTC) - timedelta(days=1)
    lines = shop_lines(60, consent_at=yesterday.isoformat().replace("+00:00", "Z"))
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert main(["--store", str(tmp_path / "s"), "--create", "ingest", str(path)]) == 0
    return tmp_path / "s"


def test_fit_prints_parameters_and_log_likelihood_then_score_explains(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    now = ["--now", "2026-01-05T09:00:00Z"]
    assert main(["--store", str(store), "predict", "fit", *now]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["bgnbd"]) >= {"r", "alpha", "a", "b", "log_likelihood"}
    assert summary["customers"] == 60
    assert main(["--store", str(store), "predict", "score", "customer:p1", *now]) == 0
    prediction = json.loads(capsys.readouterr().out)
    assert prediction["personalized"] is True
    assert "probability still active" in prediction["explanation"]


def test_fit_on_an_empty_store_is_a_one_line_error(
    tmp_path: Path,
    master_key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    assert main(["--store", str(tmp_path / "e"), "--create", "predict", "fit"]) != 0
    assert "customers" in capsys.readouterr().err
