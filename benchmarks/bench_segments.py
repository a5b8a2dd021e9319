"""Personalization's cost on bulk ingest, and segments over a real purchase history (CDNOW).

``ingest_ratio_<N>k_customers_pz_on`` / ``_pz_off``: ``bench_ingest``'s figure measured twice
in this run, with personalization's hooks registered (the default: every consented event
updates the subject's sealed aggregates and segment index in the batch's transaction) and with
``PersonalizationConfig(enabled=False)``, each against the same plain-SQLite baseline
(``bench_ingest.plain_ingest``), runs alternated. Higher is better.

``segments_cdnow_s`` (informational): the CDNOW master file (69,659 purchases by 23,570
customers, 1997-98, shipped by ``lifetimes``: ``pip install --no-deps lifetimes==0.11.3``)
ingested as consent + purchase lines into a fresh kit, then ``refresh`` computes RFM quintiles
and the lifecycle segments as of 1998-07-01; the figure is the seconds of ingest + refresh,
and the segment sizes are printed. Without the package the figure is skipped with a note.
The data is read from the installed package, never copied into the repository.
"""

from __future__ import annotations

import importlib.metadata
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import BenchContext, scale_label
from _shop import copy_store, known_store, shop_lines
from bench_ingest import plain_ingest
from personakit import LocalKeyProvider, Personakit
from personakit.personalization import PersonalizationConfig
from personakit.workflows import DEFAULT_BATCH as BATCH

CDNOW_AS_OF = datetime(1998, 7, 1, tzinfo=UTC)
_NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "import"}


def _ingest_rate(ctx: BenchContext, lines: Path, run: int, *, enabled: bool) -> float:
    """Lines per second of one ``kit.ingest`` into a fresh copy of the known store."""
    label = "on" if enabled else "off"
    target = copy_store(known_store(ctx), ctx.workdir / f"kit-{label}-{run}")
    config = PersonalizationConfig(enabled=enabled)
    kit = Personakit.open(target, keys=LocalKeyProvider(ctx.master_key), personalization=config)
    with kit, lines.open("rb") as source:
        started = time.perf_counter()
        summary = kit.ingest(source, batch_size=BATCH)
        elapsed = time.perf_counter() - started
    if summary.rejected:
        msg = f"benchmark input was rejected in part: {summary.to_json()}"
        raise RuntimeError(msg)
    return (summary.accepted + summary.dropped_no_basis) / elapsed


def _cdnow_file() -> Path | None:
    try:
        dist = importlib.metadata.distribution("lifetimes")
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in dist.files or ():
        if str(entry).endswith("datasets/CDNOW_master.txt"):
            return Path(str(dist.locate_file(entry)))
    return None


def _cdnow_lines(path: Path, now: datetime) -> tuple[list[str], list[str]]:
    """(a consent line per customer, given at ``now``; a purchase line per transaction).

    The consents are current (a 1997 grant would have expired by now, and events are stored
    for the purposes with a basis when they are ingested); the purchases keep their dates.
    """
    consents: list[str] = []
    purchases: list[str] = []
    seen: set[str] = set()
    with path.open(encoding="ascii") as source:
        for row in source:
            parts = row.split()
            if len(parts) != 4 or not parts[0].isdigit():
                continue
            customer, day, cds, dollars = parts
            at = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
            who = f"customer:cd{customer}"
            if who not in seen:
                seen.add(who)
                grant = {"kind": "consent", "subject": who, "purpose": "personalization"}
                grant |= {"status": "given", "at": now.isoformat(), **_NOTICE}
                consents.append(json.dumps(grant))
            props = {"item": f"cds-{cds}", "value_cents": round(float(dollars) * 100)}
            event: dict[str, object] = {"kind": "event", "subject": who, "name": "purchase"}
            event |= {
                "channel": "store",
                "properties": props,
                "at": at.replace(hour=12).isoformat(),
            }
            purchases.append(json.dumps(event))
    return consents, purchases


def _cdnow(ctx: BenchContext) -> dict[str, float]:
    path = _cdnow_file()
    if path is None:
        ctx.notes.append(
            "segments_cdnow_s skipped: pip install --no-deps lifetimes==0.11.3 (ships CDNOW)"
        )
        return {}
    kit = Personakit.open(ctx.workdir / "cdnow", keys=LocalKeyProvider(ctx.master_key))
    with kit:
        consents, purchases = _cdnow_lines(path, kit.clock.now())
        started = time.perf_counter()
        # Consents first, in their own call: bulk ingest forgets a subject's cached verdicts
        # on each consent line, which costs more the more subjects the call has cached.
        first = kit.ingest(consents, batch_size=BATCH)
        summary = kit.ingest(purchases, batch_size=BATCH)
        report = kit.personalization.refresh(CDNOW_AS_OF)
        elapsed = time.perf_counter() - started
        sizes = {
            name: size
            for name, size in kit.personalization.sizes().items()
            if name.startswith(("rfm.", "lifecycle."))
        }
    if first.rejected:
        msg = f"CDNOW consents were rejected in part: {first.to_json()}"
        raise RuntimeError(msg)
    if summary.rejected:
        msg = f"CDNOW lines were rejected in part: {summary.to_json()}"
        raise RuntimeError(msg)
    print(
        f"  CDNOW: {summary.accepted:,} lines, {report.subjects:,} customers "
        f"(RFM population {report.rfm_population:,}); segment sizes: {json.dumps(sizes)}",
        file=sys.stderr,
    )
    return {"segments_cdnow_s": elapsed}


def figures(ctx: BenchContext) -> dict[str, float]:
    """Ingest with and without personalization against plain SQLite; CDNOW segments."""
    runs = 1 if ctx.quick else 3
    lines = shop_lines(ctx)
    known_store(ctx)  # built before any timing
    on, off, plain = [], [], []
    for run in range(runs):  # alternated, so drift on a noisy machine hits all alike
        database = ctx.workdir / f"plain-{run}.db"
        started = time.perf_counter()
        count = plain_ingest(database, lines)
        plain.append(count / (time.perf_counter() - started))
        on.append(_ingest_rate(ctx, lines, run, enabled=True))
        off.append(_ingest_rate(ctx, lines, run, enabled=False))
    scale = scale_label(ctx.customers)
    baseline = statistics.median(plain)
    return {
        f"ingest_lines_per_s_{scale}_pz_on": statistics.median(on),
        f"ingest_lines_per_s_{scale}_pz_off": statistics.median(off),
        f"ingest_ratio_{scale}_customers_pz_on": statistics.median(on) / baseline,
        f"ingest_ratio_{scale}_customers_pz_off": statistics.median(off) / baseline,
        **_cdnow(ctx),
    }
