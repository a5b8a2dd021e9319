"""The audit pack: whole or absent, every file digested, the manifest in the audit chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit import generate_master_key
from personakit.cli import main
from personakit.exceptions import InvalidInput
from personakit.reporting import KINDS, MANIFEST_NAME, PackCheck

from ._scenario import apply_consents, open_kit

PACK_FILES = sorted(
    [f"{kind}.{ext}" for kind in KINDS for ext in ("json", "md", "html")]
    + ["index.html", "index.md"]
)
Pack = tuple[Path, Path, str]


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Pack:
    """A pack of a small populated store on disk, that store's directory and its key."""
    root = tmp_path_factory.mktemp("pack")
    key = generate_master_key()
    with open_kit(str(root / "store"), key=key) as kit:
        apply_consents(kit, [("grant", True)] * 6)
        receipt = kit.reports.pack(root / "pack")
        assert receipt.files == len(PACK_FILES)
        entry = next(e for e in kit.audit.entries() if e.action == "report.pack")
        assert entry.data["manifest_sha256"] == receipt.manifest_sha256
    return root / "pack", root / "store", key


def _verify(pack: Pack) -> PackCheck:
    directory, store, key = pack
    with open_kit(str(store), key=key) as kit:
        return kit.reports.verify_pack(directory)


def test_a_pack_holds_every_report_in_every_format(pack: Pack) -> None:
    """Every report as JSON, Markdown and HTML, an index, and the manifest listing them all."""
    directory, _, _ = pack
    assert sorted(p.name for p in directory.iterdir()) == sorted([*PACK_FILES, MANIFEST_NAME])
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    assert sorted(manifest["files"]) == PACK_FILES
    assert _verify(pack).ok


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_digest_manifest_detects_any_changed_byte(pack: Pack, data: Any) -> None:
    """Flip bits of any byte of any file: verify fails and names that file (or the manifest)."""
    directory = pack[0]
    name = data.draw(st.sampled_from([*PACK_FILES, MANIFEST_NAME]))
    path = directory / name
    original = path.read_bytes()
    position = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
    changed = bytearray(original)
    changed[position] ^= data.draw(st.integers(min_value=1, max_value=255))
    path.write_bytes(bytes(changed))
    try:
        check = _verify(pack) if name == MANIFEST_NAME else None
        if name != MANIFEST_NAME:
            check = _verify(pack)
            assert check.changed == (name,)
    except InvalidInput:
        assert name == MANIFEST_NAME  # a manifest no longer JSON: not a pack at all
        check = None
    finally:
        path.write_bytes(original)
    if check is not None:
        assert not check.ok
        if name == MANIFEST_NAME:
            assert not check.recorded  # its digest is not the one in the audit chain
    assert _verify(pack).ok


def test_missing_and_unlisted_files_are_reported(pack: Pack) -> None:
    """A deleted file is missing, an added one unlisted."""
    directory = pack[0]
    victim = directory / "ropa.md"
    kept = victim.read_bytes()
    victim.unlink()
    (directory / "extra.txt").write_text("x")
    try:
        check = _verify(pack)
    finally:
        victim.write_bytes(kept)
        (directory / "extra.txt").unlink()
    assert (check.ok, check.missing, check.unlisted) == (False, ("ropa.md",), ("extra.txt",))


def test_a_failing_pack_leaves_nothing_behind(tmp_path: Path) -> None:
    """A report that raises mid-pack: no target, no temporary directory, no audit entry."""

    def broken() -> dict[str, Any]:
        raise RuntimeError("reads source failed")

    with open_kit() as kit:
        kit.reports.add_reads("broken", broken)
        head = kit.audit.head()
        with pytest.raises(RuntimeError):
            kit.reports.pack(tmp_path / "pack")
        assert kit.audit.head() == head
    assert list(tmp_path.iterdir()) == []


def test_a_pack_goes_only_into_a_new_or_empty_directory(tmp_path: Path) -> None:
    """A non-empty target is refused before anything is built; an empty one is used."""
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("x")
    (tmp_path / "empty").mkdir()
    with open_kit() as kit:
        with pytest.raises(InvalidInput):
            kit.reports.pack(tmp_path / "full")
        with pytest.raises(InvalidInput):
            kit.reports.pack(tmp_path / "full" / "keep")
        assert kit.reports.pack(tmp_path / "empty").files == len(PACK_FILES)
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep"]


def test_report_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """report KIND to stdout and --out; all; verify (exit 1 once a byte changed); errors."""
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", generate_master_key())
    store = ["--store", str(tmp_path / "s"), "--create"]
    assert main([*store, "report", "ropa", "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("# Record of processing activities")
    assert (
        main([*store, "report", "dsr", "--format", "html", "--out", str(tmp_path / "d.html")]) == 0
    )
    assert (tmp_path / "d.html").read_text().startswith("<!DOCTYPE html>")
    assert main([*store, "report", "all", "--out", str(tmp_path / "pack")]) == 0
    capsys.readouterr()
    assert main([*store, "report", "verify", str(tmp_path / "pack")]) == 0
    capsys.readouterr()
    with (tmp_path / "pack" / "audit.json").open("ab") as handle:
        handle.write(b" ")
    assert main([*store, "report", "verify", str(tmp_path / "pack")]) == 1
    assert json.loads(capsys.readouterr().out)["changed"] == ["audit.json"]
    assert main([*store, "report", "all", "--out", str(tmp_path / "pack")]) == 1
    assert "exists and is not empty" in capsys.readouterr().err
    assert main([*store, "report", "nope"]) == 2
    assert main([*store, "report", "consent", "--subject", "customer:9"]) == 1
    assert main([*store, "report", "all"]) == 2
    err = capsys.readouterr().err
    assert all(line.startswith("personakit:") for line in err.splitlines())
