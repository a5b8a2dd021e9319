"""Shared benchmark plumbing: the context passed to every module and a median timer."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from attrs import define, field

__all__ = ["BenchContext", "median_us", "scale_label"]


@define(kw_only=True)
class BenchContext:
    """What a benchmark module gets: repetition level, directories, a key, prior figures.

    ``workdir`` is the module's own fresh directory; ``shared`` holds the fixtures every module
    reuses (see ``_shop.py``); ``postgres_dsn`` is None when no PostgreSQL server was given.
    ``customers`` is the shop's size (100,000 unless ``--customers`` says otherwise).
    ``notes`` collects one-line remarks (a skipped part) for the report.
    """

    quick: bool
    workdir: Path
    shared: Path
    master_key: str
    customers: int = 100_000
    postgres_dsn: str | None = None
    figures: dict[str, float] = field(factory=dict)
    notes: list[str] = field(factory=list)


def median_us(op: Callable[[int], object], *, ops: int, batches: int) -> float:
    """Median over ``batches`` of the mean time per call of ``op(i)``, in microseconds.

    ``op`` receives a running index so it can vary its key. One warm-up batch is discarded.
    """
    results = []
    counter = 0
    for batch in range(batches + 1):
        started = time.perf_counter_ns()
        for _ in range(ops):
            op(counter)
            counter += 1
        elapsed = time.perf_counter_ns() - started
        if batch:  # the first batch warms caches and is thrown away
            results.append(elapsed / ops / 1000)
    return statistics.median(results)


def scale_label(customers: int) -> str:
    """``100k`` for 100,000: the suffix of the figures measured at that shop size."""
    return f"{customers // 1000}k" if customers % 1000 == 0 else str(customers)
