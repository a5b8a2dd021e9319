"""Bulk ingest of the shared shop file against plain SQLite doing the same with the same lines.

``ingest_lines_per_s_<N>k``: ``kit.ingest`` of the shop's JSON lines (``_shop.shop_lines``:
100,000 customers, 80% new to the store, 30% without personalization consent, 10 events each
on average, plus consent and traits lines), streamed from the file into a copy of the store
that already holds the known 20% (``_shop.known_store``), in batches of the default size.

``plain_lines_per_s_<N>k``, the baseline: the same file read line by line, each line
``json.loads``-ed, and the lines inserted with their subject into an events table with a
subject index, plus an identifier table (the subject index, ``INSERT OR IGNORE``), one
transaction per batch of the same size, through ``sqlite3`` with DiskStore's pragmas
(synchronous FULL, WAL, secure_delete, diskcache's cache and mmap sizes) and its bulk
checkpoint cadence. ``ingest_ratio_<N>k_customers`` = personakit over plain: higher is better.

``track_us`` (informational): one event through ``kit.track`` (one fsync'd transaction).
"""

from __future__ import annotations

import json
import statistics
import time
from itertools import islice
from pathlib import Path

from _common import BenchContext, median_us, scale_label
from _shop import connect_plain, copy_store, known_store, open_kit, shop_lines
from personakit.storage import BULK_CHECKPOINT_PAGES
from personakit.workflows import DEFAULT_BATCH as BATCH

TARGETS = {"ingest_ratio_100k_customers": (">=", 0.5)}

_SCHEMA = (
    "CREATE TABLE subjects (identifier TEXT PRIMARY KEY) WITHOUT ROWID",
    (
        "CREATE TABLE events (id INTEGER PRIMARY KEY, subject TEXT NOT NULL, kind TEXT NOT NULL,"
        " at TEXT NOT NULL, body BLOB NOT NULL)"
    ),
    "CREATE INDEX events_by_subject ON events (subject, at)",
)


def plain_ingest(database: Path, lines: Path) -> int:
    """Parse and insert ``lines`` into a fresh plain-SQLite ``database``; return the count."""
    con = connect_plain(database)
    for statement in _SCHEMA:
        con.execute(statement)
    con.execute(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}")
    count = 0
    with lines.open("rb") as source:
        while batch := list(islice(source, BATCH)):
            docs = [json.loads(line) for line in batch]
            con.execute("BEGIN IMMEDIATE")
            con.executemany(
                "INSERT OR IGNORE INTO subjects (identifier) VALUES (?)",
                [(doc["subject"],) for doc in docs],
            )
            con.executemany(
                "INSERT INTO events (subject, kind, at, body) VALUES (?, ?, ?, ?)",
                [
                    (doc["subject"], doc["kind"], doc["at"], line)
                    for doc, line in zip(docs, batch, strict=True)
                ],
            )
            con.execute("COMMIT")
            count += len(batch)
    con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    con.close()
    return count


def _kit_ingest(ctx: BenchContext, lines: Path, run: int) -> float:
    """Lines per second of one ``kit.ingest`` of the file into a fresh copy of the store."""
    target = copy_store(known_store(ctx), ctx.workdir / f"kit-{run}")
    with open_kit(ctx, target) as kit, lines.open("rb") as source:
        started = time.perf_counter()
        summary = kit.ingest(source, batch_size=BATCH)
        elapsed = time.perf_counter() - started
    if summary.rejected:
        msg = f"benchmark input was rejected in part: {summary.to_json()}"
        raise RuntimeError(msg)
    return (summary.accepted + summary.dropped_no_basis) / elapsed


def figures(ctx: BenchContext) -> dict[str, float]:
    """Bulk ingest of the shop against the plain-SQLite baseline; one event through track."""
    runs = 1 if ctx.quick else 3
    lines = shop_lines(ctx)
    known_store(ctx)  # built before any timing
    kit_rates, plain_rates = [], []
    for run in range(runs):  # alternate, so drift on a noisy machine hits both alike
        database = ctx.workdir / f"plain-{run}.db"
        started = time.perf_counter()
        count = plain_ingest(database, lines)
        plain_rates.append(count / (time.perf_counter() - started))
        kit_rates.append(_kit_ingest(ctx, lines, run))
    with open_kit(ctx, ctx.workdir / "kit-0") as kit:
        track = median_us(
            lambda i: kit.track(
                f"customer:c{i}", "product_view", channel="web", properties={"item": "x"}
            ),
            ops=50 if ctx.quick else 200,
            batches=3 if ctx.quick else 5,
        )
    scale = scale_label(ctx.customers)
    kit_rate, plain_rate = statistics.median(kit_rates), statistics.median(plain_rates)
    return {
        "ingest_batch_lines": float(BATCH),
        f"ingest_lines_per_s_{scale}": kit_rate,
        f"plain_lines_per_s_{scale}": plain_rate,
        f"ingest_ratio_{scale}_customers": kit_rate / plain_rate,
        "track_us": track,
    }
