"""Benchmark: ``kit.personalization.decide`` over real aggregates, against a plain SELECT.

The shop fixture (``_shop.py``: ``ctx.customers`` customers, 10.8 lines each) is ingested
once, with personalization on (the default), into a copy of the known-customer store: every
consenting customer has real aggregates, affinities and lifecycle state, sealed in the vault.
A rule set of 50 rules over 10 placements (every operator kind: affinity, aggregates, context,
built-in segments, traits; one experiment) is loaded through ``kit.personalization.load_rules``.
Subjects are the consenting customers' pseudonyms; each timed call is what a request pays:
``kit.personalization.decide(subject, placement)``: one store read for the pseudonym's
existence, the consent verdict and the aggregates record (plus the traits record for the
placements whose rules read a trait), then the Facts and the decision.
Exposures are recorded as ``decide`` does in production: when the experiment's rule
matches, once per subject and experiment (a sealed write with its fsync, about 5% of the cold
calls; the medians are not moved by them).

* ``decide_us_cold`` / ``decide_us_warm``: ``kit.personalization.decide``, the subject's data
  key not cached (each subject decided once, after ``keyring.forget_cached()``) / cached.
* ``decide_us``: the same as ``decide_us_warm`` (the full call, warm): the figure the issue
  names. ``decide_rules_us`` (informational): ``Rules.decide`` alone over prebuilt Facts.
* ``decide_raw_get_us_cold`` / ``_warm``: DiskStore's SELECT of the subjects' aggregates
  records through plain ``sqlite3`` on a copy of the database (the ``store_get`` baseline).
* ``decide_ratio_cold`` / ``decide_ratio_warm`` = decide over raw: lower is better.
* ``decide_vault_get_us_cold`` / ``_warm`` and ``decide_vault_get_ratio_cold``
  (informational): the vault read of the aggregates record alone (other subjects, same
  conditions), so the share of the ratio that is the read can be told apart.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from attrs import frozen

from _common import BenchContext, median_us
from _shop import (
    cached,
    connect_plain,
    copy_store,
    known_store,
    open_kit,
    shop_lines,
)
from personakit import Personakit
from personakit._vault import Vault
from personakit.storage._diskcache_compat import DB_NAME, SELECT_VALUE

TARGETS = {"decide_ratio_cold": ("<=", 3.0)}

NOW: Final = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
PLACEMENTS: Final = [f"slot{i}" for i in range(10)]
WARM: Final = 2000
CONTEXTS: Final = [{"channel": "web", "page": "home"}, {"channel": "app", "page": "cart"}]
_KIND: Final = "aggregates"
_NAME: Final = "state"


def rule_set() -> dict[str, Any]:
    """50 rules over 10 placements, five kinds per placement, one experiment."""
    kinds: list[Callable[[int], dict[str, Any]]] = [
        lambda i: {"affinity_top": {"dimension": "category", "value": f"cat{i * 3}", "k": 2}},
        lambda i: {
            "all": [
                {"field": "aggregates.cart_items", "gt": i % 2},
                {"field": "context.channel", "eq": "web"},
            ]
        },
        lambda i: {
            "any": [
                {"field": "aggregates.order_count", "gte": 8 + i % 3},
                {"field": "aggregates.last_purchase_at", "within_days": 3},
            ]
        },
        lambda _i: {
            "all": [
                {"segment": "lifecycle.active"},
                {"not": {"field": "context.page", "eq": "cart"}},
            ]
        },
        lambda i: {"field": "traits.city", "in": [f"City{i}", f"City{i + 10}", f"City{i + 20}"]},
    ]
    rules = [
        {
            "id": f"r{p}-{k}",
            "placement": placement,
            "priority": 10 * (5 - k),
            "when": kind(p),
            "then": {"content": f"{placement}-c{k}"},
            **({"experiment": "banner-test"} if k == 0 else {}),
        }
        for p, placement in enumerate(PLACEMENTS)
        for k, kind in enumerate(kinds)
    ]
    return {
        "placements": {p: {"default": {"content": f"{p}-default"}} for p in PLACEMENTS},
        "experiments": [
            {
                "id": "banner-test",
                "holdout": 0.1,
                "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}],
            }
        ],
        "rules": rules,
    }


@frozen
class _Sizes:
    ops: int
    batches: int


def shop_store(ctx: BenchContext) -> Path:
    """The shop ingested with personalization on, into the known-customer store; built once."""

    def build(path: Path) -> None:
        copy_store(known_store(ctx), path)
        lines = shop_lines(ctx).read_text(encoding="utf-8").splitlines()
        with open_kit(ctx, path) as kit:
            summary = kit.ingest(lines)
            # Lines of customers who did not consent are dropped (no basis): expected.
            if summary.rejected or summary.errors:
                msg = f"the shop was not ingested: {summary.to_json()}"
                raise RuntimeError(msg)
            kit.store.scrub()
            kit.key_store.scrub()

    return cached(ctx, "shop-personalized", build)


def _consenting(kit: Personakit, customers: int) -> list[str]:
    """The pseudonyms of the customers whose data personalization may use (with a state)."""
    out = []
    for customer in range(customers):
        subject = kit.identity.lookup(f"customer:c{customer}")
        if subject is not None and kit.vault.get(subject, _KIND, _NAME) is not None:
            out.append(subject)
    return out


def _round(
    kit: Personakit,
    raw: Any,
    cold: Sequence[str],
    warm: Sequence[str],
    *,
    r: int,
    n: _Sizes,
) -> dict[str, float]:
    vault: Vault = kit.vault
    service = kit.personalization
    out: dict[str, float] = {}
    key = Vault.key

    def decide(subject: str, i: int) -> object:
        return service.decide(subject, PLACEMENTS[i % 10], CONTEXTS[i % 2], now=NOW)

    def timed(name: str, op: Callable[[int], object]) -> Callable[[], None]:
        return lambda: out.__setitem__(name, median_us(op, ops=n.ops, batches=n.batches))

    cold_decide = timed("decide_us_cold", lambda i: decide(cold[i], i))
    half = len(cold) // 2
    cold_get = timed("decide_vault_get_us_cold", lambda i: vault.get(cold[half + i], _KIND, _NAME))

    def forget_then_cold() -> None:
        kit.keyring.forget_cached()
        cold_decide()

    def forget_then_cold_get() -> None:
        kit.keyring.forget_cached()
        cold_get()

    prebuilt = [service.facts(s, CONTEXTS[i % 2], NOW) for i, s in enumerate(warm[:512])]
    pairs = [
        (
            timed(
                "decide_raw_get_us_cold",
                lambda i: raw.execute(SELECT_VALUE, (key(cold[i], _KIND, _NAME),)).fetchall(),
            ),
            forget_then_cold,
            forget_then_cold_get,
        ),
        (
            timed(
                "decide_raw_get_us_warm",
                lambda i: raw.execute(
                    SELECT_VALUE, (key(warm[i % 4096], _KIND, _NAME),)
                ).fetchall(),
            ),
            timed("decide_us_warm", lambda i: decide(warm[i % 4096], i)),
            timed("decide_vault_get_us_warm", lambda i: vault.get(warm[i % 4096], _KIND, _NAME)),
        ),
    ]
    for index, pair in enumerate(pairs):
        if index == 1:
            for subject in set(warm):  # cached again, whatever the cold reads evicted
                vault.get(subject, _KIND, _NAME)
        for measure in pair if r % 2 == 0 else pair[::-1]:
            measure()
    rules = service.rules
    out["decide_rules_us"] = median_us(
        lambda i: rules.decide(prebuilt[i % 512], PLACEMENTS[i % 10]),
        ops=n.ops,
        batches=n.batches,
    )
    return out


def figures(ctx: BenchContext) -> dict[str, float]:
    """Decide cold and warm against the raw SELECT; see the module docstring."""
    sizes = _Sizes(ops=300, batches=3) if ctx.quick else _Sizes(ops=1000, batches=5)
    source = shop_store(ctx)
    raw_db = ctx.workdir / "raw.db"
    shutil.copyfile(source / "data" / DB_NAME, raw_db)
    kit_dir = ctx.workdir / "kit"
    shutil.copytree(source, kit_dir)
    raw = connect_plain(raw_db)
    result: dict[str, list[float]] = {}
    with open_kit(ctx, kit_dir) as kit:
        subjects = _consenting(kit, ctx.customers)
        kit.keyring.forget_cached()
        rng = random.Random(13)
        rng.shuffle(subjects)
        per_round = 2 * sizes.ops * (sizes.batches + 1)  # decide and vault.get read their own
        # As many rounds as the shop has unread subjects for (up to 5): a subject read twice
        # would be warm in SQLite's page cache on the baseline side, and the ratio would lie.
        rounds = max(1, min(5, (len(subjects) - WARM) // per_round))
        cold, warm_pool = subjects[WARM:], subjects[:WARM]
        warm = [warm_pool[rng.randrange(WARM)] for _ in range(4096)]
        kit.personalization.load_rules(rule_set(), actor="bench")
        for r in range(rounds):  # interleaved, so drift on a noisy machine hits both alike
            span = cold[r * per_round : (r + 1) * per_round]  # subjects never read before
            for name, value in _round(kit, raw, span, warm, r=r, n=sizes).items():
                result.setdefault(name, []).append(value)
        decided = {kit.personalization.decide(s, "slot0", CONTEXTS[0], now=NOW).rule for s in warm}
    raw.close()
    out = {name: statistics.median(values) for name, values in result.items()}
    out["decide_us"] = out["decide_us_warm"]
    out["decide_ratio_cold"] = out["decide_us_cold"] / out["decide_raw_get_us_cold"]
    out["decide_ratio_warm"] = out["decide_us_warm"] / out["decide_raw_get_us_warm"]
    out["decide_vault_get_ratio_cold"] = (
        out["decide_vault_get_us_cold"] / out["decide_raw_get_us_cold"]
    )
    out["decide_rules"] = 50.0
    out["decide_subjects"] = float(len(subjects))
    # Not a figure: the decisions must be real ones (several rules of slot0 match someone).
    ctx.notes.append(
        f"personalization: slot0 rules that decided: {json.dumps(sorted(map(str, decided)))}"
    )
    return out
