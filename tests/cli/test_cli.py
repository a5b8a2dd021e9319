"""The personakit command: exit codes, one-line errors, audit and key operations end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from personakit import LocalKeyProvider, Personakit
from personakit._codec import canonical_json
from personakit.cli import main


@pytest.fixture
def env(tmp_path: Path, master_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    store = tmp_path / "store"
    monkeypatch.setenv("PERSONAKIT_STORE", str(store))
    with Personakit.open(store, keys=LocalKeyProvider(master_key)) as kit:
        for i in range(5):
            kit.audit.append("test.event", data={"i": i})
        kit.identity.resolve("customer:1", create=True)
    return store


def test_keygen_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    """keygen prints one base64url key that LocalKeyProvider accepts."""
    assert main(["keygen"]) == 0
    key = capsys.readouterr().out.strip()
    assert LocalKeyProvider(key).key_id


def test_keygen_out_writes_owner_only_file_and_never_overwrites(tmp_path: Path) -> None:
    """keygen --out creates a mode-600 file and refuses to overwrite it."""
    out = tmp_path / "master.key"
    assert main(["keygen", "--out", str(out)]) == 0
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert main(["keygen", "--out", str(out)]) == 1


def test_audit_verify_ok_and_tampered(
    env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """audit verify exits 0 on a sound chain and 1 after truncation against a checkpoint."""
    checkpoint = tmp_path / "cp.json"
    assert main(["audit", "checkpoint", "--out", str(checkpoint)]) == 0
    assert main(["audit", "verify", "--checkpoint", str(checkpoint)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    with Personakit.open(env, keys=LocalKeyProvider(os.environ["PERSONAKIT_MASTER_KEY"])) as kit:
        last = json.loads(kit.store.get("a/e/0000000000000004") or b"")
        kit.store.delete("a/e/0000000000000005")
        kit.store.put("a/head", canonical_json({"seq": 4, "hash": last["hash"]}))
    assert main(["audit", "verify"]) == 0  # self-consistent without the checkpoint
    capsys.readouterr()
    assert main(["audit", "verify", "--checkpoint", str(checkpoint)]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["problems"][0]["kind"] == "truncated"
    assert "does NOT verify" in captured.err


def test_keys_rotate_then_only_new_key_opens(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """keys rotate re-wraps every key; afterwards the new key alone opens the store."""
    new_key = tmp_path / "new.key"
    assert main(["keygen", "--out", str(new_key)]) == 0
    assert main(["keys", "rotate", "--new-key-file", str(new_key)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rewrapped"] == 1
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY")
    assert main(["--key-file", str(new_key), "keys", "status"]) == 0
    assert json.loads(capsys.readouterr().out)["rotation_pending_to"] is None
    assert main(["--key-file", str(new_key), "audit", "verify"]) == 0


def test_store_check_and_scrub(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """store check reports hardened settings and a sound store; scrub completes."""
    assert main(["store", "check"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["data"]["settings"]["eviction_policy"] == "none"
    assert report["data"]["integrity"] == "ok"
    assert main(["store", "scrub"]) == 0


@pytest.mark.parametrize(
    "argv",
    [[], ["nonsense"], ["audit"], ["audit", "verify", "--bogus"], ["keys", "rotate"]],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Malformed command lines exit 2 with exactly one line on stderr."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("personakit: usage error:")


def test_failures_exit_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing key, a missing store and a wrong key each exit 1 with one line, no traceback."""
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY", raising=False)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    assert main(["--store", str(tmp_path / "nope"), "audit", "verify"]) == 1
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", "not-a-key")
    assert main(["--store", str(tmp_path), "--create", "audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 2
    assert "Traceback" not in err


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    """`python -m personakit.cli` runs without standard input and reports usage errors as exit 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "personakit.cli", "frobnicate"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
