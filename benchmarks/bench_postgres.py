"""Bulk ingest, multi-process scaling and erasure on PostgresStore against plain psycopg.

Runs only when a server is given (``--postgres DSN``, or ``PERSONAKIT_TEST_POSTGRES_DSN``);
otherwise it reports nothing and leaves a note. Every side writes into tables of its own,
made for the run and dropped after it, in the server's default durability
(``synchronous_commit = on``); keys stay in local DiskStores, as they must. All figures are
medians over the runs (one with ``--quick``, three otherwise) on the same lines: the first
lines of the shared shop file (20,000 with ``--quick``, 100,000 otherwise).

* ``pg_ingest_events_per_s``: ``kit.ingest`` into a kit on ``PostgresStore``, one process, at
  its best batch size among :data:`BATCHES` (``pg_ingest_best_batch``).
* ``pg_raw_batch_per_s``, the baseline: the same lines ``json.loads``-ed and inserted with
  their subject into an events table with a subject index plus an identifier table
  (``INSERT … ON CONFLICT DO NOTHING``), one ``executemany`` each and one transaction per
  batch of the default size. ``pg_ingest_ratio`` = personakit over raw: higher is better.
* ``pg_raw_scaling_4p``: four raw writers (spawned processes, each its own connection and its
  own quarter of the lines, split by subject so that no two share one, all started together
  at a barrier) into shared tables, lines per second from the first start to the last end,
  over one spawned raw writer of all the lines into the same kind of tables.
* ``pg_ingest_scaling_4p``: four spawned processes, each opening its own kit on the same
  PostgresStore table and namespace (each its own key-store directory) and ingesting its
  quarter at the best batch size, timed the same way, over ``pg_ingest_events_per_s``.
  ``pg_ingest_scaling_vs_raw`` = ingest scaling over raw scaling: higher is better.
* ``pg_erase_ms_tracked``: ``kit.rights.erase`` of a subject whose 10,000 events were written
  one ``kit.track`` call at a time (grouped in outer transactions of 500 only to build the
  fixture quickly, as ``bench_rights`` does on DiskStore).
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import secrets
import statistics
import time
import zlib
from collections.abc import Callable
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import BenchContext
from _shop import shop_lines
from bench_rights import EVENTS, GROUP, START, _consent, _event
from personakit import LocalKeyProvider, Personakit
from personakit.storage import DiskStore, PostgresStore
from personakit.workflows import DEFAULT_BATCH as BATCH

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

    from psycopg import Connection

TARGETS = {
    "pg_ingest_ratio": (">=", 0.4),
    "pg_ingest_scaling_vs_raw": (">=", 0.8),
}

BATCHES = (2000, 5000)
WRITERS = 4
# (start, end) of one writer's timed part, on the system-wide monotonic clock
Span = tuple[float, float]


def _drop(dsn: str, *tables: str) -> None:
    import psycopg  # noqa: PLC0415 (only when a server is given)

    with psycopg.connect(dsn) as con:
        con.execute(f"DROP TABLE IF EXISTS {', '.join(tables)}")


def _create_plain(con: Connection[Any], table: str) -> None:
    con.execute(f"CREATE TABLE {table}_subjects (identifier text PRIMARY KEY)")
    con.execute(
        f"CREATE TABLE {table}_events (id bigserial PRIMARY KEY, subject text NOT NULL,"
        " kind text NOT NULL, at text NOT NULL, body bytea NOT NULL)"
    )
    con.execute(f"CREATE INDEX ON {table}_events (subject, at)")
    con.commit()


def _insert_plain(con: Connection[Any], lines: list[bytes], table: str) -> Span:
    started = time.monotonic()
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
    return started, time.monotonic()


def _plain(dsn: str, lines: list[bytes], table: str) -> float:
    import psycopg  # noqa: PLC0415 (only when a server is given)

    try:
        with psycopg.connect(dsn) as con:
            _create_plain(con, table)
            started, ended = _insert_plain(con, lines, table)
    finally:
        _drop(dsn, f"{table}_subjects", f"{table}_events")
    return len(lines) / (ended - started)


def _open(ctx: BenchContext, dsn: str, table: str, keys: Path) -> Personakit:
    store = PostgresStore(dsn, table=table, namespace="bench")
    return Personakit(store=store, key_store=DiskStore(keys), keys=LocalKeyProvider(ctx.master_key))


def _ingest(kit: Personakit, lines: list[bytes], batch: int) -> tuple[Span, int]:
    started = time.monotonic()
    summary = kit.ingest(lines, batch_size=batch)
    ended = time.monotonic()
    if summary.rejected:
        msg = f"benchmark input was rejected in part: {summary.to_json()}"
        raise RuntimeError(msg)
    return (started, ended), summary.accepted + summary.dropped_no_basis


def _kit(ctx: BenchContext, dsn: str, lines: list[bytes], batch: int) -> float:
    table = f"bench_{secrets.token_hex(6)}_kv"
    kit = _open(ctx, dsn, table, ctx.workdir / f"keys-{table}")
    try:
        (started, ended), count = _ingest(kit, lines, batch)
    finally:
        kit.close()
        _drop(dsn, table)
    return count / (ended - started)


def _raw_writer(
    dsn: str, lines: list[bytes], table: str, barrier: Barrier, out: Queue[Span]
) -> None:
    import psycopg  # noqa: PLC0415 (only when a server is given)

    with psycopg.connect(dsn) as con:
        barrier.wait()
        out.put(_insert_plain(con, lines, table))


def _kit_writer(  # noqa: PLR0917 (one process's whole job, passed through spawn)
    ctx: BenchContext,
    dsn: str,
    lines: list[bytes],
    table: str,
    batch: int,
    keys: Path,
    barrier: Barrier,
    out: Queue[Span],
) -> None:
    kit = _open(ctx, dsn, table, keys)
    try:
        barrier.wait()
        span, _ = _ingest(kit, lines, batch)
    finally:
        kit.close()
    out.put(span)


def _together(target: Callable[..., None], jobs: list[tuple[object, ...]]) -> float:
    """Run ``target(*job, barrier, queue)`` in one spawned process per job; wall seconds."""
    # run.py loads this module outside sys.modules; spawn pickles the writer by name.
    target = getattr(importlib.import_module(target.__module__), target.__name__)
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(len(jobs))
    out: Queue[Span] = mp.Queue()
    procs = [mp.Process(target=target, args=(*job, barrier, out)) for job in jobs]
    for proc in procs:
        proc.start()
    spans = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode:
            msg = f"a benchmark writer failed with exit code {proc.exitcode}"
            raise RuntimeError(msg)
    return max(end for _, end in spans) - min(start for start, _ in spans)


def _quarters(lines: list[bytes]) -> list[list[bytes]]:
    parts: list[list[bytes]] = [[] for _ in range(WRITERS)]
    for line in lines:
        subject = json.loads(line)["subject"].encode()
        parts[zlib.crc32(subject) % WRITERS].append(line)
    return parts


def _raw_rate(dsn: str, parts: list[list[bytes]]) -> float:
    import psycopg  # noqa: PLC0415 (only when a server is given)

    table = f"bench_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(dsn) as con:
            _create_plain(con, table)
        elapsed = _together(_raw_writer, [(dsn, part, table) for part in parts])
    finally:
        _drop(dsn, f"{table}_subjects", f"{table}_events")
    return sum(map(len, parts)) / elapsed


def _kit_rate(ctx: BenchContext, dsn: str, parts: list[list[bytes]], batch: int) -> float:
    table = f"bench_{secrets.token_hex(6)}_kv"
    PostgresStore(dsn, table=table, namespace="bench").close()  # the table, made once
    try:
        jobs: list[tuple[object, ...]] = [
            (ctx, dsn, part, table, batch, ctx.workdir / f"keys-{table}-{i}")
            for i, part in enumerate(parts)
        ]
        elapsed = _together(_kit_writer, jobs)
    finally:
        _drop(dsn, table)
    return sum(map(len, parts)) / elapsed


def _erase_ms(ctx: BenchContext, dsn: str) -> float:
    table = f"bench_{secrets.token_hex(6)}_kv"
    kit = _open(ctx, dsn, table, ctx.workdir / f"keys-{table}")
    try:
        _consent(kit, "customer:tracked")
        for start in range(0, EVENTS, GROUP):
            with kit.store.transaction():
                for i in range(start, start + GROUP):
                    name, props = _event(i)
                    at = START + timedelta(minutes=i)
                    kit.track("customer:tracked", name, channel="web", properties=props, at=at)
        subject = kit.identity.resolve("customer:tracked")
        started = time.perf_counter()
        kit.rights.erase(subject)
        return (time.perf_counter() - started) * 1000
    finally:
        kit.close()
        _drop(dsn, table)


def figures(ctx: BenchContext) -> dict[str, float]:
    """PostgreSQL ingest, scaling and erasure; nothing (and a note) without a server."""
    dsn = ctx.postgres_dsn
    if dsn is None:
        ctx.notes.append(
            "bench_postgres skipped: no --postgres DSN nor PERSONAKIT_TEST_POSTGRES_DSN"
        )
        return {}
    count = 20_000 if ctx.quick else 100_000
    runs = 1 if ctx.quick else 3
    path: Path = shop_lines(ctx)
    with path.open("rb") as source:
        lines = list(islice(source, count))
    parts = _quarters(lines)
    rates: dict[str, list[float]] = {}
    for _ in range(runs):
        rates.setdefault("raw", []).append(_plain(dsn, lines, f"bench_{secrets.token_hex(6)}"))
        for batch in BATCHES:
            rates.setdefault(f"kit{batch}", []).append(_kit(ctx, dsn, lines, batch))
    kit_rate, best = max((statistics.median(rates[f"kit{b}"]), b) for b in BATCHES)
    raw_rate = statistics.median(rates["raw"])
    raw_scaling, kit_scaling, erase = [], [], []
    for _ in range(runs):
        raw_scaling.append(_raw_rate(dsn, parts) / _raw_rate(dsn, [lines]))
        kit_scaling.append(_kit_rate(ctx, dsn, parts, best) / kit_rate)
        erase.append(_erase_ms(ctx, dsn))
    raw_4p, kit_4p = statistics.median(raw_scaling), statistics.median(kit_scaling)
    return {
        "pg_ingest_lines": float(len(lines)),
        "pg_ingest_events_per_s": kit_rate,
        "pg_ingest_best_batch": float(best),
        "pg_raw_batch_per_s": raw_rate,
        "pg_ingest_ratio": kit_rate / raw_rate,
        "pg_raw_scaling_4p": raw_4p,
        "pg_ingest_scaling_4p": kit_4p,
        "pg_ingest_scaling_vs_raw": kit_4p / raw_4p,
        "pg_erase_ms_tracked": statistics.median(erase),
    }
