"""Bulk JSONL ingest through the whole pipeline against raw diskcache batch puts.

``ingest_events_per_s``: purchase and product_view events (JSON lines) for 1,000 customers
who consented to personalization, through parse, validation, consent and basis check,
encryption and storage, in transactions of the default bulk batch size (2,000 lines).
``raw_batch_puts_per_s``: raw diskcache puts of the same number of 300-byte records in
transactions of the same size, with the same settings (``DURABLE_SETTINGS``: synchronous
FULL, WAL; and, as bulk ingest does through ``DiskStore.bulk_writes``, WAL checkpoints every
``BULK_CHECKPOINT_PAGES`` pages and one at the end), under sequential keys;
``ingest_ratio`` is measured against it. ``raw_layout_puts_per_s`` is the same, but with keys
laid out as personakit lays out event chunks (``s/<subject>/events/<time>-<rand>`` over the
same 1,000 subjects): clustering records per subject (what makes export and erasure cost
O(subject)) scatters writes over the B-tree, which costs raw diskcache as much as it costs us;
``ingest_ratio_same_layout`` isolates the pipeline's own cost. ``track_us``: one event through
``kit.track`` (one fsync'd transaction).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import diskcache

from _common import BenchContext, median_us
from personakit import LocalKeyProvider, Personakit
from personakit._vault import new_subject_id
from personakit.storage import BULK_CHECKPOINT_PAGES, DURABLE_SETTINGS
from personakit.workflows import DEFAULT_BATCH as BATCH

TARGETS = {"ingest_ratio": (">=", 0.4)}

CUSTOMERS = 1000


def _lines(count: int, rng: random.Random) -> list[bytes]:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    out = []
    for i in range(count):
        purchase = rng.random() < 0.3
        props: dict[str, object] = {
            "item": f"item{rng.randrange(500)}",
            "category": f"cat{rng.randrange(20)}",
        }
        if purchase:
            props["value_cents"] = rng.randrange(100, 5000)
        out.append(
            json.dumps(
                {
                    "kind": "event",
                    "subject": f"customer:c{rng.randrange(CUSTOMERS)}",
                    "name": "purchase" if purchase else "product_view",
                    "channel": "web",
                    "at": (start + timedelta(seconds=i)).isoformat(),
                    "properties": props,
                }
            ).encode()
        )
    return out


@contextmanager
def _bulk(cache: diskcache.Cache) -> Iterator[None]:
    """What ``DiskStore.bulk_writes`` does around a bulk ingest, for the raw baselines."""
    con = cache._con  # noqa: SLF001
    con.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
    try:
        yield
    finally:
        con.execute("PRAGMA wal_autocheckpoint=1000")
        con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def figures(ctx: BenchContext) -> dict[str, float]:
    """Measure bulk ingest, raw batch puts and single-event track."""
    count = 10_000 if ctx.quick else 50_000
    rounds = 3 if ctx.quick else 5
    rng = random.Random(11)
    kit = Personakit.open(ctx.workdir / "kit", keys=LocalKeyProvider(ctx.master_key))
    with kit.store.transaction():
        for c in range(CUSTOMERS):
            subject = kit.identity.resolve(f"customer:c{c}", create=True)
            kit.consent.grant(
                subject,
                "personalization",
                source="web",
                notice="privacy_notice",
                notice_version="2026-01",
            )
    raw = diskcache.Cache(str(ctx.workdir / "raw"), **DURABLE_SETTINGS)
    laid_out = diskcache.Cache(str(ctx.workdir / "raw-layout"), **DURABLE_SETTINGS)
    prefixes = [f"s/{new_subject_id()}/events/" for _ in range(CUSTOMERS)]
    payload = os.urandom(300)

    ingest_rates, raw_rates, layout_rates = [], [], []
    for r in range(rounds):  # alternate, so drift on a noisy machine hits both alike
        lines = _lines(count, rng)
        started = time.perf_counter()
        summary = kit.ingest(lines, batch_size=BATCH)
        ingest_rates.append(count / (time.perf_counter() - started))
        if summary.accepted != count:
            msg = f"benchmark input was not fully accepted: {summary.to_json()}"
            raise RuntimeError(msg)
        started = time.perf_counter()
        with _bulk(raw):
            for start in range(0, count, BATCH):
                with raw.transact():
                    for i in range(start, min(start + BATCH, count)):
                        raw.set(f"r{r}/{i}", payload)
        raw_rates.append(count / (time.perf_counter() - started))
        started = time.perf_counter()
        with _bulk(laid_out):
            for start in range(0, count, BATCH):
                with laid_out.transact():
                    for _ in range(start, min(start + BATCH, count)):
                        chunk = f"{int(time.time() * 1000):013d}-{os.urandom(5).hex()}"
                        laid_out.set(prefixes[rng.randrange(CUSTOMERS)] + chunk, payload)
        layout_rates.append(count / (time.perf_counter() - started))
    result = {
        "ingest_batch_lines": float(BATCH),
    }
    track = median_us(
        lambda i: kit.track(
            f"customer:c{i % CUSTOMERS}", "product_view", channel="web", properties={"item": "x"}
        ),
        ops=100 if ctx.quick else 300,
        batches=5,
    )
    raw.close()
    laid_out.close()
    kit.close()
    layout_rate = statistics.median(layout_rates)
    ingest_rate, raw_rate = statistics.median(ingest_rates), statistics.median(raw_rates)
    return result | {
        "ingest_events_per_s": ingest_rate,
        "raw_batch_puts_per_s": raw_rate,
        "ingest_ratio": ingest_rate / raw_rate,
        "raw_layout_puts_per_s": layout_rate,
        "ingest_ratio_same_layout": ingest_rate / layout_rate,
        "track_us": track,
    }
