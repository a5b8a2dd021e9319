"""``personakit journeys enable|load|run|report``: JSON out, every problem of a bad file listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personakit.cli import main


@pytest.fixture
def store(tmp_path: Path, master_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    return tmp_path / "s"


def test_enable_run_and_report_print_json(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--store", str(store), "--create"]
    assert main([*base, "journeys", "enable", "welcome", "birthday"]) == 0
    assert json.loads(capsys.readouterr().out) == {"active": ["welcome", "birthday"]}
    assert main([*base, "journeys", "run", "--now", "2026-03-02T10:00:00Z"]) == 0
    assert json.loads(capsys.readouterr().out)["due"] == 0
    assert main([*base, "journeys", "report"]) == 0
    assert json.loads(capsys.readouterr().out) == {}


def test_a_bad_definitions_file_lists_every_problem(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "x",
                    "trigger": {"type": "event", "event": "nope"},
                    "steps": [{"id": "a", "template": "nope"}],
                }
            ]
        )
    )
    assert main(["--store", str(store), "--create", "journeys", "load", str(path)]) != 0
    err = capsys.readouterr().err
    assert "trigger.event" in err
    assert "steps[0].template" in err
