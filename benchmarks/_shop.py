"""The shared shop fixture: one realistic input and a few prepared stores, built once per run.

Every builder caches its result under ``ctx.shared`` (a directory of the run's temporary
directory) and returns the cached copy when asked again, so the modules that need the same
shop reuse it. Benchmarks that change a store work on a copy (:func:`copy_store`).

The shop (:func:`shop_lines`): ``ctx.customers`` (100,000) customers, ``customer:c0`` ...
The first 20% already exist in the store the ingest runs against (:func:`known_store`), so 80%
are new. 70% consent to personalization and analytics; the other 30% refused or never answered.
Each customer has 1 to 19 events (10 on average: product views, cart changes, purchases),
10% send a traits line, and every new customer's answer (if any) comes as a consent line before
their first event. Lines are in time order, so customers interleave as in a real export.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import BenchContext
from personakit import LocalKeyProvider, Personakit

__all__ = [
    "cached",
    "connect_plain",
    "copy_store",
    "ingest_all_and_scrub",
    "known_store",
    "open_kit",
    "shop_lines",
    "sqlite_pragmas",
]

KNOWN_SHARE = 5  # one customer in 5 is already in the store: 80% of the ingest's are new
CONSENTING = 0.7
NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01"}
START = datetime(2026, 1, 5, tzinfo=UTC)
SPAN_S = 30 * 24 * 3600  # customers start over a month


def open_kit(ctx: BenchContext, path: Path) -> Personakit:
    """Open the kit in ``path`` with the run's master key."""
    return Personakit.open(path, keys=LocalKeyProvider(ctx.master_key))


def ingest_all_and_scrub(kit: Personakit, lines: list[str], what: str) -> None:
    """Ingest ``lines``, fail unless every one is accepted, then scrub both stores."""
    summary = kit.ingest(lines)
    if summary.accepted != len(lines):
        msg = f"{what} was not fully accepted: {summary.to_json()}"
        raise RuntimeError(msg)
    kit.store.scrub()
    kit.key_store.scrub()


def sqlite_pragmas() -> dict[str, object]:
    """The SQLite pragmas a DiskStore connection runs with (diskcache's, with ours on top)."""
    import diskcache  # noqa: PLC0415 (the benchmarks alone import it whole)

    from personakit.storage import DURABLE_SETTINGS  # noqa: PLC0415

    merged = {**diskcache.core.DEFAULT_SETTINGS, **DURABLE_SETTINGS}
    # auto_vacuum first: it only takes effect before the first table is created.
    names = sorted((k for k in merged if k.startswith("sqlite_")), key=lambda k: "vacuum" not in k)
    return {name.removeprefix("sqlite_"): merged[name] for name in names}


def connect_plain(path: Path) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection with DiskStore's pragmas, in autocommit mode."""
    con = sqlite3.connect(str(path), isolation_level=None)
    for name, value in sqlite_pragmas().items():
        con.execute(f"PRAGMA {name} = {value}")
    return con


def copy_store(source: Path, target: Path) -> Path:
    """A copy of a closed kit directory (both stores, checkpointed), for a destructive run."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return target


def cached(ctx: BenchContext, name: str, build: Callable[[Path], None]) -> Path:
    path = ctx.shared / name
    done = ctx.shared / f"{name}.done"
    if not done.exists():
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        build(path)
        done.touch()
    return path


def _consent_line(customer: int, status: str, at: datetime) -> dict[str, Any]:
    line: dict[str, Any] = {
        "kind": "consent",
        "subject": f"customer:c{customer}",
        "purpose": "personalization",
        "status": status,
        "source": "web",
        "at": at.isoformat(),
    }
    if status != "withdrawn":
        line |= NOTICE
    return line


def _answer(customer: int) -> str | None:
    """What a customer said about personalization: stable per customer."""
    draw = random.Random(customer).random()
    if draw < CONSENTING:
        return "given"
    return "refused" if draw < CONSENTING + 0.15 else None


def _event(rng: random.Random, customer: int, at: datetime) -> dict[str, Any]:
    draw = rng.random()
    item = f"sku-{rng.randrange(5000)}"
    category = f"cat{rng.randrange(40)}"
    line: dict[str, Any] = {"kind": "event", "subject": f"customer:c{customer}", "channel": "web"}
    if draw < 0.65:
        line |= {"name": "product_view", "properties": {"item": item, "category": category}}
    elif draw < 0.9:
        props = {"item": item, "quantity": 1 + rng.randrange(3), "price_cents": rng.randrange(9000)}
        line |= {"name": "add_to_cart", "properties": props}
    else:
        props = {"item": item, "category": category, "value_cents": 100 + rng.randrange(20000)}
        line |= {"name": "purchase", "channel": rng.choice(["web", "store"]), "properties": props}
    return line | {"at": at.isoformat()}


def _customer_lines(
    rng: random.Random, customer: int, known: int
) -> list[tuple[float, dict[str, Any]]]:
    first = rng.uniform(0, SPAN_S)
    out: list[tuple[float, dict[str, Any]]] = []
    answer = _answer(customer)
    if customer >= known and answer is not None:
        out.append((first, _consent_line(customer, answer, START + timedelta(seconds=first))))
    moment = first
    for _ in range(1 + rng.randrange(19)):
        moment += 1 + rng.expovariate(1 / 600)
        out.append((moment, _event(rng, customer, START + timedelta(seconds=moment))))
    if rng.random() < 0.1:
        traits = {"first_name": f"Name{customer % 997}", "city": f"City{customer % 89}"}
        line = {"kind": "traits", "subject": f"customer:c{customer}", "traits": traits}
        out.append((moment + 1, line | {"at": (START + timedelta(seconds=moment + 1)).isoformat()}))
    return out


def shop_lines(ctx: BenchContext) -> Path:
    """The shop's JSON lines file (10.8 lines per customer, time-ordered); built once."""

    def build(path: Path) -> None:
        rng = random.Random(2026)
        timed: list[tuple[float, dict[str, Any]]] = []
        known = ctx.customers // KNOWN_SHARE
        for customer in range(ctx.customers):
            timed.extend(_customer_lines(rng, customer, known))
        timed.sort(key=lambda pair: pair[0])
        with path.open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(line, separators=(",", ":")) + "\n" for _, line in timed)

    return cached(ctx, "shop.jsonl", build)


def known_store(ctx: BenchContext) -> Path:
    """A kit holding the known customers (the first 20%) and their answers; built once."""

    def build(path: Path) -> None:
        before = START - timedelta(days=30)
        lines = []
        known = ctx.customers // KNOWN_SHARE
        for customer in range(known):
            answer = _answer(customer)
            if answer is None:  # known from an order, never answered
                line: dict[str, Any] = {
                    "kind": "event",
                    "subject": f"customer:c{customer}",
                    "name": "purchase",
                    "channel": "store",
                    "properties": {"item": "sku-1", "value_cents": 450},
                    "at": before.isoformat(),
                }
            else:
                line = _consent_line(customer, answer, before)
            lines.append(json.dumps(line))
        with open_kit(ctx, path) as kit:
            ingest_all_and_scrub(kit, lines, "known-customer fixture")

    return cached(ctx, "known-store", build)
