"""Encrypted subject records on DiskStore against raw diskcache, and the import time.

The raw baseline is diskcache with the *same* durability settings (FULL sync, WAL, no
eviction, inline values), so the ratio measures what personakit adds: key lookup, AES-GCM,
key validation and the bytes-only checks.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time

import diskcache

from _common import BenchContext, median_us
from personakit import LocalKeyProvider, Personakit
from personakit._vault import new_subject_id
from personakit.storage import DURABLE_SETTINGS

TARGETS = {
    "store_get_ratio": ("<=", 2.0),
    "store_put_ratio": ("<=", 1.5),
    "import_ms": ("<=", 250.0),
}

RECORD = 300
SUBJECTS = 1000


def _import_ms(runs: int) -> tuple[float, float]:
    def once(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return (time.perf_counter() - started) * 1000

    bare = statistics.median(once("pass") for _ in range(runs))
    full = statistics.median(once("import personakit") for _ in range(runs))
    return full, bare


def figures(ctx: BenchContext) -> dict[str, float]:
    """Measure raw and personakit get / put of one 300-byte subject record, and import time."""
    ops, batches = (300, 5) if ctx.quick else (2000, 9)
    put_ops, put_batches = (100, 5) if ctx.quick else (400, 9)
    rng = random.Random(7)

    raw = diskcache.Cache(str(ctx.workdir / "raw"), **DURABLE_SETTINGS)
    raw_keys = [f"s/{new_subject_id()}/traits/main" for _ in range(SUBJECTS)]
    with raw.transact():
        for key in raw_keys:
            raw.set(key, os.urandom(RECORD))
    order = [rng.randrange(SUBJECTS) for _ in range(4096)]

    kit = Personakit.open(ctx.workdir / "kit", keys=LocalKeyProvider(ctx.master_key))
    subjects = [new_subject_id() for _ in range(SUBJECTS)]
    with kit.store.transaction():
        for subject in subjects:
            kit.vault.put(subject, "traits", "main", os.urandom(RECORD))

    payload = os.urandom(RECORD)
    # Interleave raw and personakit batches so drift on a noisy machine hits both alike.
    raw_get, store_get, raw_put, store_put = [], [], [], []
    for _ in range(3):
        raw_get.append(
            median_us(lambda i: raw.get(raw_keys[order[i % 4096]]), ops=ops, batches=batches)
        )
        store_get.append(
            median_us(
                lambda i: kit.vault.get(subjects[order[i % 4096]], "traits", "main"),
                ops=ops,
                batches=batches,
            )
        )
        raw_put.append(
            median_us(
                lambda i: raw.set(raw_keys[order[i % 4096]], payload),
                ops=put_ops,
                batches=put_batches,
            )
        )
        store_put.append(
            median_us(
                lambda i: kit.vault.put(subjects[order[i % 4096]], "traits", "main", payload),
                ops=put_ops,
                batches=put_batches,
            )
        )
    raw.close()
    kit.close()
    import_ms, bare_ms = _import_ms(5 if ctx.quick else 15)
    result = {
        "raw_get_us": statistics.median(raw_get),
        "store_get_us": statistics.median(store_get),
        "raw_put_us": statistics.median(raw_put),
        "store_put_us": statistics.median(store_put),
        "import_ms": import_ms,
        "python_startup_ms": bare_ms,
    }
    result["store_get_ratio"] = result["store_get_us"] / result["raw_get_us"]
    result["store_put_ratio"] = result["store_put_us"] / result["raw_put_us"]
    return result
