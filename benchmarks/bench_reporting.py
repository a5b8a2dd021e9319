"""The audit pack over the shop: every report in every format, digested and audited.

* ``report_all_s`` (informational): ``kit.reports.pack(dir)`` over the shop fixture
  (``ctx.customers`` customers, 10.8 lines each, ingested into the known-customer store): the
  store census, every report as JSON, Markdown and HTML, the index, the SHA-256 manifest and
  its audit entry.
* baseline ``report_all_read_s``: the reads the pack cannot avoid, done once and bare: every
  subject's events, traits and consent ledger decrypted, nothing computed.

Medians of 3 runs (1 with ``--quick``). The census is read once per pack, the retention
report reads events and traits again (it needs their timestamps), so the ratio is about 2 plus
what rendering costs.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

from _common import BenchContext
from _shop import cached, copy_store, known_store, open_kit, shop_lines


def _store(ctx: BenchContext) -> Path:
    def build(path: Path) -> None:
        copy_store(known_store(ctx), path)
        lines = shop_lines(ctx).read_text(encoding="utf-8").splitlines()
        with open_kit(ctx, path) as kit:
            # Events of customers without a basis are dropped, as in any shop: not an error.
            summary = kit.ingest(lines)
            if summary.rejected:
                msg = f"shop for reporting had rejected lines: {summary.to_json()}"
                raise RuntimeError(msg)

    return cached(ctx, "reporting-store", build)


def figures(ctx: BenchContext) -> dict[str, float]:
    """Median seconds to build the whole pack, and to do its reads bare."""
    runs = 1 if ctx.quick else 3
    store = _store(ctx)
    packs: list[float] = []
    reads: list[float] = []
    with open_kit(ctx, store) as kit:
        for run in range(runs):
            target = ctx.workdir / f"pack-{run}"
            started = time.perf_counter()
            kit.reports.pack(target)
            packs.append(time.perf_counter() - started)
            shutil.rmtree(target)
            started = time.perf_counter()
            for subject in kit.retention.subjects():
                kit.events.read(subject, compact=False)
                kit.traits.details(subject)
                kit.consent.ledger(subject)
            reads.append(time.perf_counter() - started)
    ctx.notes.append(f"reporting: {ctx.customers:,} customers, {runs} run(s)")
    return {
        "report_all_s": statistics.median(packs),
        "report_all_read_s": statistics.median(reads),
        "report_all_ratio": statistics.median(packs) / statistics.median(reads),
    }
