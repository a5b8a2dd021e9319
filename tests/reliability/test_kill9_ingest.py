"""Bulk ingest killed with SIGKILL mid-run leaves whole batches and a sound store."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from personakit import LocalKeyProvider, Personakit
from personakit.storage import DiskStore

WORKER = Path(__file__).resolve().parents[1] / "events" / "ingest_worker.py"
LINES = 20_000
BATCH = 200  # ingest_worker.py's batch size
CUSTOMERS = 300


@pytest.mark.slow
def test_kill9_during_ingest_leaves_whole_batches(tmp_path: Path, master_key: str) -> None:
    """5 kills at random moments: integrity ok, chain verifies, stored events = whole batches."""
    source = tmp_path / "in.jsonl"
    with source.open("w") as out:
        for marker in range(LINES):
            line = {
                "kind": "event",
                "subject": f"customer:c{marker % CUSTOMERS}",
                "name": "purchase",
                "channel": "store",
                "at": "2026-01-05T10:00:00Z",
                "properties": {"item": "bread", "marker": marker},
            }
            out.write(json.dumps(line) + "\n")
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
        with Personakit.open(store, keys=LocalKeyProvider(master_key)) as kit:
            assert kit.audit.verify().ok
            markers = []
            for c in range(CUSTOMERS):
                subject = kit.identity.lookup(f"customer:c{c}")
                if subject is not None:
                    markers += [e.properties["marker"] for e in kit.events.read(subject)]
        # Batches commit whole and in order: what is stored is exactly the first k batches.
        assert len(markers) % BATCH == 0
        assert sorted(markers) == list(range(len(markers)))
        print(f"attempt {attempt}: {len(markers)} events in {len(markers) // BATCH} whole batches")
