"""Schema versions, recorded in the store by both backends: migrations are idempotent, a
newer schema is refused at open with a typed error, and ``personakit store migrate`` reports.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personakit import ConfigurationError, LocalKeyProvider, Personakit
from personakit.cli import main
from personakit.storage import DiskStore, PostgresStore
from personakit.storage._disk import SCHEMA_VERSION as DISK_VERSION
from personakit.storage._postgres_migrations import SCHEMA_VERSION as PG_VERSION

DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")
needs_postgres = pytest.mark.skipif(not DSN, reason="PERSONAKIT_TEST_POSTGRES_DSN is not set")


def _user_version(directory: Path) -> int:
    with sqlite3.connect(directory / "cache.db") as con:
        return int(con.execute("PRAGMA user_version").fetchone()[0])


def _set_user_version(directory: Path, version: int) -> None:
    con = sqlite3.connect(directory / "cache.db")
    try:
        con.execute(f"PRAGMA user_version = {version:d}")
    finally:
        con.close()


def test_a_disk_store_records_its_schema_version_and_migrate_is_idempotent(
    tmp_path: Path,
) -> None:
    """Opening records version 1; migrate() twice changes nothing and reports (1, 1)."""
    store = DiskStore(tmp_path / "s")
    try:
        assert _user_version(tmp_path / "s") == DISK_VERSION
        store.put("k", b"v")
        assert store.migrate() == (DISK_VERSION, DISK_VERSION)
        assert store.migrate() == (DISK_VERSION, DISK_VERSION)
        assert store.get("k") == b"v"
    finally:
        store.close()


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(version=st.integers(min_value=0, max_value=2**31 - 1))
def test_a_disk_store_opens_exactly_when_its_schema_is_not_newer(
    tmp_path: Path, version: int
) -> None:
    """Any recorded version above ours is a ConfigurationError at open; the rest open."""
    directory = tmp_path / uuid.uuid4().hex
    DiskStore(directory).close()
    _set_user_version(directory, version)
    if version > DISK_VERSION:
        with pytest.raises(ConfigurationError, match="newer"):
            DiskStore(directory)
        assert _user_version(directory) == version  # refused, not rewritten
    else:
        DiskStore(directory).close()
        assert _user_version(directory) == DISK_VERSION


def test_store_migrate_reports_both_stores(
    tmp_path: Path,
    master_key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`personakit store migrate` prints the version before and after for data and keys."""
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    monkeypatch.setenv("PERSONAKIT_STORE", str(tmp_path / "store"))
    Personakit.open(tmp_path / "store", keys=LocalKeyProvider(master_key)).close()
    assert main(["store", "migrate"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "data": {"from": DISK_VERSION, "to": DISK_VERSION},
        "keys": {"from": DISK_VERSION, "to": DISK_VERSION},
    }


@pytest.fixture
def pg_table() -> Iterator[str]:
    """A table of its own, dropped with its migration records afterwards."""
    table = f"personakit_mig_{uuid.uuid4().hex[:12]}"
    yield table
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            "DELETE FROM personakit_migrations WHERE table_name = %s", (f"public.{table}",)
        )


def _recorded(table: str) -> list[int]:
    with psycopg.connect(DSN) as conn:
        rows = conn.execute(
            "SELECT version FROM personakit_migrations WHERE table_name = %s ORDER BY version",
            (f"public.{table}",),
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.postgres
@needs_postgres
def test_a_postgres_store_records_its_migrations_once(pg_table: str) -> None:
    """A new table records version 1 once; migrate() and reopening add nothing."""
    store = PostgresStore(DSN, table=pg_table)
    try:
        assert _recorded(pg_table) == list(range(1, PG_VERSION + 1))
        assert store.migrate() == (PG_VERSION, PG_VERSION)
        PostgresStore(DSN, table=pg_table).close()
        assert _recorded(pg_table) == list(range(1, PG_VERSION + 1))
    finally:
        store.close()


@pytest.mark.postgres
@needs_postgres
@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(version=st.integers(min_value=PG_VERSION + 1, max_value=2**31 - 1))
def test_a_postgres_store_with_a_newer_schema_is_refused_at_open(
    pg_table: str, version: int
) -> None:
    """A recorded version above ours is a ConfigurationError at open (and nothing is written)."""
    PostgresStore(DSN, table=pg_table).close()
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO personakit_migrations (table_name, version, description)"
            " VALUES (%s, %s, 'from the future')",
            (f"public.{pg_table}", version),
        )
    try:
        with pytest.raises(ConfigurationError, match="newer"):
            PostgresStore(DSN, table=pg_table)
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(
                "DELETE FROM personakit_migrations WHERE table_name = %s AND version = %s",
                (f"public.{pg_table}", version),
            )
