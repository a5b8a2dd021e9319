"""Erasure and export of a subject with 1,000 events, and how erasure scales with the store.

``erase_scaling_ratio`` compares the median erase time with 100,000 other subjects in the store
(20,000 with ``--quick``; the figure ``others_large`` says which) against 1,000 others: erasure
is a key delete, a prefix delete and the subject's own index entries, so it should not grow with
the store. Each erasure includes the scrub (WAL checkpoint and truncate) of both stores. Other
subjects get one small sealed record, a data key and an index entry each, written in batches.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import BenchContext
from personakit import LocalKeyProvider, Personakit
from personakit._codec import canonical_json
from personakit._vault import new_subject_id

TARGETS = {"erase_scaling_ratio": ("<=", 1.5)}

EVENTS = 1000
CHUNK = 100
BATCH = 2000
SMALL = 1000


def _others(kit: Personakit, count: int) -> None:
    meta = canonical_json({"created_at": "2026-01-01T00:00:00+00:00"})
    for start in range(0, count, BATCH):
        with kit.key_store.transaction(), kit.store.transaction():
            for _ in range(min(BATCH, count - start)):
                subject = new_subject_id()
                kit.vault.put(subject, "meta", "subject", meta)
                kit.store.put(f"i/customer/{os.urandom(20).hex()}", subject.encode())


def _events(n: int) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "id": f"evt_{n:04d}{i:06d}",
            "kind": "purchase" if i % 10 == 0 else "product_view",
            "channel": "web",
            "at": (start + timedelta(minutes=i)).isoformat(),
            "properties": {"item": f"sku-{i % 97}", "category": "bread", "value_cents": 450},
            "purposes": ["personalization"],
        }
        for i in range(EVENTS)
    ]


def _target(kit: Personakit, n: int) -> str:
    subject = kit.identity.resolve(f"customer:bench-{n}", create=True)
    kit.identity.attach(subject, f"email:bench{n}@example.com")
    kit.consent.grant(
        subject,
        ["personalization", "analytics"],
        notice="privacy_notice",
        notice_version="2026-01",
        source="web",
    )
    docs = _events(n)
    log = getattr(kit, "events", None)
    with kit.store.transaction():
        for start in range(0, EVENTS, CHUNK):
            chunk = docs[start : start + CHUNK]
            if log is not None:
                from personakit.events import Event  # noqa: PLC0415 (issue 4 adds it)

                log.append(subject, [Event.from_json(doc) for doc in chunk])
            else:
                kit.vault.put(subject, "events", f"{start:013d}-bench", canonical_json(chunk))
    return subject


def _prepared(kit: Personakit, runs: int) -> list[str]:
    subjects = [_target(kit, i) for i in range(runs + 1)]
    kit.store.scrub()
    kit.key_store.scrub()
    return subjects


def _erase_once_ms(kit: Personakit, subject: str) -> float:
    started = time.perf_counter()
    kit.rights.erase(subject)
    return (time.perf_counter() - started) * 1000


def figures(ctx: BenchContext) -> dict[str, float]:
    """Median erase and export times; erase time with a large store over a small one."""
    large = 20_000 if ctx.quick else 100_000
    runs = 9 if ctx.quick else 15
    keys = LocalKeyProvider(ctx.master_key)
    with (
        Personakit.open(ctx.workdir / "small", keys=keys) as small_kit,
        Personakit.open(ctx.workdir / "large", keys=keys) as large_kit,
    ):
        _others(small_kit, SMALL)
        _others(large_kit, large)
        exported = _target(small_kit, 9999)
        export_times = []
        for _ in range(runs):
            started = time.perf_counter()
            small_kit.rights.export(exported)
            export_times.append((time.perf_counter() - started) * 1000)
        small_subjects = _prepared(small_kit, runs)
        large_subjects = _prepared(large_kit, runs)
        # Alternate the two stores so drift on a noisy machine hits both alike; the first
        # erasure of each warms caches and is not counted.
        small_ms: list[float] = []
        large_ms: list[float] = []
        for small_subject, large_subject in zip(small_subjects, large_subjects, strict=True):
            small_ms.append(_erase_once_ms(small_kit, small_subject))
            large_ms.append(_erase_once_ms(large_kit, large_subject))
    small_median = statistics.median(small_ms[1:])
    large_median = statistics.median(large_ms[1:])
    return {
        "erase_ms": small_median,
        "erase_ms_large_store": large_median,
        "export_ms": statistics.median(export_times),
        "others_small": float(SMALL),
        "others_large": float(large),
        "erase_scaling_ratio": large_median / small_median,
    }
