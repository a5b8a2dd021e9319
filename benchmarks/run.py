"""Run every benchmark and print a table of figures, each against a baseline of the same run.

    python benchmarks/run.py [--quick] [--json PATH] [--only MODULE]

Each ``benchmarks/bench_*.py`` module exposes ``figures(ctx) -> dict[str, float]`` and may
declare ``TARGETS = {"name": ("<=", 2.0)}``. Ratios are measured against a baseline taken in the
same run (raw diskcache, raw OpenDP, a popularity recommender), so a noisy machine still gives
honest numbers. Every timing is a median over batches.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
# Modules whose figures others use as baselines run first.
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
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (< 2 minutes)")
    parser.add_argument("--json", help="also write figures and metadata to this file")
    parser.add_argument("--only", help="run one module (e.g. store or bench_store)")
    args = parser.parse_args(argv)

    from personakit import generate_master_key  # noqa: PLC0415 (after sys.path setup)

    figures: dict[str, float] = {}
    targets: dict[str, Target] = {}
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="personakit-bench-") as tmp:
        for module in _modules(args.only):
            run: Callable[[BenchContext], dict[str, float]] = module.figures
            workdir = Path(tmp) / module.__name__
            workdir.mkdir()
            ctx = BenchContext(
                quick=args.quick, workdir=workdir, master_key=generate_master_key(), figures=figures
            )
            started = time.perf_counter()
            result = run(ctx)
            timings[module.__name__] = round(time.perf_counter() - started, 2)
            figures.update(result)
            targets.update(getattr(module, "TARGETS", {}))
            print(f"# {module.__name__}: {timings[module.__name__]} s", file=sys.stderr)

    width = max((len(name) for name in figures), default=10)
    print(f"{'figure':<{width}}  {'value':>12}  target")
    print(f"{'-' * width}  {'-' * 12}  {'-' * 20}")
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:>12.3f}  {_verdict(value, targets.get(name))}")

    if args.json:
        meta: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(),
            "quick": args.quick,
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
