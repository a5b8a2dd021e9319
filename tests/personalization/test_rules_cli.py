"""``personakit rules check FILE``: offline, every problem at once, exit 1 when invalid."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from _facts_double import BAKERY_RULES
from personakit.cli import main


def test_a_valid_rule_set_prints_its_digest_and_what_each_rule_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 0, the digest, and the read set of every rule (for the minimization report)."""
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(BAKERY_RULES), encoding="utf-8")
    assert main(["rules", "check", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is True
    assert len(out["sha256"]) == 64
    assert out["experiment_reads"]["bread-banner-test"]["dimensions"] == ["category"]
    assert out["reads"]["regulars"]["fields"] == [
        "aggregates.last_purchase_at",
        "aggregates.order_count",
    ]


def test_an_invalid_rule_set_lists_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown segment (unless named with --segment), unknown placement, a duplicate key."""
    document = copy.deepcopy(BAKERY_RULES)
    document["rules"].append(
        {"id": "x", "placement": "nope", "when": {"segment": "vip"}, "then": {"content": "c"}}
    )
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert main(["rules", "check", str(path), "--format", "text"]) == 1
    text = capsys.readouterr().out
    assert "2 problem(s)" in text
    assert main(["rules", "check", str(path), "--segment", "vip"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert problems == [{"where": "$.rules[4].placement", "what": "unknown placement"}]
    path.write_text('{"rules": [], "rules": []}', encoding="utf-8")
    assert main(["rules", "check", str(path)]) == 1
    assert json.loads(capsys.readouterr().out)["valid"] is False
