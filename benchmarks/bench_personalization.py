"""Benchmark: deciding a placement, against the same SELECT the store_get figures use.

A rule set of 50 rules over 10 placements (every operator kind: affinity, aggregates,
context, segments, traits; one experiment) is loaded into the Rules component of a kit
opened on a copy of the shared read store (``bench_store.read_store``: ``ctx.customers``
subjects, each with a data key and one sealed 300-byte record ``s/<subject>/traits/main``).

Until the state half of personalization (aggregates, affinities, segments) is merged, a
subject's Facts are built from that sealed record read through the real vault: its bytes
stand for the subject's aggregates, affinities and segment memberships. So each timed call
is what a request pays: one vault read (AES-GCM open, the data key cached or not) + building
the Facts + the decision. Exposures are not recorded (that is a write, once per subject and
experiment); bucketing is.

* ``decide_us``: ``Rules.decide`` alone over prebuilt Facts (10 placements in turn).
* ``decide_us_cold`` / ``decide_us_warm``: vault read + Facts + decide, the subject's data
  key not cached (each subject read once, after ``keyring.forget_cached()``) / cached.
* ``decide_raw_get_us_cold`` / ``_warm``: DiskStore's SELECT of the same keys through plain
  ``sqlite3`` on a copy of the database (the ``store_get_ratio_*`` baseline).
* ``decide_ratio_cold`` / ``decide_ratio_warm`` = decide over raw: lower is better.
"""

from __future__ import annotations

import random
import shutil
import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from attrs import frozen

from _common import BenchContext, median_us
from _shop import connect_plain, open_kit
from bench_store import read_store
from personakit import Personakit
from personakit.personalization import MISSING, Rules
from personakit.storage._diskcache_compat import DB_NAME, SELECT_VALUE

TARGETS = {"decide_ratio_cold": ("<=", 3.0)}

NOW: Final = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PLACEMENTS: Final = [f"slot{i}" for i in range(10)]
WARM: Final = 2000
CONTEXTS: Final = [{"channel": "web", "page": "home"}, {"channel": "app", "page": "cart"}]


@frozen
class BytesFacts:
    """Facts derived from a subject's sealed record (stand-in for the state half's aggregates)."""

    now: datetime
    known: bool
    fields: Mapping[str, object]
    top: tuple[str, ...]
    segments: frozenset[str]

    def field(self, path: str) -> object:
        """The value at ``path`` or MISSING."""
        return self.fields.get(path, MISSING)

    def in_segment(self, name: str) -> bool:
        """Membership."""
        return name in self.segments

    def affinity_top(self, dimension: str, k: int) -> tuple[str, ...]:
        """The top ``k`` categories."""
        return self.top[:k] if dimension == "category" else ()

    def has_consent(self, purpose: str) -> bool:
        """Personalization only (the facts exist because it is allowed)."""
        return purpose == "personalization"


_DAYS_AGO: Final = [NOW - timedelta(days=d) for d in range(120)]
_HOURS_AGO: Final = [NOW - timedelta(hours=h) for h in range(256)]
_CITIES: Final = [f"City{i}" for i in range(89)]
_CATEGORIES: Final = [f"cat{i}" for i in range(40)]


def facts_of(record: bytes | None, context: Mapping[str, str]) -> BytesFacts:
    """Facts from the record's bytes: counts, amounts, dates, three top categories.

    What a decoded aggregates record would give (a dict of values), at a similar cost.
    """
    if record is None:
        return BytesFacts(now=NOW, known=False, fields={}, top=(), segments=frozenset())
    b = record
    fields: dict[str, object] = {
        "aggregates.order_count": b[0] % 12,
        "aggregates.cart_items": b[1] % 4,
        "aggregates.monetary_cents": int.from_bytes(b[2:5], "big") % 200_000,
        "aggregates.last_purchase_at": _DAYS_AGO[b[5] % 120],
        "aggregates.last_seen": _HOURS_AGO[b[6]],
        "traits.city": _CITIES[b[7] % 89],
        "context.channel": context["channel"],
        "context.page": context["page"],
    }
    top = (_CATEGORIES[b[8] % 40], _CATEGORIES[b[9] % 40], _CATEGORIES[b[10] % 40])
    segments = frozenset(name for name, byte in (("vip", b[11]), ("lapsed", b[12])) if byte < 40)
    return BytesFacts(now=NOW, known=True, fields=fields, top=top, segments=segments)


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
        lambda _i: {"all": [{"segment": "vip"}, {"not": {"field": "context.page", "eq": "cart"}}]},
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


