"""Shared benchmark plumbing: the context passed to every module and a median timer."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from attrs import define, field

__all__ = ["BenchContext", "median_us"]


@define(kw_only=True)
class BenchContext:
    """What a benchmark module gets: repetition level, a fresh directory, a key, prior figures."""

    quick: bool
    workdir: Path
    master_key: str
    figures: dict[str, float] = field(factory=dict)


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
