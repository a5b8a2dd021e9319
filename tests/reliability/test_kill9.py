"""A writer killed with SIGKILL at random moments never leaves a broken or inconsistent store."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from _shared import kill_when_ready
from personakit import LocalKeyProvider, Personakit
from personakit.storage import DiskStore

WRITER = Path(__file__).with_name("killable_writer.py")
A = "sub_aaaaaaaaaaaaaaaaaaaaaaaaaa"
B = "sub_bbbbbbbbbbbbbbbbbbbbbbbbbb"
KILLS = 25


def _check(store_dir: Path, key: str) -> int:
    for sub in ("data", "keys"):
        disk = DiskStore(store_dir / sub)
        assert disk.integrity_check() == [], f"{sub}: SQLite integrity check failed"
        disk.close()
    with Personakit.open(store_dir, keys=LocalKeyProvider(key)) as kit:
        a = kit.vault.get_json(A, "acct", "balance")
        b = kit.vault.get_json(B, "acct", "balance")
        assert a + b == 1000, "multi-key invariant broken"
        counter = int(kit.store.get("x/counter") or b"0")
        transfers = sum(1 for e in kit.audit.entries() if e.action == "transfer")
        assert counter == transfers, "counter and audit chain disagree"
        report = kit.audit.verify()
        assert report.ok, str(report)
        return counter


@pytest.mark.slow
def test_kill9_during_writes_leaves_a_sound_store(tmp_path: Path, master_key: str) -> None:
    """25 SIGKILLs at random moments: store opens, integrity ok, invariant holds, chain verifies."""
    rng = random.Random(20261122)
    store_dir = tmp_path / "store"
    progress = []
    for _ in range(KILLS):
        kill_when_ready(WRITER, store_dir, master_key, rng.uniform(0.0, 0.25))
        progress.append(_check(store_dir, master_key))
    # The writer made progress between kills, so kills landed amid real write traffic.
    assert progress[-1] > KILLS
    assert progress == sorted(progress)
    print(f"transfers committed across {KILLS} kills: {progress[-1]}")
