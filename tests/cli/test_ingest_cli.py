"""`personakit ingest` and `personakit retention sweep` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _shared import CONSENT_GIVEN

LINES = [
    {**CONSENT_GIVEN, "at": "2026-01-05T10:00:00Z"},
    {
        "kind": "traits",
        "subject": "customer:c1",
        "traits": {"email": "alice@example.com"},
        "at": "2026-01-05T10:00:00Z",
    },
    {
        "kind": "event",
        "subject": "customer:c1",
        "name": "purchase",
        "channel": "store",
        "at": "2026-01-05T10:00:00Z",
        "properties": {"item": "sourdough", "category": "bread", "value_cents": 450},
    },
    {"kind": "link", "subject": "anon:9f2c", "to": "customer:c1", "at": "2026-01-05T10:01:00Z"},
]


def _run(
    args: list[str], env_key: str, store: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "personakit.cli", "--store", str(store), "--create", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={"PERSONAKIT_MASTER_KEY": env_key, "PATH": "/usr/bin:/bin"},
        check=False,
    )


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in LINES) + "\n")
    return path


def test_ingest_file_prints_summary_and_exits_0(
    jsonl: Path, tmp_path: Path, master_key: str
) -> None:
    """All-valid input: exit 0 and a JSON summary as the last output."""
    proc = _run(["ingest", str(jsonl)], master_key, tmp_path / "s")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "accepted": 4,
        "rejected": 0,
        "dropped_no_basis": 0,
        "errors": [],
    }
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal


def test_ingest_stdin_with_a_bad_line_exits_1(tmp_path: Path, master_key: str) -> None:
    """Reading '-' from standard input; a rejected line makes the exit code 1."""
    text = json.dumps(LINES[2]) + "\n{broken\n"
    proc = _run(["ingest", "-"], master_key, tmp_path / "s", stdin=text)
    assert proc.returncode == 1
    summary = json.loads(proc.stdout)
    assert (summary["accepted"], summary["rejected"], summary["errors"][0]["line"]) == (1, 1, 2)


def test_ingest_missing_file_is_a_usage_error(tmp_path: Path, master_key: str) -> None:
    """A missing input file exits 2 with one line and no traceback."""
    proc = _run(["ingest", str(tmp_path / "nope.jsonl")], master_key, tmp_path / "s")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_retention_sweep_reports_counts(jsonl: Path, tmp_path: Path, master_key: str) -> None:
    """retention sweep --now prints what was removed."""
    _run(["ingest", str(jsonl)], master_key, tmp_path / "s")
    proc = _run(["retention", "sweep", "--now", "2040-01-01T00:00:00Z"], master_key, tmp_path / "s")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    # kit.predict's purchase statistics (derived for personalization) expire with it too,
    # and so does kit.recommend's record of the purchased item (it leaves the item model)
    assert {kind: n for kind, n in report["removed"].items() if n} == {
        "events": 1,
        "traits": 1,
        "predictive": 1,
        "aggregates": 1,  # personalization's aggregates are rebuilt from the events left
        "recommendations": 1,
    }
    bad = _run(["retention", "sweep", "--now", "2040-01-01"], master_key, tmp_path / "s")
    assert bad.returncode == 1
