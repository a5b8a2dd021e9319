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
  bytecode compiled (one discarded run first, allowed to write bytecode;
  ``import_bytecode_cached`` is 1 when it did), Django installed when ``django_installed`` is 1;
  ``python_startup_ms`` is the bare interpreter's start, included in it.
* ``import_open_kit_ms`` (informational): the same import plus the first kit built on a memory
  store, which imports the capability packages (they are not imported by ``import personakit``).
* ``import_cpu_ms``, ``import_open_kit_cpu_ms``, ``python_startup_cpu_ms`` (informational): the
  same runs' CPU time (user + system of the child process). On a loaded machine wall time
  mostly measures waiting for a core; CPU time moves far less with the load.
"""

from __future__ import annotations

import importlib.util
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from attrs import frozen

from _common import BenchContext, median_us
from _shop import cached, connect_plain, open_kit
from personakit import Personakit
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


@frozen
class _Sizes:
    ops: int
    batches: int
    put_ops: int
    put_batches: int


_QUICK = _Sizes(ops=500, batches=3, put_ops=50, put_batches=3)
_FULL = _Sizes(ops=1000, batches=5, put_ops=200, put_batches=5)
_PAYLOAD = os.urandom(RECORD)


def _round(
    kit: Personakit, raw: sqlite3.Connection, cold: list[str], warm: list[str], *, r: int, n: _Sizes
) -> dict[str, float]:
    """One round of every pair; which side of a pair goes first alternates with ``r``.

    Whatever the first side leaves behind (a WAL to checkpoint, a busy disk queue) must not
    always land on the same side.
    """
    vault = kit.vault
    out: dict[str, float] = {}

    def key(subject: str) -> str:
        return f"s/{subject}/traits/main"

    def raw_put(subject: str) -> object:
        now = time.time()
        return raw.execute(UPSERT, (key(subject), now, now, _PAYLOAD))

    def timed(name: str, op: Callable[[int], object], *, put: bool = False) -> Callable[[], None]:
        ops, batches = (n.put_ops, n.put_batches) if put else (n.ops, n.batches)
        return lambda: out.__setitem__(name, median_us(op, ops=ops, batches=batches))

    cold_store = timed("store_get_us_cold", lambda i: vault.get(cold[i], "traits", "main"))

    def forget_then_cold_store() -> None:
        kit.keyring.forget_cached()
        cold_store()

    pairs = [
        (
            timed(
                "raw_get_us_cold", lambda i: raw.execute(SELECT_VALUE, (key(cold[i]),)).fetchall()
            ),
            forget_then_cold_store,
        ),
        (
            timed(
                "raw_get_us_warm",
                lambda i: raw.execute(SELECT_VALUE, (key(warm[i % 4096]),)).fetchall(),
            ),
            timed("store_get_us_warm", lambda i: vault.get(warm[i % 4096], "traits", "main")),
        ),
        (
            timed("raw_put_us", lambda i: raw_put(warm[i % 4096]), put=True),
            timed(
                "store_put_us",
                lambda i: vault.put(warm[i % 4096], "traits", "main", _PAYLOAD),
                put=True,
            ),
        ),
    ]
    for index, pair in enumerate(pairs):
        if index == 1:
            for subject in set(warm):  # cached again, whatever the cold reads evicted
                vault.get(subject, "traits", "main")
        for measure in pair if r % 2 == 0 else pair[::-1]:
            measure()
    return out


# ``import personakit`` and the first kit built (a memory store): the capability packages are
# imported by the first build, so this is what a process pays before its first call.
_OPEN_KIT = (
    "import personakit as p; "
    'p.Personakit.open("memory:", keys=p.LocalKeyProvider(p.generate_master_key())).close()'
)


def _import_ms(runs: int) -> dict[str, float]:
    def once(code: str, env: dict[str, str] | None = None) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        wall = (time.perf_counter() - started) * 1000
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
        return wall, cpu

    # Compiles bytecode if it is missing. PYTHONDONTWRITEBYTECODE (set in some shells and CI
    # images) would leave it missing, and every timed run would compile every module from
    # source, which an installed package never does.
    writable = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    once(_OPEN_KIT, writable)
    timed: dict[str, list[tuple[float, float]]] = {"bare": [], "import": [], "open": []}
    for _ in range(runs):  # interleaved, so drift on a noisy machine hits all three alike
        timed["bare"].append(once("pass"))
        timed["import"].append(once("import personakit"))
        timed["open"].append(once(_OPEN_KIT))
    out: dict[str, float] = {}
    for name, figure in (
        ("bare", "python_startup"),
        ("import", "import"),
        ("open", "import_open_kit"),
    ):
        out[f"{figure}_ms"] = statistics.median(wall for wall, _ in timed[name])
        out[f"{figure}_cpu_ms"] = statistics.median(cpu for _, cpu in timed[name])
    return out


def _bytecode_cached() -> bool:
    """Whether personakit's modules have bytecode (import_ms is only meaningful then)."""
    sources = [sys.modules[name].__file__ for name in ("personakit", Personakit.__module__)]
    return all(
        s is not None and Path(importlib.util.cache_from_source(s)).exists() for s in sources
    )


def figures(ctx: BenchContext) -> dict[str, float]:
    """Cold and warm gets, puts, against the same SQL in plain sqlite3; import time."""
    sizes = _QUICK if ctx.quick else _FULL
    ops, batches, rounds = sizes.ops, sizes.batches, 3
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

    warm = [warm[rng.randrange(WARM)] for _ in range(4096)]  # random order, repeats
    raw = connect_plain(raw_db)

    result: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        result.setdefault(name, []).append(value)

    with open_kit(ctx, kit_dir) as kit:
        per_round = ops * (batches + 1)  # median_us runs one more batch, to warm up
        for r in range(rounds):  # interleaved, so drift on a noisy machine hits both alike
            span = cold[r * per_round : (r + 1) * per_round]  # subjects no round read before
            for name, value in _round(kit, raw, span, warm, r=r, n=sizes).items():
                add(name, value)
    raw.close()
    out = {name: statistics.median(values) for name, values in result.items()}
    out["store_get_ratio_cold"] = out["store_get_us_cold"] / out["raw_get_us_cold"]
    out["store_get_ratio_warm"] = out["store_get_us_warm"] / out["raw_get_us_warm"]
    out["store_put_ratio"] = out["store_put_us"] / out["raw_put_us"]
    out["read_store_subjects"] = float(len(subjects))
    out.update(_import_ms(5 if ctx.quick else 15))
    out["django_installed"] = float(importlib.util.find_spec("django") is not None)
    out["import_bytecode_cached"] = float(_bytecode_cached())
    return out
