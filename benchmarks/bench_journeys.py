"""Journeys: the cost of a produced action, and ``run_due`` with nothing due at two scales.

* ``journeys_action_us``: median over 3 rounds of ``run_due`` time per produced action (the
  welcome and the cart reminder of real customers with traits and marketing consent: 1,200
  actions in all with --quick, 10,002 without, the issue's 10,000 due), on a kit on disk with
  the six built-in journeys
  enabled and 100,000 future entries in the due-time index): re-read the due entry, the state,
  the claim, traits, consent, suppression, contact history, then write the claim, the sealed
  action, its two queue entries, the contact history, the state and the counters in one
  transaction. ``journeys_store_put_us``: one sealed single-record put through the store (its
  own transaction, as ``store_put_us``), measured in this run on the same kit;
  ``journeys_action_ratio`` = action / put (target <= 4).
* ``journeys_idle_scaling``: ``run_due`` with nothing due over a due-time index of 100,000
  subjects (one future watch each) / over one of 1,000 (target <= 1.5: the index is read in
  time order and the read stops at the first entry not due, never a scan of subjects). The
  index entries are written directly, in the shape the journeys hooks write them (the
  subjects' own records are not read by an idle run).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from _common import BenchContext, median_us
from personakit import LocalKeyProvider, Personakit
from personakit._clock import FixedClock, to_micros
from personakit.journeys._keys import due_key

TARGETS = {"journeys_action_ratio": ("<=", 4.0), "journeys_idle_scaling": ("<=", 1.5)}
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
_PAYLOAD = b'{"first_name":"Ann","email":"ann@shop.example"}'


def _open(ctx: BenchContext, name: str, clock: FixedClock) -> Personakit:
    return Personakit.open(ctx.workdir / name, keys=LocalKeyProvider(ctx.master_key), clock=clock)


def _fill_index(kit: Personakit, subjects: int) -> None:
    """Future watches (win-back in 30 to 120 days) for ``subjects`` pseudonyms."""
    base = to_micros(START + timedelta(days=30))
    day = 86_400_000_000
    batch: list[tuple[str, bytes]] = []
    for n in range(subjects):
        subject = f"sub_{n:026d}"
        batch.append((due_key(base + (n * 7919 % 90) * day + n, "win_back", subject, "w.1"), b""))
        if len(batch) == 5000:
            kit.store.put_many(batch)
            batch = []
    if batch:
        kit.store.put_many(batch)


def _idle_ms(kit: Personakit, runs: int) -> float:
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        summary = kit.journeys.run_due(START + timedelta(days=1))
        times.append((time.perf_counter() - started) * 1000)
        assert summary.due == 0
    return statistics.median(times[1:])


def _customers(kit: Personakit, group: int, count: int, at: datetime) -> None:
    assert isinstance(kit.clock, FixedClock)
    kit.clock.set(at)
    for n in range(count):
        name = f"g{group}c{n}"
        subject = kit.identity.resolve(f"customer:{name}", create=True)
        kit.consent.grant(
            subject,
            ["marketing.email", "marketing.sms"],
            notice="marketing_notice",
            notice_version="2026-01",
            source="web",
        )
        kit.consent.grant(
            subject,
            "personalization",
            notice="privacy_notice",
            notice_version="2026-01",
            source="web",
        )
        kit.traits.update(subject, {"email": f"{name}@shop.example", "first_name": "Ann"})
        kit.track(f"customer:{name}", "add_to_cart", channel="web", properties={"item": "p1"})


def figures(ctx: BenchContext) -> dict[str, float]:
    """The journeys figures (see the module docstring)."""
    runs = 9 if ctx.quick else 25
    # The scale is 10,000 due; --quick produces 3 x 400 (welcome and cart reminder).
    per_round = 200 if ctx.quick else 1667
    rounds = 3
    clock = FixedClock(START)
    out: dict[str, float] = {}
    with _open(ctx, "small", clock) as small, _open(ctx, "large", clock) as kit:
        small.journeys.enable_builtin()
        _fill_index(small, 1_000)
        kit.journeys.enable_builtin()
        _fill_index(kit, 100_000)
        # Alternate the two sides so that machine noise lands on both alike.
        small_runs, large_runs = [], []
        for _ in range(runs):
            small_runs.append(_idle_ms(small, 3))
            large_runs.append(_idle_ms(kit, 3))
        small_ms, large_ms = statistics.median(small_runs), statistics.median(large_runs)
        for group in range(rounds):
            _customers(kit, group, per_round, START + timedelta(minutes=10 * group))
        action_us = []
        for group in range(rounds):
            started = time.perf_counter()
            summary = kit.journeys.run_due(START + timedelta(hours=4, minutes=10 * group))
            elapsed = time.perf_counter() - started
            # each group's cart reminder (deferred: the welcome e-mail 4 hours before uses the
            # 16-hour e-mail cap), and in the first round every group's welcome too
            assert summary.produced == (4 if group == 0 else 1) * per_round, summary
            action_us.append(elapsed / summary.produced * 1e6)
        subject = kit.identity.resolve("customer:g0c0")
        put_us = median_us(
            lambda _: kit.vault.put(subject, "traits", "bench", _PAYLOAD),
            ops=200 if ctx.quick else 500,
            batches=5,
        )
    out["journeys_idle_ms_100k"] = large_ms
    out["journeys_idle_ms_1k"] = small_ms
    out["journeys_idle_scaling"] = large_ms / small_ms
    out["journeys_action_us"] = statistics.median(action_us)
    out["journeys_store_put_us"] = put_us
    out["journeys_action_ratio"] = out["journeys_action_us"] / put_us
    return out
