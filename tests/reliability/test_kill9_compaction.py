"""Compaction killed with SIGKILL at random moments loses and duplicates no event."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from _shared import kill_when_ready
from personakit import LocalKeyProvider, Personakit
from personakit.storage import DiskStore

WRITER = Path(__file__).with_name("killable_compactor.py")
KILLS = 6


def _numbers(store_dir: Path, key: str) -> list[int]:
    disk = DiskStore(store_dir / "data")
    assert disk.integrity_check() == [], "SQLite integrity check failed"
    disk.close()
    with Personakit.open(store_dir, keys=LocalKeyProvider(key)) as kit:
        subject = kit.identity.lookup("customer:compacted")
        assert subject is not None
        events = kit.events.read(subject, compact=False)
        assert len({e.id for e in events}) == len(events), "an event is duplicated"
        return [e.properties["n"] for e in events]


@pytest.mark.slow
def test_kill9_during_compaction_loses_and_duplicates_nothing(
    tmp_path: Path, master_key: str
) -> None:
    """6 SIGKILLs amid appends and merges: events read back are exactly 0..n-1, once each."""
    rng = random.Random(20261202)
    store_dir = tmp_path / "store"
    counts = []
    for _ in range(KILLS):
        kill_when_ready(WRITER, store_dir, master_key, rng.uniform(0.05, 0.4))
        numbers = _numbers(store_dir, master_key)
        assert numbers == list(range(len(numbers))), "an event was lost or reordered"
        counts.append(len(numbers))
    # The writer made progress between kills, so kills landed amid appends and merges.
    assert counts == sorted(counts)
    assert counts[-1] > 40
