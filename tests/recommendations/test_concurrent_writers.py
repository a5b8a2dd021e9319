"""Four writer processes on one store: no lost update in the shared item rows.

Every process ingests baskets over the same six items for its own customers, so all of them
read-modify-write the same rows at once. Afterwards the rows equal the rebuild from the stored
events, on the embedded store (SQLite) and on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from _rec_worker import open_kit, rebuilt
from personakit import Personakit
from personakit.recommendations._shared import load_rows

WORKER = Path(__file__).parent.parent / "_rec_worker.py"
PROCESSES = 4
DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")


def _run_workers(backend: str, where: str, key: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), backend, where, key, str(n), DSN],
            env=env,
            stderr=subprocess.PIPE,
        )
        for n in range(PROCESSES)
    ]
    errors = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        if proc.returncode:
            errors.append(err.decode()[-2000:])
    assert errors == []


def _check(kit: Personakit) -> None:
    rows = load_rows(kit.store)
    assert rows == rebuilt(kit)
    assert sum(row.n for row in rows.values()) > 0
    assert len(kit.retention.subjects()) == PROCESSES * 8


def test_four_processes_on_the_disk_store(tmp_path: Path, master_key: str) -> None:
    where = str(tmp_path / "store")
    open_kit("disk", where, master_key).close()  # created once, before the writers race
    _run_workers("disk", where, master_key)
    with open_kit("disk", where, master_key) as kit:
        _check(kit)


@pytest.mark.postgres
@pytest.mark.skipif(not DSN, reason="PERSONAKIT_TEST_POSTGRES_DSN is not set")
def test_four_processes_on_postgresql(master_key: str) -> None:
    namespace = f"p14rec-{uuid.uuid4().hex[:12]}"
    _run_workers("postgres", namespace, master_key)
    with open_kit("postgres", namespace, master_key, DSN) as kit:
        try:
            _check(kit)
        finally:
            import psycopg  # noqa: PLC0415 (only with a PostgreSQL server)

            with psycopg.connect(DSN, autocommit=True) as conn:
                conn.execute(
                    "DELETE FROM personakit_kv WHERE namespace IN (%s, %s)",
                    (namespace, namespace + "-keys"),
                )
