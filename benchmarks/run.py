"""Run every benchmark and print a table of figures, each against a baseline of the same run.

    python benchmarks/run.py [--quick] [--json PATH] [--only MODULE] [--customers N]
                             [--postgres DSN]

Each ``benchmarks/bench_*.py`` module exposes ``figures(ctx) -> dict[str, float]`` and may
declare ``TARGETS = {"name": ("<=", 2.0)}``. Ratios are measured against a baseline taken in the
same run that does the same work without personakit (the same SQL through ``sqlite3`` on the
same database shape, plain SQLite or psycopg inserts of the same lines), so a noisy machine
still gives honest numbers. Every timing is a median. The shop the modules share (100,000
customers, ``_shop.py``) is built once per run; ``--quick`` keeps its scale and repeats less.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
# These run first (the read store is the largest fixture), the others by name.
ORDER = ["bench_store", "bench_consent"]

sys.path.insert(0, str(HERE))

from _common import BenchContext  # noqa: E402

Target = tuple[str, float]


def _modules(only: str | None) -> list[ModuleType]:
    names = [p.stem for p in sorted(HERE.glob("bench_*.py"))]
    ordered = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
    if only:
        ordered = [n for n in ordered if n in {only, f"bench_{only}"}]
        if not ordered:
            raise SystemExit(f"run.py: no benchmark module named {only!r}")
    loaded = []
    for name in ordered:
        spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded.append(module)
    return loaded


def _verdict(value: float, target: Target | None) -> str:
    if target is None:
        return ""
    op, bound = target
    ok = value <= bound if op == "<=" else value >= bound
    return f"{'ok  ' if ok else 'MISS'} ({op} {bound:g})"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return 0 (misses are reported, not failures)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, same scale")
    parser.add_argument("--json", help="also write figures and metadata to this file")
    parser.add_argument("--only", help="run one module (e.g. store or bench_store)")
    parser.add_argument(
        "--customers", type=int, default=100_000, help="the shop's size (default 100,000)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN"),
        help="a PostgreSQL DSN for bench_postgres (default: $PERSONAKIT_TEST_POSTGRES_DSN)",
    )
    args = parser.parse_args(argv)
    if args.customers < 10_000:
        parser.error("--customers must be at least 10,000 (the read benchmark needs them)")

    from personakit import generate_master_key  # noqa: PLC0415 (after sys.path setup)

    figures: dict[str, float] = {}
    targets: dict[str, Target] = {}
    timings: dict[str, float] = {}
    notes: list[str] = []
    master_key = generate_master_key()  # one per run: the shared stores are opened by all
    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="personakit-bench-") as tmp:
        shared = Path(tmp) / "shared"
        shared.mkdir()
        for module in _modules(args.only):
            run: Callable[[BenchContext], dict[str, float]] = module.figures
            workdir = Path(tmp) / module.__name__
            workdir.mkdir()
            ctx = BenchContext(
                quick=args.quick,
                workdir=workdir,
                shared=shared,
                master_key=master_key,
                customers=args.customers,
                postgres_dsn=args.postgres or None,
                figures=figures,
                notes=notes,
            )
            started = time.perf_counter()
            result = run(ctx)
            timings[module.__name__] = round(time.perf_counter() - started, 2)
            figures.update(result)
            targets.update(getattr(module, "TARGETS", {}))
            print(f"# {module.__name__}: {timings[module.__name__]} s", file=sys.stderr)
            shutil.rmtree(workdir)  # keep the disk footprint to the shared fixtures
    timings["total"] = round(time.perf_counter() - total, 2)

    width = max((len(name) for name in figures), default=10)
    print(f"{'figure':<{width}}  {'value':>12}  target")
    print(f"{'-' * width}  {'-' * 12}  {'-' * 20}")
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:>12.3f}  {_verdict(value, targets.get(name))}")
    for note in notes:
        print(f"# note: {note}")

    if args.json:
        meta: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(),
            "quick": args.quick,
            "customers": args.customers,
            "notes": notes,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "seconds_per_module": timings,
            "targets": {name: list(target) for name, target in targets.items()},
        }
        Path(args.json).write_text(
            json.dumps({"figures": figures, "meta": meta}, indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
