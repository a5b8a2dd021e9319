"""Bulk ingest killed with SIGKILL mid-run leaves whole batches and a sound store."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _shared import purchase_line
from personakit import LocalKeyProvider, Personakit
from personakit.storage import DiskStore

WORKER = Path(__file__).resolve().parents[1] / "events" / "ingest_worker.py"
LINES = 20_000
BATCH = 200  # ingest_worker.py's batch size
CUSTOMERS = 300


def _write_source(path: Path) -> None:
    with path.open("w") as out:
        for marker in range(LINES):
            out.write(json.dumps(purchase_line(marker, CUSTOMERS)) + "\n")


@pytest.mark.slow
def test_kill9_during_ingest_leaves_whole_batches(tmp_path: Path, master_key: str) -> None:
    """5 kills at random moments: integrity ok, chain verifies, stored events = whole batches."""
    source = tmp_path / "in.jsonl"
    _write_source(source)
    rng = random.Random(5)
    for attempt in range(5):
        store = tmp_path / f"store{attempt}"
        Personakit.open(store, keys=LocalKeyProvider(master_key)).close()
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), str(store), master_key, str(source)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.3, 1.2))
        worker.kill()
        worker.communicate()
        for sub in ("data", "keys"):
            disk = DiskStore(store / sub)
            assert disk.integrity_check() == []
            disk.close()
        markers = _markers(store, master_key)
        # Batches commit whole and in order: what is stored is exactly the first k batches.
        assert len(markers) % BATCH == 0
        assert sorted(markers) == list(range(len(markers)))
        print(f"attempt {attempt}: {len(markers)} events in {len(markers) // BATCH} whole batches")


def _markers(store: Path, key: str) -> list[int]:
    found: list[int] = []
    with Personakit.open(store, keys=LocalKeyProvider(key)) as kit:
        assert kit.audit.verify().ok
        for c in range(CUSTOMERS):
            subject = kit.identity.lookup(f"customer:c{c}")
            if subject is not None:
                found += [e.properties["marker"] for e in kit.events.read(subject)]
    return found


@pytest.mark.slow
def test_resume_after_kill9_stores_every_line_exactly_once(tmp_path: Path, master_key: str) -> None:
    """Killed twice mid-import, then resumed with the same checkpoint: each event exactly once."""
    source = tmp_path / "in.jsonl"
    _write_source(source)
    store = tmp_path / "store"
    Personakit.open(store, keys=LocalKeyProvider(master_key)).close()
    command = [sys.executable, str(WORKER), str(store), master_key, str(source), "nightly-import"]
    for pause in (0.6, 0.6):
        worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(pause)
        worker.kill()
        worker.communicate()
    partial = len(_markers(store, master_key))
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout)
    assert summary["resumed_after_line"] == partial
    assert summary["accepted"] == LINES - partial
    assert sorted(_markers(store, master_key)) == list(range(LINES))
