"""``personakit recommend``: a customer's list, items chosen together, and a rebuild."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from personakit.cli import main

BASKETS = (["sourdough", "butter"], ["sourdough", "butter", "jam"], ["rye", "butter"])


def _lines(customers: int) -> list[dict[str, Any]]:
    at = (datetime.now(UTC) - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    lines: list[dict[str, Any]] = []
    for n in range(customers):
        ident = f"customer:r{n}"
        lines.append(
            {
                "kind": "consent",
                "subject": ident,
                "purpose": "personalization",
                "status": "given",
                "notice": "privacy_notice",
                "notice_version": "2026-01",
                "source": "web",
                "at": at,
            }
        )
        basket = BASKETS[n % len(BASKETS)]
        lines.append(
            {
                "kind": "event",
                "subject": ident,
                "name": "purchase",
                "channel": "web",
                "at": at,
                "properties": {"items": [{"item": i} for i in basket]},
            }
        )
    return lines


@pytest.fixture
def store(tmp_path: Path, master_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in _lines(18)) + "\n")
    assert main(["--store", str(tmp_path / "s"), "--create", "ingest", str(path)]) == 0
    return tmp_path / "s"


def test_recommend_similar_and_rebuild_print_json(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["--store", str(store), "recommend", "similar", "sourdough", "--k", "2"]) == 0
    similar = json.loads(capsys.readouterr().out)
    assert similar["items"][0]["item"] == "butter"
    assert similar["items"][0]["explanation"] == "Often chosen with sourdough"
    assert main(["--store", str(store), "recommend", "customer:r2"]) == 0  # rye, butter
    mine = json.loads(capsys.readouterr().out)
    assert mine["personalized"] is True
    assert mine["items"][0]["item"] == "sourdough"
    assert mine["items"][0]["explanation"].startswith("Because you bought ")
    assert main(["--store", str(store), "recommend", "customer:nobody"]) == 0
    assert json.loads(capsys.readouterr().out)["personalized"] is False
    assert main(["--store", str(store), "recommend", "rebuild"]) == 0
    assert json.loads(capsys.readouterr().out) == {"subjects": 18, "contributing": 18, "items": 4}
    assert main(["--store", str(store), "recommend", "customer:r2", "--k", "0"]) == 1
    assert "k" in capsys.readouterr().err
    assert main(["--store", str(store), "recommend", "similar", "caviar"]) == 1
    assert "unknown item" in capsys.readouterr().err
