"""Recommendations: quality on MovieLens-100K against popularity, and speed against sqlite3.

Quality needs MovieLens-100K from ``recbole==1.2.1`` (``pip install --no-deps recbole==1.2.1``);
without it the quality figures are left out and a note says so.

* ``rec_ndcg10`` / ``rec_hr10``: the recommender (item-kNN or EASE over the co-occurrence
  sums, the ranking ``kit.recommend`` uses; kind and parameters chosen on a validation split
  carved from the training part by the same rule) on the issue's temporal split; ``pop_ndcg10`` /
  ``pop_hr10``: the most-interacted training items in the same run; ``rec_ndcg_vs_pop`` their
  ratio (target >= 2.2). Training items are never recommended.
* ``recommend_us``: ``kit.recommend.recommend(subject, 10)`` on a kit on disk whose model holds
  a 5,000-item catalogue summed from ``--customers`` (100,000) subjects' contributions, for one
  of 200 consenting customers whose records went through ingest; baseline
  ``recommend_sqlite_us``: a ``sqlite3`` read of that customer's precomputed top-10 list (JSON)
  from a table of one row per subject; ``recommend_ratio`` = the two (target <= 10).
  ``recommend_us_50k``: the same with a 50,000-item catalogue (informational).
* ``ingest_rec_on_us`` / ``ingest_rec_off_us``: ``kit.ingest`` per line of consenting
  customers' purchases with the recommendations hook registered and with it taken out;
  ``model_update_us`` their difference per purchase event (informational).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import BenchContext, median_us
from _shop import connect_plain

TARGETS = {"rec_ndcg_vs_pop": (">=", 2.2), "recommend_ratio": ("<=", 10.0)}
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
REAL_CUSTOMERS = 200
CATEGORIES = 50


def _quality(ctx: BenchContext) -> dict[str, float]:
    from personakit.recommendations import Params  # noqa: PLC0415
    from personakit.recommendations import offline as o  # noqa: PLC0415

    ratings = o.movielens_100k()
    if ratings is None:
        ctx.notes.append("bench_recommendations: recbole==1.2.1 not installed, no quality figures")
        return {}
    split = o.temporal_split(ratings)
    # Both rankings over the same sums: item-kNN and EASE (ridge l2); the recency of the
    # history (half-life) mattered most on the validation split, so both get short ones.
    knn = [
        Params(alpha=0.5, shrink=10.0, half_life_s=half_life, neighbours=50)
        for half_life in ((600.0,) if ctx.quick else (60.0, 600.0, 86_400.0))
    ]
    ease = [
        Params(kind="ease", l2=l2, half_life_s=half_life, neighbours=100)
        for l2 in ((1000.0, 2000.0) if ctx.quick else (500.0, 1000.0, 2000.0))
        for half_life in ((60.0, 300.0) if ctx.quick else (10.0, 60.0, 300.0))
    ]
    grid = knn + ease
    params, _ = o.choose(o.validation_split(split), grid)
    rec = o.evaluate(split, params)
    pop = o.popularity_baseline(split)
    ctx.notes.append(
        f"bench_recommendations: MovieLens-100K, {rec.users} users; chosen on validation "
        f"among {len(grid)}: kind={params.kind} l2={params.l2:g} alpha={params.alpha} "
        f"shrink={params.shrink} half_life_s={params.half_life_s:g} "
        f"neighbours={params.neighbours} min_support={params.min_support}"
    )
    return {
        "rec_ndcg10": rec.ndcg,
        "rec_hr10": rec.hr,
        "pop_ndcg10": pop.ndcg,
        "pop_hr10": pop.hr,
        "rec_ndcg_vs_pop": rec.ndcg / pop.ndcg,
    }


def _baskets(subjects: int, items: int, seed: int) -> list[dict[str, Any]]:
    """Synthetic records: each subject keeps to one or two categories, Zipf-like within."""
    from personakit.recommendations._model import Interaction  # noqa: PLC0415

    rng = random.Random(seed)
    per = items // CATEGORIES
    weights = [1 / (rank + 1) for rank in range(per)]
    start = int(NOW.timestamp()) - 60 * 86_400
    records: list[dict[str, Any]] = []
    for _ in range(subjects):
        cats = rng.sample(range(CATEGORIES), 1 + rng.randrange(2))
        size = 1 + rng.randrange(10)
        chosen = {
            f"sku-{cat * per + rng.choices(range(per), weights)[0]}"
            for cat in rng.choices(cats, k=size)
        }
        records.append(
            {i: Interaction(1, start + rng.randrange(60 * 86_400), 1) for i in sorted(chosen)}
        )
    return records


def _lines(customers: int, items: int, seed: int) -> list[str]:
    """Consent, then three purchases over the catalogue, for ``customers`` customers."""
    rng = random.Random(seed)
    at = NOW - timedelta(days=3)
    out = []
    for n in range(customers):
        ident = f"customer:rec{seed}-{n}"
        out.append(
            json.dumps(
                {
                    "kind": "consent",
                    "subject": ident,
                    "purpose": "personalization",
                    "status": "given",
                    "notice": "privacy_notice",
                    "notice_version": "2026-01",
                    "source": "web",
                    "at": at.isoformat(),
                }
            )
        )
        cat = rng.randrange(CATEGORIES)
        per = items // CATEGORIES
        for step in range(3):
            basket = {f"sku-{cat * per + rng.randrange(min(per, 20))}" for _ in range(2)}
            out.append(
                json.dumps(
                    {
                        "kind": "event",
                        "subject": ident,
                        "name": "purchase",
                        "channel": "web",
                        "at": (at + timedelta(hours=step + 1)).isoformat(),
                        "properties": {"items": [{"item": i} for i in sorted(basket)]},
                    }
                )
            )
    return out


def _speed(ctx: BenchContext, items: int, subjects: int, label: str) -> dict[str, float]:
    from personakit import FixedClock, LocalKeyProvider, Personakit  # noqa: PLC0415
    from personakit.recommendations._model import ItemModel  # noqa: PLC0415
    from personakit.recommendations._shared import apply_rows  # noqa: PLC0415

    path = ctx.workdir / f"kit-{label}"
    keys = LocalKeyProvider(ctx.master_key)
    with Personakit.open(path, keys=keys, clock=FixedClock(NOW)) as kit:
        # The other subjects' sums go in directly: the same rows their ingest would leave.
        model = ItemModel.from_contributions(_baskets(subjects, items, seed=items))
        apply_rows(kit.store, model.rows)
        summary = kit.ingest(_lines(REAL_CUSTOMERS, items, seed=items))
        assert summary.rejected == 0, summary.to_json()
        ident = f"customer:rec{items}-"
        found = [kit.identity.lookup(f"{ident}{n}") for n in range(REAL_CUSTOMERS)]
        real = [s for s in found if s is not None]
        top = {s: json.dumps([r.item for r in kit.recommend.recommend(s, 10).items]) for s in real}
        db = ctx.workdir / f"top10-{label}.sqlite"
        con = connect_plain(db)
        con.execute("CREATE TABLE top10 (subject TEXT PRIMARY KEY, items TEXT NOT NULL)")
        filler = json.dumps([f"sku-{i}" for i in range(10)])
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO top10 VALUES (?, ?)",
            [*top.items(), *((f"sub_filler{i}", filler) for i in range(subjects))],
        )
        con.execute("COMMIT")
        ops, batches = (300, 3) if ctx.quick else (1000, 5)
        rec, base = [], []
        for _ in range(3):  # interleaved, so drift on a noisy machine hits both alike
            rec.append(
                median_us(
                    lambda i: kit.recommend.recommend(real[i % len(real)], 10),
                    ops=ops,
                    batches=batches,
                )
            )
            base.append(
                median_us(
                    lambda i: json.loads(
                        con.execute(
                            "SELECT items FROM top10 WHERE subject = ?", (real[i % len(real)],)
                        ).fetchone()[0]
                    ),
                    ops=ops,
                    batches=batches,
                )
            )
        con.close()
    return {"recommend_us": statistics.median(rec), "recommend_sqlite_us": statistics.median(base)}


def _ingest(ctx: BenchContext) -> dict[str, float]:
    from personakit import FixedClock, LocalKeyProvider, Personakit  # noqa: PLC0415

    customers = 300 if ctx.quick else 1000
    on: list[float] = []
    off: list[float] = []
    for run in range(3 if ctx.quick else 5):
        for hooked, results in ((True, on), (False, off)):
            lines = _lines(customers, 5000, seed=1000 + run)
            path = ctx.workdir / f"ingest-{run}-{hooked}"
            keys = LocalKeyProvider(ctx.master_key)
            with Personakit.open(path, keys=keys, clock=FixedClock(NOW)) as kit:
                if not hooked:
                    # The benchmark alone takes the hook out, to time the same ingest without it.
                    kit.registries.hooks._events.pop("recommendations")  # noqa: SLF001
                started = time.perf_counter()
                kit.ingest(lines)
                results.append((time.perf_counter() - started) / len(lines) * 1e6)
    events = 3 * customers
    lines_n = 4 * customers
    on_us, off_us = statistics.median(on), statistics.median(off)
    return {
        "ingest_rec_on_us": on_us,
        "ingest_rec_off_us": off_us,
        "model_update_us": (on_us - off_us) * lines_n / events,
    }


def figures(ctx: BenchContext) -> dict[str, float]:
    """Quality on MovieLens-100K, recommendation and ingest speed."""
    out = _quality(ctx)
    subjects = ctx.customers
    ctx.notes.append(
        f"bench_recommendations: recommend_us over a model of {subjects:,} subjects' "
        "contributions (5,000 items), summed in memory and written as rows; the 200 measured "
        "customers went through ingest"
    )
    speed = _speed(ctx, 5000, subjects, "5k")
    out |= speed
    out["recommend_ratio"] = speed["recommend_us"] / speed["recommend_sqlite_us"]
    out["recommend_us_50k"] = _speed(ctx, 50_000, subjects, "50k")["recommend_us"]
    out |= _ingest(ctx)
    return out
