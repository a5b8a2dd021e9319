"""Shared fixtures: a master key, a fixed clock, kits on memory and on disk, store snapshots.

The modules in ``POSTGRES_TOO`` (consent ledger, erasure, rights requests, ingest) run their
``memory_kit`` and ``kit_and_clock`` tests a second time with the data on PostgreSQL when
PERSONAKIT_TEST_POSTGRES_DSN is set: the same behaviour, proven on both backends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from personakit import FixedClock, LocalKeyProvider, Personakit, generate_master_key, testing
from personakit.storage import MemoryStore, PostgresStore

POSTGRES_DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")
#: Test modules whose kit fixtures also run on PostgreSQL (a representative subset: all of
#: them twice would add minutes to the default run).
POSTGRES_TOO = frozenset(
    {
        "tests/consent/test_ledger.py",
        "tests/rights/test_erase.py",
        "tests/rights/test_requests.py",
        "tests/events/test_ingest.py",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the kit fixtures of the POSTGRES_TOO modules on both backends."""
    module = Path(metafunc.definition.fspath).relative_to(Path(__file__).parent.parent)
    if "store_backend" in metafunc.fixturenames and module.as_posix() in POSTGRES_TOO:
        backends = ["memory"]
        if POSTGRES_DSN:
            backends.append(pytest.param("postgres", marks=pytest.mark.postgres))
        metafunc.parametrize("store_backend", backends, indirect=True)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """Where a kit fixture keeps its data: "memory", or "postgres" in POSTGRES_TOO modules."""
    return str(getattr(request, "param", "memory"))


@pytest.fixture(scope="session")
def _kit_database() -> Iterator[str]:
    """A database of this run's own for PostgreSQL kits (created on first use, then dropped).

    Its own database, because VACUUM (and so a scrub) is held back by any open transaction in
    the same database: other suites sharing the server must not make erasure receipts pending.
    """
    if not POSTGRES_DSN:
        yield ""
        return
    import psycopg  # noqa: PLC0415 (only when a PostgreSQL server is configured)
    from psycopg.conninfo import make_conninfo  # noqa: PLC0415

    name = f"personakit_kits_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    yield make_conninfo(POSTGRES_DSN, dbname=name)
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _kit_on(backend: str, database: str, key: str, clock: FixedClock) -> Personakit:
    if backend == "memory":
        return Personakit.open("memory:", keys=LocalKeyProvider(key), clock=clock)
    data = PostgresStore(database, namespace=f"kit-{uuid.uuid4().hex}")
    return Personakit(store=data, key_store=MemoryStore(), keys=LocalKeyProvider(key), clock=clock)


@pytest.fixture
def master_key() -> str:
    """A fresh random master key (base64url text)."""
    return generate_master_key()


@pytest.fixture
def clock() -> FixedClock:
    """A clock fixed at a Monday morning in January 2026."""
    return FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture
def disk_kit(tmp_path: Path, master_key: str, clock: FixedClock) -> Iterator[Personakit]:
    """A kit on the embedded DiskStore in a temporary directory."""
    with Personakit.open(tmp_path / "store", keys=LocalKeyProvider(master_key), clock=clock) as kit:
        yield kit


@pytest.fixture
def kit_and_clock(
    store_backend: str, _kit_database: str
) -> Iterator[tuple[Personakit, FixedClock]]:
    """A kit (in memory, or see POSTGRES_TOO) with the default manifest and its FixedClock."""
    if store_backend == "memory":
        kit, fixed = testing.memory_kit()
    else:
        fixed = FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        kit = _kit_on(store_backend, _kit_database, generate_master_key(), fixed)
    with kit:
        yield kit, fixed


@pytest.fixture
def memory_kit(
    master_key: str, clock: FixedClock, store_backend: str, _kit_database: str
) -> Iterator[Personakit]:
    """A kit on MemoryStores (or, in POSTGRES_TOO modules, also with its data on PostgreSQL)."""
    with _kit_on(store_backend, _kit_database, master_key, clock) as kit:
        yield kit


@pytest.fixture
def snapshot() -> Callable[[Personakit], tuple[dict[str, bytes], dict[str, bytes]]]:
    """Every key and value of a kit's two stores, to prove that a call wrote nothing."""

    def take(kit: Personakit) -> tuple[dict[str, bytes], dict[str, bytes]]:
        return dict(kit.store.scan("")), dict(kit.key_store.scan(""))

    return take
