"""Exactly once: two processes running ``run_due`` at once, and a SIGKILL halfway then a rerun.

On the embedded store (a directory) and on PostgreSQL (marked postgres; its own tenant,
deleted afterwards). Each due step has one claim, written in the transaction that writes its
action and deletes its due entry, so no action is produced twice or lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from _journey_kit import customer
from personakit import LocalKeyProvider, Personakit, generate_master_key
from personakit._clock import FixedClock

DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")
WORKER = Path(__file__).with_name("journey_worker.py")
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CUSTOMERS = 40
ONE_STEP = {
    "id": "nudge",
    "trigger": {"type": "event", "event": "add_to_cart"},
    "steps": [{"id": "only", "template": "cart_abandonment", "delay": {"hours": 1}}],
}


@pytest.fixture(params=["disk", pytest.param("postgres", marks=pytest.mark.postgres)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(location, tenant, key store directory) of a fresh kit."""
    if request.param == "disk":
        yield str(tmp_path / "store"), "default", str(tmp_path / "store" / "keys")
        return
    if not DSN:
        pytest.skip("PERSONAKIT_TEST_POSTGRES_DSN is not set")
    tenant = f"p15-{uuid.uuid4().hex[:12]}"
    yield DSN, tenant, str(tmp_path / "keys")
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("DELETE FROM personakit_kv WHERE namespace = %s", (tenant,))


def _open(place: tuple[str, str, str], key: str, at: datetime) -> Personakit:
    location, tenant, keys = place
    key_store = keys if location.startswith("postgresql://") else None
    return Personakit.open(
        location,
        tenant=tenant,
        key_store=key_store,
        keys=LocalKeyProvider(key),
        clock=FixedClock(at),
    )


def _prepare(place: tuple[str, str, str], key: str) -> None:
    with _open(place, key, START) as kit:
        kit.journeys.load([ONE_STEP])
        for n in range(CUSTOMERS):
            customer(kit, f"c{n}")
            kit.track(f"customer:c{n}", "add_to_cart", channel="web", properties={"item": "x"})


def _worker(
    place: tuple[str, str, str], key: str, pause: float, mode: str = "run"
) -> subprocess.Popen[str]:
    location, tenant, keys = place
    now = (START + timedelta(hours=2)).isoformat()
    process = subprocess.Popen(
        [sys.executable, str(WORKER), location, tenant, keys, key, now, str(pause), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _actions(place: tuple[str, str, str], key: str) -> list[str]:
    with _open(place, key, START + timedelta(days=3)) as kit:
        actions = kit.journeys.pending(limit=1000)
        return sorted(a.subject for a in actions)


def test_two_processes_at_once_produce_each_action_once(place: tuple[str, str, str]) -> None:
    key = generate_master_key()
    _prepare(place, key)
    workers = [_worker(place, key, 0) for _ in range(2)]
    for process in workers:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    produced = 0
    for process in workers:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        produced += json.loads(out)["produced"]
    assert produced == CUSTOMERS
    subjects = _actions(place, key)
    assert len(subjects) == CUSTOMERS
    assert len(set(subjects)) == CUSTOMERS


def test_a_sigkill_halfway_then_a_rerun_produce_each_action_once(
    place: tuple[str, str, str],
) -> None:
    key = generate_master_key()
    _prepare(place, key)
    victim = _worker(place, key, 0.02)
    assert victim.stdin is not None
    victim.stdin.write("go\n")
    victim.stdin.flush()
    assert victim.stdout is not None
    for line in victim.stdout:  # the first group of 16 committed, the second one halfway
        if line.startswith("done ") and int(line.split()[1]) >= 20:
            break
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    victim.stdin.close()
    victim.stdout.close()
    assert victim.returncode == -signal.SIGKILL
    with _open(place, key, START + timedelta(hours=2)) as kit:
        done_before = len(kit.journeys.pending(limit=1000))
    assert done_before == 16  # the first group committed, the second one rolled back
    rerun = _worker(place, key, 0)
    out, _ = rerun.communicate("go\n", timeout=120)
    assert json.loads(out)["produced"] == CUSTOMERS - done_before
    subjects = _actions(place, key)
    assert len(subjects) == len(set(subjects)) == CUSTOMERS


def test_two_senders_at_once_are_each_handed_an_action_once_until_its_lease_ends(
    place: tuple[str, str, str],
) -> None:
    key = generate_master_key()
    _prepare(place, key)
    with _open(place, key, START + timedelta(hours=2)) as kit:
        assert kit.journeys.run_due().produced == CUSTOMERS
    senders = [_worker(place, key, 0, "pending") for _ in range(2)]
    for process in senders:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    handed: list[str] = []
    for process in senders:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        handed += json.loads(out)
    assert len(handed) == len(set(handed)) == CUSTOMERS  # no action went to both senders
    with _open(place, key, START + timedelta(hours=2, minutes=5)) as kit:
        assert kit.journeys.pending(limit=1000) == []  # still leased
        kit.journeys.mark_sent(handed[0])
    with _open(place, key, START + timedelta(hours=2, minutes=11)) as kit:
        again = kit.journeys.pending(limit=1000)  # the leases ended without mark_sent
        assert sorted(a.id for a in again) == sorted(handed[1:])
