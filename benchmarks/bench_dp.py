"""Differentially private queries through ``kit.analytics`` against raw OpenDP, same numpy data.

Query figures run on a numpy dataset of 1,000,000 order values (integer cents, 0 to 20,000)
of 100,000 customers (at most 20 rows each, the dataset's bound), offered to a kit on the
embedded DiskStore with a large cap. Generating a million orders through the store would take
most of the run, so the dataset is built from arrays (:meth:`Dataset.from_arrays`); what
building from the store costs is measured apart, at the scale of the shop fixture's first
lines. No timing returns a stored answer: every personakit query asks for a fresh release
(``reuse=False``), so each timing includes the ledger transaction (loss, answer, audit entry,
fsync'd).

* ``dp_count_ms``, ``dp_mean_ms``, ``dp_hist_ms``: one count (epsilon 1), clamped mean
  (epsilon 1) and 10-bin histogram (epsilon 1) through ``kit.analytics``, the plan cache
  cleared before each, so the noise scale is resolved again (as for a first query of its shape).
* ``opendp_count_ms``: the same count through a raw OpenDP ``Context`` (compositor over the
  same numpy array, contributions 20, epsilon 1: ``query().count().laplace().release()``).
* ``dp_overhead_ratio`` = ``dp_count_ms`` / ``opendp_count_ms``: lower is better (target <= 1.2).
* ``dp_cached_plan_ms``: the same count again with its shape's plan already resolved (still a
  fresh release with its ledger write; only the measurement is reused).
* ``dp_ledger_ms`` (informational): the ledger transaction alone (the critical section), median
  over the count releases above.
* ``dp_dataset_ms`` (informational): building the built-in datasets (``orders``, ``events``,
  ``customers``) from a store holding the shop fixture's first 2,000 customers (see
  :func:`dp_store`; ``dp_dataset_customers``
  customers, ``dp_dataset_events`` events): read, decrypt, consent check, numpy columns;
  ``dp_dataset_read_ms``: reading and decrypting the same subjects' events alone (its floor).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import opendp.prelude as dp

from _common import BenchContext
from _shop import _customer_lines, cached, copy_store, open_kit
from personakit.analytics import Dataset

TARGETS = {"dp_overhead_ratio": ("<=", 1.2)}

ROWS = 1_000_000
CUSTOMERS = 100_000
BOUND = 20
STORE_CUSTOMERS = 2_000


def _ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def dp_store(ctx: BenchContext) -> Path:
    """A kit holding the first customers of the shop fixture, made by the shop's own generator.

    The shop's customer generator (``_shop._customer_lines``: a consent answer, 1 to 19 events,
    sometimes traits) for customers ``c0`` to ``c{STORE_CUSTOMERS - 1}``, in time order; every
    customer who consents to personalization also consents to analytics (the shop has no
    analytics answer). Generating the whole 100,000-customer shop file only to keep its first
    lines would take most of this module's time.
    """

    def build(path: Path) -> None:
        rng = random.Random(2026)
        timed: list[tuple[float, dict[str, Any]]] = []
        for customer in range(STORE_CUSTOMERS):
            timed.extend(_customer_lines(rng, customer, 0))
        timed.sort(key=lambda pair: pair[0])
        lines: list[str] = []
        for _, record in timed:
            lines.append(json.dumps(record))
            if record["kind"] == "consent" and record["status"] == "given":
                lines.append(json.dumps({**record, "purpose": "analytics"}))
        with open_kit(ctx, path) as kit:
            # the customers who refused have their events dropped (no basis): that is expected
            summary = kit.ingest(lines)
            if summary.rejected:
                msg = f"dp fixture had rejected lines: {summary.to_json()}"
                raise RuntimeError(msg)
            kit.store.scrub()

    return cached(ctx, "dp-store", build)


def _dataset_figures(ctx: BenchContext, runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"dp_dataset_ms": [], "dp_dataset_read_ms": []}
    with open_kit(ctx, copy_store(dp_store(ctx), ctx.workdir / "dataset-kit")) as kit:
        subjects = kit.retention.subjects()
        for _ in range(runs):
            times["dp_dataset_read_ms"].append(
                _ms(lambda: [kit.events.read(s, compact=False) for s in subjects])
            )
            kit.analytics.refresh()
            times["dp_dataset_ms"].append(_ms(lambda: kit.analytics.dataset("orders")))
        events = kit.analytics.dataset("events").rows
    out = {name: statistics.median(values) for name, values in times.items()}
    out["dp_dataset_customers"] = float(len(subjects))
    out["dp_dataset_events"] = float(events)
    return out


def _orders() -> Dataset:
    rng = np.random.default_rng(2026)
    subjects = rng.integers(0, CUSTOMERS, ROWS, dtype=np.int64)
    cents = rng.integers(0, 20_001, ROWS, dtype=np.int64)
    dataset = Dataset.from_arrays(
        "orders1m", subjects, {"value_cents": cents}, rows_per_subject=BOUND
    )
    _ = dataset.version  # digested once, when offered: not part of any query's time
    return dataset


def _raw_count(data: Any) -> object:
    context = dp.Context.compositor(
        data=data,
        privacy_unit=dp.unit_of(contributions=BOUND),
        privacy_loss=dp.loss_of(epsilon=1.0),
        split_evenly_over=1,
        domain=dp.vector_domain(dp.atom_domain(T=dp.i64)),
    )
    return context.query().count().laplace().release()


def figures(ctx: BenchContext) -> dict[str, float]:
    """Median query times through personakit and raw OpenDP; the dataset build apart."""
    started = time.perf_counter()
    runs = 5 if ctx.quick else 15
    dp.enable_features("contrib")
    dataset = _orders()
    edges = [float(e) for e in np.linspace(0, 20_000, 11)]
    times: dict[str, list[float]] = {}
    ledger: list[float] = []
    with open_kit(ctx, ctx.workdir / "query-kit") as kit:
        analytics = kit.analytics
        analytics.offer(dataset)
        analytics.set_budget(dataset.name, epsilon=1e6, reason="benchmark")
        real_record = analytics.ledger.record

        def timed_record(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return real_record(*args, **kwargs)
            finally:
                ledger.append((time.perf_counter() - started) * 1000)

        analytics.ledger.record = timed_record  # type: ignore[method-assign]
        queries: dict[str, Callable[[], object]] = {
            "dp_count_ms": lambda: analytics.count(dataset.name, epsilon=1.0, reuse=False),
            "dp_mean_ms": lambda: analytics.mean(
                dataset.name, "value_cents", bounds=(0, 20_000), epsilon=1.0, reuse=False
            ),
            "dp_hist_ms": lambda: analytics.histogram(
                dataset.name, "value_cents", bins=edges, epsilon=1.0, reuse=False
            ),
        }
        data = dataset.subjects
        _raw_count(data)  # warm-up: OpenDP's library load is nobody's query
        for run in range(runs + 1):
            for name, query in queries.items():
                analytics.plans.clear()
                elapsed = _ms(query)
                if run:
                    times.setdefault(name, []).append(elapsed)
            ledger.clear() if not run else None
            elapsed = _ms(lambda: _raw_count(data))
            if run:
                times.setdefault("opendp_count_ms", []).append(elapsed)
            count_ledger = len(ledger)
            elapsed = _ms(queries["dp_count_ms"])  # the plan of this shape is resolved now
            del ledger[count_ledger:]
            if run:
                times.setdefault("dp_cached_plan_ms", []).append(elapsed)
    out = {name: statistics.median(values) for name, values in times.items()}
    out["dp_overhead_ratio"] = out["dp_count_ms"] / out["opendp_count_ms"]
    out["dp_ledger_ms"] = statistics.median(ledger)
    out["dp_rows"] = float(dataset.rows)
    queried = time.perf_counter()
    out.update(_dataset_figures(ctx, 1 if ctx.quick else 3))
    ctx.notes.append(
        f"bench_dp: queries {queried - started:.1f} s, dataset fixture and build "
        f"{time.perf_counter() - queried:.1f} s"
    )
    return out
