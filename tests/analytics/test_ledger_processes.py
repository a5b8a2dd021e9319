"""The budget ledger across processes: never over the cap, every answer recorded, kill -9 safe.

Four processes issue random queries at one store (embedded, then PostgreSQL); a process killed
between the ledger write and the answer leaves a release whose retry gets the stored answer
back (never fresh noise for free), and one killed before it leaves nothing spent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from personakit import LocalKeyProvider, Personakit

WORKER = Path(__file__).with_name("dp_worker.py")
DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")
CAP = 4.0
sys.path.insert(0, str(WORKER.parent))
from dp_worker import DATASET, dataset  # noqa: E402


def _run(  # noqa: PLR0917 (the worker's command line, positionally)
    location: str, key: str, keys_dir: str, tenant: str, seed: int, queries: int, mode: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(WORKER),
            location,
            key,
            keys_dir,
            tenant,
            str(seed),
            str(queries),
            mode,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(
    params=[
        "disk",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not DSN, reason="PERSONAKIT_TEST_POSTGRES_DSN is not set"),
            ],
        ),
    ]
)
def where(
    request: pytest.FixtureRequest, tmp_path: Path, master_key: str
) -> Iterator[tuple[str, str, str]]:
    """(location, keys_dir, tenant) of a fresh store with the dataset's cap set."""
    if request.param == "disk":
        location, keys_dir, tenant = str(tmp_path / "store"), "-", "default"
    else:
        location, keys_dir, tenant = DSN, str(tmp_path / "keys"), f"p16dp-{uuid.uuid4().hex[:12]}"
    with _open(location, keys_dir, tenant, master_key) as kit:
        kit.analytics.set_budget(DATASET, epsilon=CAP, reason="test cap")
    yield location, keys_dir, tenant
    if request.param == "postgres":
        import psycopg  # noqa: PLC0415 (only with a PostgreSQL server)

        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute("DELETE FROM personakit_kv WHERE namespace = %s", (tenant,))


def _open(location: str, keys_dir: str, tenant: str, key: str) -> Personakit:
    options: dict[str, Any] = {"keys": LocalKeyProvider(key), "tenant": tenant}
    if keys_dir != "-":
        options["key_store"] = keys_dir
    kit = Personakit.open(location, **options)
    kit.analytics.offer(dataset())
    return kit


def test_four_processes_never_overspend_and_every_answer_is_recorded(
    where: tuple[str, str, str], master_key: str
) -> None:
    """Random queries from four processes: spent <= cap, and each answer's release is in the ledger."""
    location, keys_dir, tenant = where
    workers = [
        _run(location, master_key, keys_dir, tenant, seed, 20, "random") for seed in range(4)
    ]
    answers: list[dict[str, Any]] = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        answers.extend(json.loads(line) for line in out.splitlines())
    with _open(location, keys_dir, tenant, master_key) as kit:
        budget = kit.analytics.budget(DATASET)
        releases = {r["seq"]: r for r in kit.analytics.ledger.releases(DATASET)}
        assert kit.audit.verify().ok
    assert budget.spent.epsilon <= CAP
    assert budget.releases == len(releases) == max(releases)
    assert sum(r["loss"]["epsilon"] for r in releases.values()) == pytest.approx(
        budget.spent.epsilon
    )
    released = [a for a in answers if not a.get("refused")]
    assert released
    assert all(a["release"] in releases for a in released)
    spent_now = [a["release"] for a in released if a["spent"]]
    assert len(spent_now) == len(set(spent_now))  # a release is answered fresh once only
    assert any(a.get("refused") for a in answers)  # the cap was reached


def test_a_kill_after_the_ledger_write_never_lets_a_retry_spend_nothing(
    where: tuple[str, str, str], master_key: str
) -> None:
    """SIGKILL after the commit: the retry returns the stored answer (no fresh noise for free)."""
    location, keys_dir, tenant = where
    worker = _run(location, master_key, keys_dir, tenant, 0, 0, "kill-after")
    worker.communicate(timeout=60)
    assert worker.returncode == -signal.SIGKILL
    with _open(location, keys_dir, tenant, master_key) as kit:
        (entry,) = kit.analytics.ledger.releases(DATASET)
        retry = kit.analytics.sum(
            DATASET, "cents", bounds=(0, 500), epsilon=0.25, reason="kill test"
        )
        assert not retry.spent_now
        assert retry.release == entry["seq"]
        stored = kit.analytics.ledger.stored(DATASET, entry["answer"])
        assert stored is not None
        assert retry.value == stored["value"]
        fresh = kit.analytics.sum(
            DATASET, "cents", bounds=(0, 500), epsilon=0.25, reuse=False, reason="kill test"
        )
        assert fresh.spent_now
        assert kit.analytics.budget(DATASET).releases == 2


def test_a_kill_before_the_ledger_write_releases_and_spends_nothing(
    where: tuple[str, str, str], master_key: str
) -> None:
    """SIGKILL before the commit: no release; the retry spends (and is recorded)."""
    location, keys_dir, tenant = where
    worker = _run(location, master_key, keys_dir, tenant, 0, 0, "kill-before")
    worker.communicate(timeout=60)
    assert worker.returncode == -signal.SIGKILL
    with _open(location, keys_dir, tenant, master_key) as kit:
        assert kit.analytics.budget(DATASET).releases == 0
        retry = kit.analytics.sum(
            DATASET, "cents", bounds=(0, 500), epsilon=0.25, reason="kill test"
        )
        assert retry.spent_now
        assert retry.release == 1
