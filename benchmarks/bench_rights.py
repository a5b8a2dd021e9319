"""Erasure and export of a subject with 10,000 events, written by ``track()`` and in bulk.

The fixture (built once per run, then copied for every destructive run) holds two subjects
with the same 10,000 events (product views, cart changes, purchases) and consent to
personalization and analytics: ``customer:tracked`` got them from ``kit.track`` one event at a
time (10,000 calls, so as many appends as a real site makes; the calls are grouped in outer
transactions of 500 only so that building the fixture does not wait for 10,000 fsyncs),
``customer:bulk`` from one ``kit.ingest`` of the same lines. Then ``customer:later`` gets the
same events by bulk ingest too, so that neither measured subject is the last thing in the
database file, as in any shop where customers keep arriving after them: SQLite's auto-vacuum
(DiskStore's ``auto_vacuum=FULL``) truncates the freed pages of a subject at the end of the file
but moves the pages after any other subject into the freed ones, so the subject written last
erased ten times cheaper (20 WAL pages against 519 for the same 2 MB), whichever way it was
written.

* ``erase_ms_tracked`` / ``erase_ms_bulk``: ``kit.rights.erase`` of each (scrub included), each
  on a fresh copy of the fixture, right after its export (erasing one subject first would move
  the other's pages); ``erase_tracked_ratio`` = tracked over bulk: lower is better (target
  <= 2: erasure should follow the subject's bytes, not its number of writes).
* ``export_ms_tracked`` / ``export_ms_bulk`` (informational): ``kit.rights.export`` of each;
  ``export_tracked_ratio`` (informational): lower is better.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import BenchContext
from _shop import cached, copy_store, ingest_all_and_scrub, open_kit

TARGETS = {"erase_tracked_ratio": ("<=", 2.0)}

EVENTS = 10_000
GROUP = 500
START = datetime(2026, 1, 1, tzinfo=UTC)


def _event(i: int) -> tuple[str, dict[str, Any]]:
    if i % 10 == 0:
        return "purchase", {"item": f"sku-{i % 97}", "category": "bread", "value_cents": 450}
    if i % 10 < 3:
        return "add_to_cart", {"item": f"sku-{i % 97}", "quantity": 1}
    return "product_view", {"item": f"sku-{i % 97}", "category": "bread"}


def _consent(kit: Any, identifier: str) -> None:
    subject = kit.identity.resolve(identifier, create=True)
    kit.consent.grant(
        subject,
        ["personalization", "analytics"],
        notice="privacy_notice",
        notice_version="2026-01",
        source="web",
    )


def rights_store(ctx: BenchContext) -> Path:
    """The kit with ``customer:tracked``, ``customer:bulk`` and ``customer:later``; built once."""

    def build(path: Path) -> None:
        with open_kit(ctx, path) as kit:
            _consent(kit, "customer:tracked")
            _consent(kit, "customer:bulk")
            for start in range(0, EVENTS, GROUP):
                with kit.store.transaction():
                    for i in range(start, start + GROUP):
                        name, props = _event(i)
                        at = START + timedelta(minutes=i)
                        kit.track("customer:tracked", name, channel="web", properties=props, at=at)
            lines = []
            for i in range(EVENTS):
                name, props = _event(i)
                when = (START + timedelta(minutes=i)).isoformat()
                doc = {"kind": "event", "subject": "customer:bulk", "name": name}
                lines.append(json.dumps(doc | {"channel": "web", "at": when, "properties": props}))
            _consent(kit, "customer:later")
            ingest_all_and_scrub(kit, lines, "bulk subject")
            later = [line.replace('"customer:bulk"', '"customer:later"') for line in lines]
            ingest_all_and_scrub(kit, later, "subject written after both")

    return cached(ctx, "rights-store", build)


def _ms(action: Any) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def figures(ctx: BenchContext) -> dict[str, float]:
    """Median erase and export times of the tracked and the bulk subject."""
    runs = 3 if ctx.quick else 7
    source = rights_store(ctx)
    times: dict[str, list[float]] = {}
    for run in range(runs):
        # Each subject on a fresh copy, exported then erased: erasing one subject moves pages
        # of the file, which would make the other's erasure cheaper or dearer depending on
        # which went first. The order still alternates, so drift hits both alike.
        for name in ("tracked", "bulk") if run % 2 == 0 else ("bulk", "tracked"):
            with open_kit(ctx, copy_store(source, ctx.workdir / "kit")) as kit:
                subject = kit.identity.resolve(f"customer:{name}")
                times.setdefault(f"export_ms_{name}", []).append(
                    _ms(lambda s=subject: kit.rights.export(s))
                )
                times.setdefault(f"erase_ms_{name}", []).append(
                    _ms(lambda s=subject: kit.rights.erase(s))
                )
    out = {name: statistics.median(values) for name, values in times.items()}
    out["erase_tracked_ratio"] = out["erase_ms_tracked"] / out["erase_ms_bulk"]
    out["export_tracked_ratio"] = out["export_ms_tracked"] / out["export_ms_bulk"]
    out["events_per_subject"] = float(EVENTS)
    return out
