"""Four processes sharing one PostgreSQL: nothing lost, erasure wins its race, no stale lock.

Needs the server named by PERSONAKIT_TEST_POSTGRES_DSN (skipped otherwise). Each test uses
tenants (namespaces of the default table) of its own and deletes them afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from personakit import LocalKeyProvider, Personakit, StorageError
from personakit.storage import PostgresStore

DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")
WORKER = Path(__file__).with_name("pg_worker.py")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not DSN, reason="PERSONAKIT_TEST_POSTGRES_DSN is not set"),
]


@pytest.fixture
def tenant() -> Iterator[str]:
    """A tenant of its own in the default table, deleted afterwards."""
    name = f"mp-{uuid.uuid4().hex}"
    yield name
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("DELETE FROM personakit_kv WHERE namespace = %s", (name,))


def _line(customer: str, marker: int) -> str:
    return json.dumps(
        {
            "kind": "event",
            "subject": f"customer:{customer}",
            "name": "purchase",
            "channel": "store",
            "at": "2026-01-05T10:00:00Z",
            "properties": {"item": "bread", "marker": marker},
        }
    )


@contextlib.contextmanager
def _ingesters(
    files: list[Path], tenant: str, keys: Path, master_key: str
) -> Iterator[list[subprocess.Popen[str]]]:
    """Start one ingest process per file and release them together; yield them running."""
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(WORKER),
                        "ingest",
                        DSN,
                        tenant,
                        str(keys),
                        master_key,
                        str(path),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            for path in files
        ]
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.close()
        yield workers


def _run_ingesters(files: list[Path], tenant: str, keys: Path, master_key: str) -> list[dict]:
    """Start one ingest process per file, release them together, return their summaries."""
    with _ingesters(files, tenant, keys, master_key) as workers:
        outputs = []
        for worker in workers:
            assert worker.stdout is not None
            outputs.append(worker.stdout.read())
            worker.wait(timeout=300)
        assert [worker.returncode for worker in workers] == [0] * len(workers)
    return [json.loads(output.strip().splitlines()[-1]) for output in outputs]


def _markers(kit: Personakit, customer: str) -> list[int]:
    subject = kit.identity.lookup(f"customer:{customer}")
    assert subject is not None
    return sorted(e.properties["marker"] for e in kit.events.read(subject))


def test_four_processes_ingesting_distinct_and_shared_subjects_lose_nothing(
    tmp_path: Path, master_key: str, tenant: str
) -> None:
    """4 processes x 150 lines (own customers and 10 shared): every event once, one subject each."""
    keys = tmp_path / "keys"
    options = {"tenant": tenant, "key_store": keys, "keys": LocalKeyProvider(master_key)}
    Personakit.open(DSN, **options).close()  # the keyring, made once
    files = []
    for process in range(4):
        path = tmp_path / f"in{process}.jsonl"
        lines = [
            _line(f"shared{n % 10}" if n % 3 == 0 else f"own{process}-{n % 25}", process * 1000 + n)
            for n in range(150)
        ]
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
    summaries = _run_ingesters(files, tenant, keys, master_key)
    assert all(summary["rejected"] == 0 for summary in summaries), summaries
    with Personakit.open(DSN, **options) as kit:
        expected: dict[str, list[int]] = {}
        for process in range(4):
            for n in range(150):
                customer = f"shared{n % 10}" if n % 3 == 0 else f"own{process}-{n % 25}"
                expected.setdefault(customer, []).append(process * 1000 + n)
        for customer, markers in expected.items():
            assert _markers(kit, customer) == sorted(markers), customer
        report = kit.audit.verify()
        assert report.ok, str(report)


def test_an_erasure_racing_ingest_of_its_subject_leaves_nothing_of_it(
    tmp_path: Path, master_key: str, tenant: str
) -> None:
    """3 processes ingest for one customer while a 4th erases it: no row of it survives."""
    keys = tmp_path / "keys"
    options = {"tenant": tenant, "key_store": keys, "keys": LocalKeyProvider(master_key)}
    with Personakit.open(DSN, **options) as kit:
        kit.ingest([_line("victim", -1)])
        victim = kit.identity.lookup("customer:victim")
    assert victim is not None
    files = []
    for process in range(3):
        path = tmp_path / f"in{process}.jsonl"
        path.write_text("".join(_line("victim", process * 1000 + n) + "\n" for n in range(300)))
        files.append(path)
    with _ingesters(files, tenant, keys, master_key) as workers:
        with Personakit.open(DSN, **options) as kit:
            # One run: the erasure holds the subject from its removers to its COMMIT, so no
            # batch can seal events for it in between (it used to need a re-run here).
            receipt = kit.rights.erase(victim)
            with psycopg.connect(DSN) as conn:
                # Right after the erasure commits: no row of the subject, no index entry to it.
                rows = conn.execute(
                    "SELECT count(*) FROM personakit_kv WHERE namespace = %s"
                    " AND (subject = %s OR (key LIKE 'i/%%' AND value = %s))",
                    (tenant, victim, victim.encode()),
                ).fetchone()
        assert rows == (0,)
        assert receipt.receipt_id
        for worker in workers:
            assert worker.stdout is not None
            worker.stdout.read()
            worker.wait(timeout=300)
        assert [worker.returncode for worker in workers] == [0, 0, 0]
    with Personakit.open(DSN, **options) as kit, psycopg.connect(DSN) as conn:
        # Lines after the erasure made a new subject; none reached the erased one.
        rows = conn.execute(
            "SELECT count(*) FROM personakit_kv WHERE namespace = %s AND subject = %s",
            (tenant, victim),
        ).fetchone()
        assert rows == (0,)
        assert kit.identity.lookup("customer:victim") != victim
        assert not kit.keyring.has_subject_key(victim)
        assert kit.audit.verify().ok


def test_a_killed_process_leaves_no_lock_behind() -> None:
    """A process SIGKILLed inside a transaction holding a subject: the next writer proceeds."""
    table, namespace = "personakit_kv", f"mp-{uuid.uuid4().hex}"
    holder = subprocess.Popen(
        [sys.executable, str(WORKER), "hold", DSN, table, namespace],
        stdout=subprocess.PIPE,
        text=True,
    )
    store = PostgresStore(DSN, table=table, namespace=namespace, timeout=0.5)
    with holder, contextlib.closing(store):
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StorageError), store.transaction():
            store.put("s/sub_held/x", b"blocked")  # the lock is really held
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        patient = PostgresStore(DSN, table=table, namespace=namespace, timeout=30)
        try:
            with patient.transaction():
                patient.put("s/sub_held/x", b"next")
            assert patient.get("s/sub_held/x") == b"next"
        finally:
            patient.delete_prefix("s/sub_held/")
            patient.close()


def _namespace_rows_naming(tenant: str, needle: bytes) -> list[str]:
    """A byte scan of every row of the tenant (keys and values): the keys whose row holds it."""
    with psycopg.connect(DSN) as conn:
        rows = conn.execute(
            "SELECT key, value FROM personakit_kv WHERE namespace = %s", (tenant,)
        ).fetchall()
    return [str(key) for key, value in rows if needle in str(key).encode() or needle in value]


def test_an_erasure_racing_tracked_writes_finishes_in_one_run_and_leaves_no_byte(
    tmp_path: Path, master_key: str, tenant: str
) -> None:
    """3 processes write the subject (track by identifier, consent by pseudonym) during erasure.

    The erasure holds the subject across removers, shred and delete, so it completes in one
    run; right after it returns no row of the tenant and no key-store entry holds the
    pseudonym; writes that arrive later either make a fresh subject (by identifier) or get
    SubjectNotFound (by pseudonym), and none ever lands on the erased one again.
    """
    keys = tmp_path / "keys"
    options = {"tenant": tenant, "key_store": keys, "keys": LocalKeyProvider(master_key)}
    with Personakit.open(DSN, **options) as kit:
        victim = kit.track(
            "customer:victim", "purchase", channel="store", properties={"item": "bread"}
        ).subject
    assert victim is not None
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(WORKER),
                        "track",
                        DSN,
                        tenant,
                        str(keys),
                        master_key,
                        victim,
                        "120",
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            for _ in range(3)
        ]
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.close()
        with Personakit.open(DSN, **options) as kit:
            deadline = time.monotonic() + 60
            while len(kit.events.read(victim)) < 12:  # the writers are well under way
                assert time.monotonic() < deadline, "the writers never started"
                time.sleep(0.01)
            kit.rights.erase(victim)  # one run: no ErasureIncomplete
            assert _namespace_rows_naming(tenant, victim.encode()) == []
            assert not kit.keyring.has_subject_key(victim)
            assert [key for key, _ in kit.key_store.scan("") if victim in key] == []
        outcomes = []
        for worker in workers:
            assert worker.stdout is not None
            outcomes.append(json.loads(worker.stdout.read().strip().splitlines()[-1]))
            worker.wait(timeout=300)
        assert [worker.returncode for worker in workers] == [0, 0, 0]
    for seen in outcomes:
        # Once a writer saw the erasure, it never wrote to the erased subject again: by
        # pseudonym it gets SubjectNotFound, by identifier a fresh subject.
        first = next((n for n, outcome in enumerate(seen) if outcome != victim), len(seen))
        for n, outcome in enumerate(seen[first:], start=first):
            assert outcome == "gone" if n % 2 else outcome not in (victim, "gone"), (n, seen)
    assert _namespace_rows_naming(tenant, victim.encode()) == []
    with Personakit.open(DSN, **options) as kit:
        assert not kit.keyring.has_subject_key(victim)
        assert kit.identity.lookup("customer:victim") not in (None, victim)
        assert kit.audit.verify().ok


@contextlib.contextmanager
def _released(argv: list[str], count: int) -> Iterator[list[subprocess.Popen[str]]]:
    """Start ``count`` workers with ``argv``, wait until all are ready, release them together."""
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(
                subprocess.Popen(
                    [sys.executable, str(WORKER), *argv],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            for _ in range(count)
        ]
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.close()
        yield workers


def test_an_erasure_racing_trait_updates_and_rectifications_leaves_no_byte(
    tmp_path: Path, master_key: str, tenant: str
) -> None:
    """3 processes update and rectify the subject's traits by pseudonym while it is erased.

    An update checked the subject (and the basis) before its transaction, so one that passed
    the check just before the erasure committed wrote a traits record of the erased subject
    after it (failed before the re-check under the subject's lock). Now, right after the
    erasure and once every writer is done, no row of the tenant holds the pseudonym, and each
    writer, once it saw the erasure, only ever gets SubjectNotFound.
    """
    keys = tmp_path / "keys"
    options = {"tenant": tenant, "key_store": keys, "keys": LocalKeyProvider(master_key)}
    with Personakit.open(DSN, **options) as kit:
        victim = kit.identity.resolve("customer:victim", create=True)
        kit.traits.update(victim, {"first_name": "start"})
    argv = ["traits", DSN, tenant, str(keys), master_key, victim, "80"]
    with _released(argv, 3) as workers, Personakit.open(DSN, **options) as kit:
        deadline = time.monotonic() + 60
        while kit.traits.get(victim).get("first_name") == "start":  # the writers are under way
            assert time.monotonic() < deadline, "the writers never started"
            time.sleep(0.01)
        time.sleep(0.05)
        kit.rights.erase(victim)
        assert _namespace_rows_naming(tenant, victim.encode()) == []
        outcomes = []
        for worker in workers:
            assert worker.stdout is not None
            outcomes.append(json.loads(worker.stdout.read().strip().splitlines()[-1]))
            worker.wait(timeout=300)
        assert [worker.returncode for worker in workers] == [0, 0, 0]
    assert any("gone" in seen for seen in outcomes)  # the erasure came while they wrote
    for seen in outcomes:
        first = seen.index("gone") if "gone" in seen else len(seen)
        assert set(seen[first:]) <= {"gone"}, seen  # once a writer saw it, it never wrote
    assert _namespace_rows_naming(tenant, victim.encode()) == []
    with Personakit.open(DSN, **options) as kit:
        assert not kit.keyring.has_subject_key(victim)
        assert [key for key, _ in kit.key_store.scan("") if victim in key] == []
        assert kit.audit.verify().ok
