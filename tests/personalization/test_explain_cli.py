"""``personakit explain IDENT --placement P --rules FILE``: the decision and its trace as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _facts_double import HOME_RULES
from _shared import PRIVACY
from personakit import LocalKeyProvider, Personakit
from personakit.cli import main


@pytest.fixture
def store(tmp_path: Path, master_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store with one regular customer (three bread purchases) and one who never agreed."""
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    monkeypatch.delenv("PERSONAKIT_RULES", raising=False)
    path = tmp_path / "s"
    with Personakit.open(path, keys=LocalKeyProvider(master_key)) as kit:
        regular = kit.identity.resolve("customer:1", create=True)
        kit.consent.grant(regular, ["personalization"], **PRIVACY)
        kit.identity.resolve("customer:2", create=True)
        for who in ("customer:1", "customer:2"):
            for number in range(3):
                kit.track(
                    who,
                    "purchase",
                    channel="web",
                    properties={"item": f"b{number}", "category": "bread"},
                )
    (tmp_path / "rules.json").write_text(json.dumps(HOME_RULES), encoding="utf-8")
    return path


def test_explain_prints_the_decision_the_trace_and_the_digest(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The regular matches on order_count; the one who never agreed is explained as off."""
    rules = str(store.parent / "rules.json")
    base = ["--store", str(store), "explain"]
    context = ["--context", '{"channel": "web"}']
    assert main([*base, "customer:1", "--placement", "home", "--rules", rules, *context]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert (decision["rule"], decision["content"]) == ("regulars", "loyalty-card")
    assert decision["trace"][0]["rule"] == "regulars"
    assert decision["trace"][0]["matched"] is True
    assert len(decision["rules_sha256"]) == 64
    for who in ("customer:2", "customer:nobody"):
        assert main([*base, who, "--placement", "home", "--rules", rules]) == 0
        off = json.loads(capsys.readouterr().out)
        assert off["reasons"] == ["personalization_off"]
        assert off["content"] == "favourites"
        assert off["rules_sha256"] == decision["rules_sha256"]


def test_explain_exit_codes(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No rules: usage (2); unknown placement, unreadable file, bad context: error (1)."""
    rules = str(store.parent / "rules.json")
    base = ["--store", str(store), "explain", "customer:1"]
    assert main([*base, "--placement", "home"]) == 2
    assert main([*base, "--placement", "sidebar", "--rules", rules]) == 1
    assert main([*base, "--placement", "home", "--rules", str(store / "missing.json")]) == 1
    assert main([*base, "--placement", "home", "--rules", rules, "--context", "[1"]) == 1
    assert main([*base, "--placement", "home", "--rules", rules, "--context", '{"mood": 1}']) == 1
    assert "Traceback" not in capsys.readouterr().err