def _rules(kit: Personakit) -> Rules:
    rules = Rules(
        manifest=kit.manifest,
        audit=kit.audit,
        keyring=kit.keyring,
        vault=kit.vault,
        allowed=kit.consent.allowed,
        subjects=kit.retention.subjects,
        segments={"vip": ["purchases"], "lapsed": ["purchases"]},
    )
    rules.load(rule_set())
    return rules


def _round(
    kit: Personakit,
    rules: Rules,
    raw: Any,
    cold: Sequence[str],
    warm: Sequence[str],
    *,
    r: int,
    n: _Sizes,
) -> dict[str, float]:
    vault = kit.vault
    out: dict[str, float] = {}

    def key(subject: str) -> str:
        return f"s/{subject}/traits/main"

    def decide(subject: str, i: int) -> object:
        facts = facts_of(vault.get(subject, "traits", "main"), CONTEXTS[i % 2])
        return rules.decide(facts, PLACEMENTS[i % 10], unit=subject)

    def timed(name: str, op: Callable[[int], object]) -> Callable[[], None]:
        return lambda: out.__setitem__(name, median_us(op, ops=n.ops, batches=n.batches))

    cold_decide = timed("decide_us_cold", lambda i: decide(cold[i], i))

    def forget_then_cold() -> None:
        kit.keyring.forget_cached()
        cold_decide()

    prebuilt = [
        facts_of(vault.get(s, "traits", "main"), CONTEXTS[i % 2]) for i, s in enumerate(warm[:512])
    ]
    pairs = [
        (
            timed(
                "decide_raw_get_us_cold",
                lambda i: raw.execute(SELECT_VALUE, (key(cold[i]),)).fetchall(),
            ),
            forget_then_cold,
        ),
        (
            timed(
                "decide_raw_get_us_warm",
                lambda i: raw.execute(SELECT_VALUE, (key(warm[i % 4096]),)).fetchall(),
            ),
            timed("decide_us_warm", lambda i: decide(warm[i % 4096], i)),
        ),
    ]
    for index, pair in enumerate(pairs):
        if index == 1:
            for subject in set(warm):  # cached again, whatever the cold reads evicted
                vault.get(subject, "traits", "main")
        for measure in pair if r % 2 == 0 else pair[::-1]:
            measure()
    out["decide_us"] = median_us(
        lambda i: rules.decide(prebuilt[i % 512], PLACEMENTS[i % 10], unit=warm[i % 512]),
        ops=n.ops,
        batches=n.batches,
    )
    return out


def figures(ctx: BenchContext) -> dict[str, float]:
    """Decide cold and warm against the raw SELECT; decide alone; see the module docstring."""
    sizes = _Sizes(ops=500, batches=3) if ctx.quick else _Sizes(ops=1000, batches=5)
    rounds = 3
    source = read_store(ctx)
    raw_db = ctx.workdir / "raw.db"
    shutil.copyfile(source / "data" / DB_NAME, raw_db)
    kit_dir = ctx.workdir / "kit"
    shutil.copytree(source, kit_dir)
    con = connect_plain(kit_dir / "data" / DB_NAME)
    subjects = [
        k.removeprefix("i/bench/")
        for (k,) in con.execute(
            "SELECT key FROM Cache WHERE key >= 'i/bench/' AND key < 'i/bench0'"
        )
    ]
    con.close()
    rng = random.Random(13)
    rng.shuffle(subjects)
    per_round = sizes.ops * (sizes.batches + 1)
    cold, warm_pool = subjects[WARM:], subjects[:WARM]
    warm = [warm_pool[rng.randrange(WARM)] for _ in range(4096)]
    raw = connect_plain(raw_db)
    result: dict[str, list[float]] = {}
    with open_kit(ctx, kit_dir) as kit:
        rules = _rules(kit)
        for r in range(rounds):  # interleaved, so drift on a noisy machine hits both alike
            span = cold[r * per_round : (r + 1) * per_round]
            for name, value in _round(kit, rules, raw, span, warm, r=r, n=sizes).items():
                result.setdefault(name, []).append(value)
    raw.close()
    out = {name: statistics.median(values) for name, values in result.items()}
    out["decide_ratio_cold"] = out["decide_us_cold"] / out["decide_raw_get_us_cold"]
    out["decide_ratio_warm"] = out["decide_us_warm"] / out["decide_raw_get_us_warm"]
    out["decide_rules"] = 50.0
    return out
