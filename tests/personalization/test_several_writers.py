"""Several writer processes at once: every subject's state and the index stay exact.

Three processes track and bulk-ingest events for the same customers, on the embedded
DiskStore and on PostgreSQL (each subject's state and index entries are written in its
transaction, under its lock): afterwards every state equals a replay of its events, and after
a refresh the index holds exactly each subject's memberships.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from _shared import PRIVACY
from personakit import Personakit
from personakit.personalization._index import INDEX_PREFIX

WORKER = Path(__file__).with_name("pz_worker.py")
DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")
PROCESSES, CUSTOMERS, ROUNDS = 3, 6, 60

sys.path.insert(0, str(Path(__file__).parent))
from pz_worker import open_kit  # noqa: E402


def _check(kit: Personakit) -> None:
    keeper = kit.personalization.keeper
    now = kit.clock.now()
    kit.personalization.refresh(now)
    wanted = set()
    for number in range(CUSTOMERS):
        subject = kit.identity.lookup(f"customer:c{number}")
        assert subject is not None
        state = keeper.load(subject)
        expected = keeper.replay(kit.events.read(subject))
        assert state is not None
        assert state.same_aggregates(expected)
        expected.segments = state.segments
        names = keeper.memberships(subject, expected, now, known=True)
        assert names == state.segments
        wanted |= {(name, subject) for name in names}
    indexed = {tuple(k[len(INDEX_PREFIX) :].split("/", 1)) for k, _ in kit.store.scan(INDEX_PREFIX)}
    assert indexed == wanted


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend",
    [
        "disk",
        pytest.param(
            "postgres",
            marks=[pytest.mark.postgres, pytest.mark.skipif(not DSN, reason="no PostgreSQL")],
        ),
    ],
)
def test_three_writer_processes_keep_exact_state(
    backend: str, tmp_path: Path, master_key: str
) -> None:
    """Concurrent track / ingest of shared customers: state == replay, index == memberships."""
    location = DSN if backend == "postgres" else str(tmp_path / "store")
    namespace = f"pz-{uuid.uuid4().hex[:10]}"
    keys_dir = str(tmp_path / "keys")
    with open_kit(location, namespace, keys_dir, master_key) as kit:
        for number in range(CUSTOMERS):
            subject = kit.identity.resolve(f"customer:c{number}", create=True)
            kit.consent.grant(subject, ["personalization"], **PRIVACY)
    args = [location, namespace, keys_dir, master_key]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *args, str(w), str(CUSTOMERS), str(ROUNDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(PROCESSES)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        assert json.loads(out) == {"done": ROUNDS}
    with open_kit(location, namespace, keys_dir, master_key) as kit:
        _check(kit)
        if backend == "postgres":  # the namespace is this test's own: leave the table clean
            with kit.store.transaction():
                for key in [key for key, _ in kit.store.scan("")]:
                    kit.store.delete(key)
