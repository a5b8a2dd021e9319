"""`personakit store check` finds rows DiskStore never writes, without reading them.

A planted pickle (CVE-2025-69872: diskcache unpickles rows in its pickle mode) is refused by a
read; ``store check`` must also report it before anything reads it: how many such rows, under
which key prefix and why, never a value, and exit 1.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path

import diskcache
import pytest

from personakit import LocalKeyProvider, Personakit
from personakit.cli import main


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path, str]]:
        return (Path.write_text, (self.marker, "pwned"))


def _plant(
    db: Path, key: object, *, raw: int, mode: int, value: object, filename: str | None = None
) -> None:
    with sqlite3.connect(db) as con:
        con.execute(
            "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count,"
            " tag, size, mode, filename, value) VALUES (?, ?, 0, NULL, 0, 0, NULL, 0, ?, ?, ?)",
            (key, raw, mode, filename, value),
        )


@pytest.fixture
def store(tmp_path: Path, master_key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    for name in ("PERSONAKIT_MASTER_KEY_FILE", "PERSONAKIT_TENANT", "PERSONAKIT_KEY_STORE"):
        monkeypatch.delenv(name, raising=False)
    location = tmp_path / "store"
    with Personakit.open(location, keys=LocalKeyProvider(master_key)) as kit:
        kit.audit.append("test.event")
        kit.identity.resolve("customer:1", create=True)
    monkeypatch.setenv("PERSONAKIT_STORE", str(location))
    return location


def test_a_sound_store_has_no_foreign_rows(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every row the kit wrote is in personakit's format: count 0, exit 0."""
    assert main(["store", "check"]) == 0
    report = json.loads(capsys.readouterr().out)
    for name in ("data", "keys"):
        assert report[name]["foreign_rows"] == {"count": 0, "prefixes": {}, "reasons": {}}


def test_a_planted_pickle_is_reported_and_never_run(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pickle row that would create a file: reported (count, prefix, reason), exit 1, no file."""
    marker = tmp_path / "marker"
    payload = pickle.dumps(_Payload(marker))
    _plant(
        store / "data" / "cache.db",
        "s/sub_planted/traits/x",
        raw=1,
        mode=diskcache.core.MODE_PICKLE,
        value=payload,
    )
    assert main(["store", "check"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["data"]["foreign_rows"] == {
        "count": 1,
        "prefixes": {"s/": 1},
        "reasons": {"pickle mode": 1},
    }
    assert report["keys"]["foreign_rows"]["count"] == 0
    assert "sub_planted" not in captured.out + captured.err  # prefixes only, never whole keys
    assert captured.err.count("\n") == 1
    assert "not in personakit's format" in captured.err
    assert not marker.exists()


def test_pickled_keys_side_files_and_audit_rows_are_all_reported(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pickled key, a side-file row and a pickle among the audit entries: three rows, exit 1."""
    marker = tmp_path / "marker"
    payload = pickle.dumps(_Payload(marker))
    db = store / "data" / "cache.db"
    _plant(db, payload, raw=0, mode=diskcache.core.MODE_RAW, value=b"x")
    _plant(
        db,
        "i/email/planted",
        raw=1,
        mode=diskcache.core.MODE_BINARY,
        value=None,
        filename="../../etc/passwd",
    )
    _plant(db, "a/e/0000000000000099", raw=1, mode=diskcache.core.MODE_PICKLE, value=payload)
    _plant(
        store / "keys" / "cache.db", "k/s/planted", raw=1, mode=diskcache.core.MODE_TEXT, value="t"
    )
    assert main(["store", "check"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["data"]["foreign_rows"] == {
        "count": 3,
        "prefixes": {"(not a text key)": 1, "a/": 1, "i/": 1},
        "reasons": {"binary mode": 1, "not a text key": 1, "pickle mode": 1, "side file": 1},
    }
    assert report["keys"]["foreign_rows"] == {
        "count": 1,
        "prefixes": {"k/": 1},
        "reasons": {"text mode": 1},
    }
    assert report["audit"]["ok"] is False  # the audit scan met the planted entry and refused it
    assert not marker.exists()
