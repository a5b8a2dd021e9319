"""Encrypted subject records on DiskStore against the same SQL in plain sqlite3; import time.

The shared read store (:func:`read_store`) holds 100,000 subjects (``ctx.customers``), each
with a data key and one sealed 300-byte record ``s/<subject>/traits/main``. The baseline side
runs DiskStore's own statements (``SELECT_VALUE``, ``UPSERT`` on diskcache's ``Cache`` table)
through a plain ``sqlite3`` connection with DiskStore's pragmas, on a copy of that store's
database file: the same database shape, the same keys, the same row sizes.

* ``store_get_us_cold``: ``kit.vault.get`` of a subject whose data key is not cached (each
  timed batch reads subjects never read before, after ``keyring.forget_cached()``), random
  among all subjects; ``raw_get_us_cold``: the SELECT of the same keys.
  ``store_get_ratio_cold`` = store over raw: lower is better.
* ``store_get_us_warm``: the same over 2,000 subjects whose keys were read once before (data
  rows still spread over the whole store); ``store_get_ratio_warm``: lower is better.
* ``store_put_us``: one sealed record put (its own fsync'd transaction) on a known subject;
  ``raw_put_us``: the UPSERT in autocommit; ``store_put_ratio`` (informational): lower is better.
* ``import_ms`` (informational, with a target): ``import personakit`` in a fresh interpreter,
  bytecode compiled (one discarded run first), Django installed when ``django_installed`` is 1;
  ``python_startup_ms`` is the bare interpreter's start, included in it.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import BenchContext, median_us
from _shop import cached, connect_plain, open_kit
from personakit._vault import new_subject_id
from personakit.storage._diskcache_compat import DB_NAME, SELECT_VALUE, UPSERT

TARGETS = {
    "store_get_ratio_cold": ("<=", 2.5),
    "store_get_ratio_warm": ("<=", 1.6),
    "import_ms": ("<=", 150.0),
}

RECORD = 300
BUILD_BATCH = 2000
WARM = 2000


def read_store(ctx: BenchContext) -> Path:
    """A kit with ``ctx.customers`` subjects and one sealed record each; built once per run."""

    def build(path: Path) -> None:
        with open_kit(ctx, path) as kit:
            for start in range(0, ctx.customers, BUILD_BATCH):
                # One transaction per batch on both stores: building is not what is measured.
                with kit.key_store.transaction(), kit.store.transaction():
                    for _ in range(min(BUILD_BATCH, ctx.customers - start)):
                        subject = new_subject_id()
                        kit.vault.put(subject, "traits", "main", os.urandom(RECORD))
                        kit.store.put(f"i/bench/{subject}", subject.encode())
            kit.store.scrub()
            kit.key_store.scrub()

    return cached(ctx, "read-store", build)


def _subjects(kit_dir: Path) -> list[str]:
    con = connect_plain(kit_dir / "data" / DB_NAME)
    rows = con.execute("SELECT key FROM Cache WHERE key >= 'i/bench/' AND key < 'i/bench0'")
    subjects = [key.removeprefix("i/bench/") for (key,) in rows]
    con.close()
    return subjects


def _import_ms(runs: int) -> tuple[float, float]:
    def once(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return (time.perf_counter() - started) * 1000

    once("import personakit")  # compiles bytecode if it is missing
    bare = statistics.median(once("pass") for _ in range(runs))
    full = statistics.median(once("import personakit") for _ in range(runs))
    return full, bare


def figures(ctx: BenchContext) -> dict[str, float]:
    """Cold and warm gets, puts, against the same SQL in plain sqlite3; import time."""
    ops, batches, rounds = (500, 3, 3) if ctx.quick else (1000, 5, 3)
    put_ops, put_batches = (50, 3) if ctx.quick else (200, 5)
    source = read_store(ctx)
    raw_db = ctx.workdir / "raw.db"
    shutil.copyfile(source / "data" / DB_NAME, raw_db)
    kit_dir = ctx.workdir / "kit"
    shutil.copytree(source, kit_dir)
    subjects = _subjects(kit_dir)
    rng = random.Random(5)
    rng.shuffle(subjects)
    cold = subjects[WARM:]  # each read once: its key is never cached when it is read
    warm = subjects[:WARM]
    order = [rng.randrange(WARM) for _ in range(4096)]
    payload = os.urandom(RECORD)
    raw = connect_plain(raw_db)

    def raw_get(subject: str) -> object:
        return raw.execute(SELECT_VALUE, (f"s/{subject}/traits/main",)).fetchall()

    def raw_put(subject: str) -> object:
        now = time.time()
        return raw.execute(UPSERT, (f"s/{subject}/traits/main", now, now, payload))

    result: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        result.setdefault(name, []).append(value)

    with open_kit(ctx, kit_dir) as kit:
        vault, keyring = kit.vault, kit.keyring
        per_round = ops * (batches + 1)  # median_us runs one more batch, to warm up
        for r in range(rounds):  # interleaved, so drift on a noisy machine hits both alike
            base = r * per_round  # every round reads subjects no round read before
            add(
                "raw_get_us_cold",
                median_us(lambda i: raw_get(cold[base + i]), ops=ops, batches=batches),  # noqa: B023 (called at once)
            )
            keyring.forget_cached()
            add(
                "store_get_us_cold",
                median_us(
                    lambda i: vault.get(cold[base + i], "traits", "main"),  # noqa: B023 (called at once)
                    ops=ops,
                    batches=batches,
                ),
            )
            for subject in warm:  # cached again, whatever the cold reads evicted
                vault.get(subject, "traits", "main")
            add(
                "raw_get_us_warm",
                median_us(lambda i: raw_get(warm[order[i % 4096]]), ops=ops, batches=batches),
            )
            add(
                "store_get_us_warm",
                median_us(
                    lambda i: vault.get(warm[order[i % 4096]], "traits", "main"),
                    ops=ops,
                    batches=batches,
                ),
            )
            add(
                "raw_put_us",
                median_us(
                    lambda i: raw_put(warm[order[i % 4096]]), ops=put_ops, batches=put_batches
                ),
            )
            add(
                "store_put_us",
                median_us(
                    lambda i: vault.put(warm[order[i % 4096]], "traits", "main", payload),
                    ops=put_ops,
                    batches=put_batches,
                ),
            )
    raw.close()
    out = {name: statistics.median(values) for name, values in result.items()}
    out["store_get_ratio_cold"] = out["store_get_us_cold"] / out["raw_get_us_cold"]
    out["store_get_ratio_warm"] = out["store_get_us_warm"] / out["raw_get_us_warm"]
    out["store_put_ratio"] = out["store_put_us"] / out["raw_put_us"]
    out["read_store_subjects"] = float(len(subjects))
    import_ms, bare_ms = _import_ms(5 if ctx.quick else 15)
    out["import_ms"] = import_ms
    out["python_startup_ms"] = bare_ms
    out["django_installed"] = float(importlib.util.find_spec("django") is not None)
    return out
