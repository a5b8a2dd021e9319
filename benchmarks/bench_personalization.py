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
* ``decide_vault_get_us_cold`` / ``_warm`` and ``decide_vault_get_ratio_cold``
  (informational): the vault read alone (other subjects, same conditions), so the share of
  the ratio that is the read (the ``store_get`` figure) and the share that is Facts + decide
  can be told apart on a noisy machine.
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
from personakit.personalization import MISSING, Facts, Rules
from personakit.storage._diskcache_compat import DB_NAME, SELECT_VALUE

TARGETS = {"decide_ratio_cold": ("<=", 3.0)}

NOW: Final = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PLACEMENTS: Final = [f"slot{i}" for i in range(10)]
WARM: Final = 2000
CONTEXTS: Final = [{"channel": "web", "page": "home"}, {"channel": "app", "page": "cart"}]


_DAYS_AGO: Final = [NOW - timedelta(days=d) for d in range(120)]
_HOURS_AGO: Final = [NOW - timedelta(hours=h) for h in range(256)]
_CITIES: Final = [f"City{i}" for i in range(89)]
_CATEGORIES: Final = [f"cat{i}" for i in range(40)]
# What each aggregate / trait is, read from the record's bytes when a rule asks for it.
_FIELDS: Final[dict[str, Callable[[bytes], object]]] = {
    "aggregates.order_count": lambda b: b[0] % 12,
    "aggregates.cart_items": lambda b: b[1] % 4,
    "aggregates.monetary_cents": lambda b: int.from_bytes(b[2:5], "big") % 200_000,
    "aggregates.last_purchase_at": lambda b: _DAYS_AGO[b[5] % 120],
    "aggregates.last_seen": lambda b: _HOURS_AGO[b[6]],
    "traits.city": lambda b: _CITIES[b[7] % 89],
}


class BytesFacts:
    """Facts from a subject's sealed record (stand-in for the state half's aggregates).

    Fields are computed from the record's bytes when read, as a decoded aggregates record
    would be looked up: counts, amounts, dates, a city, three top categories, two segments.
    """

    __slots__ = ("context", "record")
    now: Final = NOW
    known: Final = True

    def __init__(self, record: bytes, context: Mapping[str, str]) -> None:
        """Wrap the record's plaintext and the request context."""
        self.record = record
        self.context = context

    def field(self, path: str) -> object:
        """The value at ``path`` or MISSING."""
        if path.startswith("context."):
            return self.context.get(path[8:], MISSING)
        read = _FIELDS.get(path)
        return MISSING if read is None else read(self.record)

    def in_segment(self, name: str) -> bool:
        """``vip`` and ``lapsed``, one byte each."""
        byte = 11 if name == "vip" else 12
        return self.record[byte] < 40

    def affinity_top(self, dimension: str, k: int) -> tuple[str, ...]:
        """The top ``k`` categories."""
        if dimension != "category":
            return ()
        b = self.record
        return (_CATEGORIES[b[8] % 40], _CATEGORIES[b[9] % 40], _CATEGORIES[b[10] % 40])[:k]

    def has_consent(self, purpose: str) -> bool:
        """Personalization only (the facts exist because it is allowed)."""
        return purpose == "personalization"


def facts_of(record: bytes | None, context: Mapping[str, str]) -> Facts:
    """The subject's Facts, or an unknown subject's when it has no record."""
    return UNKNOWN if record is None else BytesFacts(record, context)


class _Unknown:
    __slots__ = ()
    now: Final = NOW
    known: Final = False

    def field(self, _path: str) -> object:
        return MISSING

    def in_segment(self, _name: str) -> bool:
        return False

    def affinity_top(self, _dimension: str, _k: int) -> tuple[str, ...]:
        return ()

    def has_consent(self, _purpose: str) -> bool:
        return False


UNKNOWN: Final = _Unknown()


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
    half = len(cold) // 2
    cold_get = timed(
        "decide_vault_get_us_cold", lambda i: vault.get(cold[half + i], "traits", "main")
    )

    def forget_then_cold() -> None:
        kit.keyring.forget_cached()
        cold_decide()

    def forget_then_cold_get() -> None:
        kit.keyring.forget_cached()
        cold_get()

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
            forget_then_cold_get,
        ),
        (
            timed(
                "decide_raw_get_us_warm",
                lambda i: raw.execute(SELECT_VALUE, (key(warm[i % 4096]),)).fetchall(),
            ),
            timed("decide_us_warm", lambda i: decide(warm[i % 4096], i)),
            timed(
                "decide_vault_get_us_warm", lambda i: vault.get(warm[i % 4096], "traits", "main")
            ),
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
    sizes = _Sizes(ops=300, batches=3) if ctx.quick else _Sizes(ops=1000, batches=5)
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
    per_round = 2 * sizes.ops * (sizes.batches + 1)  # decide and vault.get read their own
    # As many rounds as the shop has unread subjects for (up to 5): a subject read twice would
    # be warm in SQLite's page cache on the baseline side, and the ratio would lie.
    rounds = max(1, min(5, (len(subjects) - WARM) // per_round))
    cold, warm_pool = subjects[WARM:], subjects[:WARM]
    warm = [warm_pool[rng.randrange(WARM)] for _ in range(4096)]
    raw = connect_plain(raw_db)
    result: dict[str, list[float]] = {}
    with open_kit(ctx, kit_dir) as kit:
        rules = _rules(kit)
        for r in range(rounds):  # interleaved, so drift on a noisy machine hits both alike
            span = cold[r * per_round : (r + 1) * per_round]  # subjects never read before
            for name, value in _round(kit, rules, raw, span, warm, r=r, n=sizes).items():
                result.setdefault(name, []).append(value)
    raw.close()
    out = {name: statistics.median(values) for name, values in result.items()}
    out["decide_ratio_cold"] = out["decide_us_cold"] / out["decide_raw_get_us_cold"]
    out["decide_ratio_warm"] = out["decide_us_warm"] / out["decide_raw_get_us_warm"]
    # The vault read alone, over the same baseline: what of the ratio is the read itself.
    out["decide_vault_get_ratio_cold"] = (
        out["decide_vault_get_us_cold"] / out["decide_raw_get_us_cold"]
    )
    out["decide_rules"] = 50.0
    return out
