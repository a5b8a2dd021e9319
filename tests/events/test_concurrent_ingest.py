"""Four processes ingesting into one DiskStore at once lose nothing and raise nothing untyped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _shared import purchase_line
from personakit import LocalKeyProvider, Personakit

WORKER = Path(__file__).with_name("ingest_worker.py")
PROCESSES = 4
EVENTS = 1500
CUSTOMERS = 40


@pytest.mark.slow
def test_four_processes_lose_no_event(tmp_path: Path, master_key: str) -> None:
    """Every event of every process is stored exactly once; shared new subjects are not split."""
    store = tmp_path / "store"
    Personakit.open(store, keys=LocalKeyProvider(master_key)).close()
    files = []
    for p in range(PROCESSES):
        path = tmp_path / f"in{p}.jsonl"
        with path.open("w") as out:
            for i in range(EVENTS):
                marker = p * EVENTS + i
                out.write(json.dumps(purchase_line(marker, CUSTOMERS)) + "\n")
        files.append(path)
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(store), master_key, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        assert json.loads(out) == {
            "accepted": EVENTS,
            "rejected": 0,
            "dropped_no_basis": 0,
            "errors": [],
        }
    with Personakit.open(store, keys=LocalKeyProvider(master_key)) as kit:
        assert kit.keyring.subject_count() == CUSTOMERS
        markers = []
        for c in range(CUSTOMERS):
            subject = kit.identity.resolve(f"customer:c{c}")
            markers += [e.properties["marker"] for e in kit.events.read(subject)]
        assert sorted(markers) == list(range(PROCESSES * EVENTS))
