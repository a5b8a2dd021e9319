"""Bulk ingest through PostgresStore against a plain psycopg ``executemany`` of the same lines.

Runs only when a server is given (``--postgres DSN``, or ``PERSONAKIT_TEST_POSTGRES_DSN``);
otherwise it reports nothing and leaves a note. Both sides write into tables of their own,
made for the run and dropped after it, in the server's default durability
(``synchronous_commit = on``); keys stay in a local DiskStore, as they must.

``pg_ingest_lines_per_s``: ``kit.ingest`` of the first lines of the shared shop file (20,000
with ``--quick``, 100,000 otherwise; every customer is new to this store) into a kit on
``PostgresStore``. ``pg_plain_lines_per_s``, the baseline: the same lines ``json.loads``-ed
and inserted with their subject into an events table with a subject index plus an identifier
table (``INSERT … ON CONFLICT DO NOTHING``), one ``executemany`` each and one transaction per
batch of the same size. ``pg_ingest_ratio`` = personakit over plain: higher is better.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from itertools import islice
from pathlib import Path

from _common import BenchContext
from _shop import shop_lines
from personakit import LocalKeyProvider, Personakit
from personakit.storage import DiskStore, PostgresStore
from personakit.workflows import DEFAULT_BATCH as BATCH


def _plain(dsn: str, lines: list[bytes], table: str) -> float:
    import psycopg  # noqa: PLC0415 (only when a server is given)

    with psycopg.connect(dsn) as con:
        con.execute(f"CREATE TABLE {table}_subjects (identifier text PRIMARY KEY)")
        con.execute(
            f"CREATE TABLE {table}_events (id bigserial PRIMARY KEY, subject text NOT NULL,"
            " kind text NOT NULL, at text NOT NULL, body bytea NOT NULL)"
        )
        con.execute(f"CREATE INDEX ON {table}_events (subject, at)")
        con.commit()
        started = time.perf_counter()
        for start in range(0, len(lines), BATCH):
            batch = lines[start : start + BATCH]
            docs = [json.loads(line) for line in batch]
            with con.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {table}_subjects (identifier) VALUES (%s) ON CONFLICT DO NOTHING",
                    [(doc["subject"],) for doc in docs],
                )
                cur.executemany(
                    f"INSERT INTO {table}_events (subject, kind, at, body) VALUES (%s, %s, %s, %s)",
                    [
                        (doc["subject"], doc["kind"], doc["at"], line)
                        for doc, line in zip(docs, batch, strict=True)
                    ],
                )
            con.commit()
        elapsed = time.perf_counter() - started
        con.execute(f"DROP TABLE {table}_subjects, {table}_events")
        con.commit()
    return len(lines) / elapsed


def _kit(ctx: BenchContext, dsn: str, lines: list[bytes], table: str, run: int) -> float:
    store = PostgresStore(dsn, table=table)
    keys = DiskStore(ctx.workdir / f"keys-{run}")
    kit = Personakit(store=store, key_store=keys, keys=LocalKeyProvider(ctx.master_key))
    try:
        started = time.perf_counter()
        summary = kit.ingest(lines, batch_size=BATCH)
        elapsed = time.perf_counter() - started
    finally:
        kit.close()
    if summary.rejected:
        msg = f"benchmark input was rejected in part: {summary.to_json()}"
        raise RuntimeError(msg)
    import psycopg  # noqa: PLC0415 (only when a server is given)

    with psycopg.connect(dsn) as con:
        con.execute(f"DROP TABLE {table}")
    return (summary.accepted + summary.dropped_no_basis) / elapsed


def figures(ctx: BenchContext) -> dict[str, float]:
    """PostgreSQL ingest against plain psycopg; nothing (and a note) without a server."""
    if ctx.postgres_dsn is None:
        ctx.notes.append(
            "bench_postgres skipped: no --postgres DSN nor PERSONAKIT_TEST_POSTGRES_DSN"
        )
        return {}
    count = 20_000 if ctx.quick else 100_000
    runs = 1 if ctx.quick else 3
    path: Path = shop_lines(ctx)
    with path.open("rb") as source:
        lines = list(islice(source, count))
    kit_rates, plain_rates = [], []
    for run in range(runs):
        table = f"bench_{secrets.token_hex(6)}"
        plain_rates.append(_plain(ctx.postgres_dsn, lines, table))
        kit_rates.append(_kit(ctx, ctx.postgres_dsn, lines, table + "_kv", run))
    kit_rate, plain_rate = statistics.median(kit_rates), statistics.median(plain_rates)
    return {
        "pg_ingest_lines": float(len(lines)),
        "pg_ingest_lines_per_s": kit_rate,
        "pg_plain_lines_per_s": plain_rate,
        "pg_ingest_ratio": kit_rate / plain_rate,
    }
