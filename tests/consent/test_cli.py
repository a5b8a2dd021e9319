"""``personakit consent …`` through personakit.cli.main."""

from __future__ import annotations

import json

import pytest

from personakit.cli import main


@pytest.fixture
def store_args(tmp_path, master_key, monkeypatch):
    """Global options for a fresh store, with the master key in the environment."""
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    monkeypatch.delenv("PERSONAKIT_MANIFEST", raising=False)
    return ["--store", str(tmp_path / "store"), "--create"]


GRANT = ["--notice", "privacy_notice", "--notice-version", "2026-01", "--source", "web"]


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_grant_show_withdraw_round_trip(store_args, capsys) -> None:
    """grant prints a receipt, show reflects it, withdraw all prints the withdrawal receipt."""
    code, out, _ = _run(
        capsys,
        [*store_args, "consent", "grant", "email:cli@example.com", "personalization", *GRANT],
    )
    assert code == 0
    receipt = json.loads(out)
    assert receipt["purposes"][0]["status"] == "given"
    assert receipt["purposes"][0]["method"] == "cli"
    code, out, _ = _run(capsys, [*store_args, "consent", "show", "email:cli@example.com"])
    assert code == 0
    shown = json.loads(out)
    assert shown["purposes"]["personalization"]["allowed"] is True
    assert shown["purposes"]["analytics"]["state"] == "none"
    assert shown["consent_mode"]["personalization_storage"] == "granted"
    code, out, _ = _run(
        capsys,
        [*store_args, "consent", "withdraw", "email:cli@example.com", "all", "--source", "web"],
    )
    assert code == 0
    assert [p["status"] for p in json.loads(out)["purposes"]] == ["withdrawn"]
    code, out, _ = _run(
        capsys, [*store_args, "consent", "show", "--history", "email:cli@example.com"]
    )
    shown = json.loads(out)
    assert shown["purposes"]["personalization"]["allowed"] is False
    assert len(shown["ledger"]) == 2


def test_usage_error_exits_2_with_one_line(store_args, capsys) -> None:
    """A missing --source is a usage error: exit 2, one line on stderr."""
    code, out, err = _run(
        capsys, [*store_args, "consent", "grant", "customer:1", "analytics", "--notice", "x"]
    )
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("personakit: usage error:")


def test_unknown_purpose_exits_1_and_creates_no_subject(store_args, capsys) -> None:
    """An unknown purpose is a one-line failure (exit 1), no traceback, and no subject made."""
    code, out, err = _run(
        capsys, [*store_args, "consent", "grant", "customer:1", "telepathy", *GRANT]
    )
    assert code == 1
    assert out == ""
    expected = "invalid consent request (1 problem(s)): purpose: not a purpose in the manifest"
    assert err.strip().splitlines() == [f"personakit: error: {expected}"]
    assert "Traceback" not in err
    code, _, err = _run(capsys, [*store_args, "consent", "show", "customer:1"])
    assert code == 1
    assert err.strip() == "personakit: error: no such customer identifier"


def test_withdraw_for_an_unknown_identifier_fails_without_creating_it(store_args, capsys) -> None:
    """withdraw resolves without creating: SubjectNotFound, exit 1."""
    code, _, err = _run(
        capsys,
        [*store_args, "consent", "withdraw", "email:nobody@example.com", "all", "--source", "web"],
    )
    assert code == 1
    assert "nobody" not in err
    assert err.strip() == "personakit: error: no such email identifier"


def test_manifest_option_is_used(store_args, capsys, tmp_path) -> None:
    """--manifest loads another manifest; an invalid one is a one-line failure."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"manifest_version": 2}', encoding="utf-8")
    code, _, err = _run(
        capsys, [*store_args, "consent", "--manifest", str(bad), "show", "customer:1"]
    )
    assert code == 1
    assert err.startswith("personakit: error: invalid purposes manifest")
    assert len(err.strip().splitlines()) == 1
