"""Audited writes across processes on PostgreSQL: consent grants with one and many audit chains.

Runs only when a server is given (``--postgres DSN``, or ``PERSONAKIT_TEST_POSTGRES_DSN``).
Every grant is a consent ledger append, a compact-state rewrite and an audit append in one
transaction, on a subject of the writing process's own (made before the timed part), in the
server's default durability. Each side writes into a table of its own, dropped after the run.
Medians over interleaved runs (three of 120 grants per process with ``--quick``, about 60 s;
five of 500 otherwise).

* ``pg_grants_per_s_1p`` / ``_4p``: ``kit.consent.grant`` with the PostgreSQL default of 16
  audit chains, one process, then four spawned processes started together at a barrier (grants
  per second from the first start to the last end). ``pg_grants_scaling_4p`` = 4p / 1p.
* ``pg_grants_1chain_per_s_1p`` / ``_4p`` and ``pg_grants_1chain_scaling_4p``: the same with one
  audit chain (``audit_chains=1``, the layout before chains, every append on one head): the
  before figure, measured in the same run.
* ``pg_raw_grants_per_s_1p`` / ``_4p`` and ``pg_raw_grants_scaling_4p``, the baseline: the same
  three writes per grant (a ledger row, a state upsert, an audit row of the same sizes) with
  plain psycopg, one transaction per grant, no lock and no chain at all: how far the server and
  this machine let independent writers scale. ``pg_grants_scaling_vs_raw`` = chained kit
  scaling over raw scaling: higher is better.
"""

from __future__ import annotations

import secrets
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

from _common import BenchContext
from bench_postgres import Span, _drop, _together
from personakit import LocalKeyProvider, Personakit
from personakit.storage import DiskStore, PostgresStore

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

TARGETS = {"pg_grants_scaling_vs_raw": (">=", 0.8)}

WRITERS = 4


def _kit_writer(  # noqa: PLR0917 (one process's whole job, passed through spawn)
    master_key: str,
    dsn: str,
    table: str,
    keys: Path,
    chains: int,
    process: int,
    grants: int,
    barrier: Barrier,
    out: Queue[Span],
) -> None:
    store = PostgresStore(dsn, table=table, namespace="bench")
    kit = Personakit(
        store=store,
        key_store=DiskStore(keys),
        keys=LocalKeyProvider(master_key),
        audit_chains=chains,
    )
    try:
        subjects = [
            kit.identity.resolve(f"customer:p{process}-{n}", create=True) for n in range(grants)
        ]
        barrier.wait()
        started = time.monotonic()
        for subject in subjects:
            kit.consent.grant(
                subject,
                "personalization",
                notice="privacy_notice",
                notice_version="2026-01",
                source="web",
            )
        out.put((started, time.monotonic()))
    finally:
        kit.close()


def _raw_writer(  # noqa: PLR0917 (one process's whole job, passed through spawn)
    dsn: str, table: str, process: int, grants: int, barrier: Barrier, out: Queue[Span]
) -> None:
    import psycopg  # noqa: PLC0415 (only when a server is given)

    # Sizes of a sealed ledger record, a sealed state and an audit entry.
    ledger, state, entry = (secrets.token_bytes(n) for n in (700, 200, 400))
    with psycopg.connect(dsn) as con:
        barrier.wait()
        started = time.monotonic()
        for n in range(grants):
            subject = f"p{process}-{n}"
            with con.transaction():
                con.execute(
                    f"INSERT INTO {table}_ledger (subject, body) VALUES (%s, %s)",
                    (subject, ledger),
                )
                con.execute(
                    f"INSERT INTO {table}_state (subject, body) VALUES (%s, %s)"
                    " ON CONFLICT (subject) DO UPDATE SET body = EXCLUDED.body",
                    (subject, state),
                )
                con.execute(f"INSERT INTO {table}_audit (body) VALUES (%s)", (entry,))
        out.put((started, time.monotonic()))


def _kit_rate(ctx: BenchContext, dsn: str, chains: int, writers: int, grants: int) -> float:
    table = f"bench_{secrets.token_hex(6)}_kv"
    PostgresStore(dsn, table=table, namespace="bench").close()  # the table, made once
    try:
        jobs: list[tuple[object, ...]] = [
            (ctx.master_key, dsn, table, ctx.workdir / f"keys-{table}-{p}", chains, p, grants)
            for p in range(writers)
        ]
        return writers * grants / _together(_kit_writer, jobs)
    finally:
        _drop(dsn, table)


def _raw_rate(dsn: str, writers: int, grants: int) -> float:
    import psycopg  # noqa: PLC0415 (only when a server is given)

    table = f"bench_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(dsn) as con:
            con.execute(f"CREATE TABLE {table}_ledger (subject text, body bytea)")
            con.execute(f"CREATE INDEX ON {table}_ledger (subject)")
            con.execute(f"CREATE TABLE {table}_state (subject text PRIMARY KEY, body bytea)")
            con.execute(f"CREATE TABLE {table}_audit (id bigserial PRIMARY KEY, body bytea)")
        jobs: list[tuple[object, ...]] = [(dsn, table, p, grants) for p in range(writers)]
        return writers * grants / _together(_raw_writer, jobs)
    finally:
        _drop(dsn, f"{table}_ledger", f"{table}_state", f"{table}_audit")


def figures(ctx: BenchContext) -> dict[str, float]:
    """Grants per second at 1 and 4 processes, 16 chains and 1, beside plain psycopg."""
    dsn = ctx.postgres_dsn
    if dsn is None:
        ctx.notes.append(
            "bench_pg_audit skipped: no --postgres DSN nor PERSONAKIT_TEST_POSTGRES_DSN"
        )
        return {}
    # Short runs on a shared machine swing by 2x: three interleaved runs even with --quick.
    grants = 120 if ctx.quick else 500
    runs = 3 if ctx.quick else 5
    rates: dict[str, list[float]] = {}
    for _ in range(runs):
        for writers in (1, WRITERS):
            rates.setdefault(f"raw{writers}", []).append(_raw_rate(dsn, writers, grants))
            for chains in (16, 1):
                rate = _kit_rate(ctx, dsn, chains, writers, grants)
                rates.setdefault(f"kit{chains}-{writers}", []).append(rate)
    median = {name: statistics.median(values) for name, values in rates.items()}
    raw_scaling = median["raw4"] / median["raw1"]
    kit_scaling = median["kit16-4"] / median["kit16-1"]
    return {
        "pg_grants_per_s_1p": median["kit16-1"],
        "pg_grants_per_s_4p": median["kit16-4"],
        "pg_grants_scaling_4p": kit_scaling,
        "pg_grants_1chain_per_s_1p": median["kit1-1"],
        "pg_grants_1chain_per_s_4p": median["kit1-4"],
        "pg_grants_1chain_scaling_4p": median["kit1-4"] / median["kit1-1"],
        "pg_raw_grants_per_s_1p": median["raw1"],
        "pg_raw_grants_per_s_4p": median["raw4"],
        "pg_raw_grants_scaling_4p": raw_scaling,
        "pg_grants_scaling_vs_raw": kit_scaling / raw_scaling,
    }
