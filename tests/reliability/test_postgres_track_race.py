"""track() racing link and erasure on PostgreSQL: no event lands on a subject that is gone.

``track()`` looks its identifier up inside the transaction that stores the event, under the
lock of the subject it names, so a merge or an erasure committing first is seen and one
starting later waits. Needs PERSONAKIT_TEST_POSTGRES_DSN (skipped otherwise); each test uses a
tenant of its own, deleted afterwards.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from personakit import LocalKeyProvider, Personakit

DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not DSN, reason="PERSONAKIT_TEST_POSTGRES_DSN is not set"),
]


@pytest.fixture
def kit(tmp_path: Path, master_key: str) -> Iterator[Personakit]:
    """A kit on a tenant of its own (keys in a directory), the tenant deleted afterwards."""
    tenant = f"p12c-track-{uuid.uuid4().hex}"
    with Personakit.open(
        DSN, tenant=tenant, key_store=tmp_path / "keys", keys=LocalKeyProvider(master_key)
    ) as opened:
        yield opened
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("DELETE FROM personakit_kv WHERE namespace = %s", (tenant,))


def _orphans(kit: Personakit) -> list[str]:
    """Subjects with rows in the store but no meta record or no data key (written after gone)."""
    with psycopg.connect(DSN) as conn:
        rows = conn.execute(
            "SELECT DISTINCT subject FROM personakit_kv WHERE namespace = %s AND subject <> ''",
            (kit.tenant,),
        ).fetchall()
    return [
        str(subject)
        for (subject,) in rows
        if not kit.identity.exists(str(subject)) or not kit.keyring.has_subject_key(str(subject))
    ]


def _tracking(kit: Personakit, identifier: str, count: int) -> list[threading.Thread]:
    def work() -> None:
        for _ in range(count):
            kit.track(identifier, "purchase", channel="store", properties={"item": "bread"})

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    return threads


def test_track_racing_link_and_erase_leaves_no_orphan_records(kit: Personakit) -> None:
    """3 threads track an anonymous id while it is merged into a known one, then erased."""
    for round_ in range(3):
        anonymous, known = f"anon:a{round_}", f"customer:k{round_}"
        bread = {"item": "bread"}
        source = kit.track(anonymous, "purchase", channel="store", properties=bread).subject
        kit.track(known, "purchase", channel="store", properties=bread)
        threads = _tracking(kit, anonymous, 40)
        deadline = time.monotonic() + 60
        while source is not None and len(kit.events.read(source)) < 6:
            assert time.monotonic() < deadline, "the trackers never started"
            time.sleep(0.005)
        result = kit.link(anonymous, known)
        target = kit.identity.lookup(known)
        assert target is not None
        assert target != source
        assert result.subject == target
        kit.rights.erase(target)  # one run: no write lands on it after the erasure
        for thread in threads:
            thread.join(timeout=120)
        assert _orphans(kit) == [], round_
        survivor = kit.identity.lookup(anonymous)
        assert survivor not in (source, target)  # tracked after the erasure: a fresh subject
    assert kit.audit.verify().ok
