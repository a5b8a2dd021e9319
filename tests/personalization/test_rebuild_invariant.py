"""Property: the state kept on ingest equals a rebuild from the remaining consented data.

Any interleaving of single events (``track``), bulk lines (``ingest``, in any time order),
links that merge two subjects, grants, withdrawals, restrictions and erasures, with the clock
moving: afterwards every subject's aggregates equal a replay of its stored personalization
events in time order, and after ``refresh(now)`` the membership index holds exactly the
segments each subject whose data may be used is in at ``now``, and nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _shared import PRIVACY
from personakit import FixedClock, LocalKeyProvider, Personakit, generate_master_key
from personakit.exceptions import SubjectNotFound
from personakit.personalization import PersonalizationConfig, RfmThresholds
from personakit.personalization._index import INDEX_PREFIX
from personakit.personalization._state import SubjectState
from personakit.workflows import SegmentChange

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PEOPLE = ("customer:a", "customer:b", "email:c@shop.example")
ANON = ("anon:x", "anon:y")
CONFIG = PersonalizationConfig(
    half_life_days=7.0,
    rfm=RfmThresholds(
        recency_days=(7, 30, 90, 180),
        frequency=(1, 2, 3, 5),
        monetary_cents=(500, 1000, 2000, 5000),
    ),
    enthusiast_categories=("bread", "cake"),
    enthusiast_min_score=2.0,
    recent_items=3,
    dimensions=("flavour",),
)

_items = st.sampled_from(["rye", "sourdough", "eclair", "tart"])
_props = st.fixed_dictionaries(
    {"item": _items},
    optional={
        "category": st.sampled_from(["bread", "cake"]),
        "brand": st.sampled_from(["north", "south"]),
        "tags": st.lists(st.sampled_from(["vegan", "local"]), max_size=2),
        "price_cents": st.integers(0, 900),
        "quantity": st.integers(1, 3),
        "flavour": st.sampled_from(["plain", "choc"]),
    },
)
_purchase = st.fixed_dictionaries(
    {"item": _items},
    optional={
        "category": st.sampled_from(["bread", "cake"]),
        "value_cents": st.integers(0, 3000),
        "items": st.lists(
            st.fixed_dictionaries(
                {"item": _items},
                optional={
                    "category": st.sampled_from(["bread", "cake"]),
                    "price_cents": st.integers(0, 500),
                },
            ),
            min_size=1,
            max_size=2,
        ),
    },
)
_event = st.one_of(
    st.tuples(st.sampled_from(["product_view", "add_to_cart", "remove_from_cart"]), _props),
    st.tuples(st.just("purchase"), _purchase),
    st.tuples(st.just("page_view"), st.just({"url": "/"})),
)
_who = st.sampled_from(PEOPLE + ANON)
_offset = st.integers(-40 * 24, 2 * 24)  # hours around the clock: history and near future

OPS = st.one_of(
    st.tuples(st.just("track"), _who, _event, _offset),
    st.tuples(
        st.just("ingest"), st.lists(st.tuples(_who, _event, _offset), min_size=1, max_size=5)
    ),
    st.tuples(st.just("grant"), _who),
    st.tuples(st.just("withdraw"), _who),
    st.tuples(st.just("restrict"), _who),
    st.tuples(st.just("lift"), _who),
    st.tuples(st.just("link"), st.sampled_from(ANON), st.sampled_from(PEOPLE)),
    st.tuples(st.just("erase"), _who),
    st.tuples(st.just("advance"), st.integers(1, 60 * 24)),  # minutes to 60 days, in hours
)


def _apply(kit: Personakit, clock: FixedClock, op: tuple[Any, ...]) -> None:
    name = op[0]
    if name == "track":
        _, who, (kind, props), hours = op
        at = clock.now() + timedelta(hours=hours)
        kit.track(who, kind, channel="web", properties=props, at=at)
    elif name == "ingest":
        lines = [
            {
                "kind": "event",
                "subject": who,
                "name": kind,
                "channel": "web",
                "properties": props,
                "at": (clock.now() + timedelta(hours=hours)).isoformat(),
            }
            for who, (kind, props), hours in op[1]
        ]
        summary = kit.ingest(lines, batch_size=3)
        assert summary.rejected == 0, summary.to_json()
    elif name == "link":
        kit.link(op[1], op[2])
    elif name == "advance":
        clock.advance(timedelta(hours=op[1]))
    else:
        subject = kit.identity.lookup(op[1])
        if subject is None:
            if name != "grant":
                return
            subject = kit.identity.resolve(op[1], create=True)
        if name == "grant":
            kit.consent.grant(subject, ["personalization", "analytics"], **PRIVACY)
        elif name == "withdraw":
            kit.consent.withdraw(subject, "personalization", source="web")
        elif name == "restrict":
            kit.rights.restrict(subject)
        elif name == "lift":
            kit.rights.lift_restriction(subject)
        else:
            kit.rights.erase(subject, reason="property test")


def _expected(kit: Personakit, subject: str) -> SubjectState:
    keeper = kit.personalization.keeper
    return keeper.replay(kit.events.read(subject))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    granted=st.sets(st.sampled_from(PEOPLE + ANON), min_size=1),
    ops=st.lists(OPS, min_size=1, max_size=14),
)
def test_aggregates_and_memberships_equal_a_rebuild(
    granted: set[str], ops: list[tuple[Any, ...]]
) -> None:
    """After any interleaving, state == replay of consented events; index == memberships."""
    clock = FixedClock(START)
    kit = Personakit.open(
        "memory:", keys=LocalKeyProvider(generate_master_key()), clock=clock, personalization=CONFIG
    )
    changes: list[SegmentChange] = []
    kit.registries.hooks.on_segment_change("probe", changes.append)
    with kit:
        for who in sorted(granted):
            _apply(kit, clock, ("grant", who))
        for op in ops:
            _apply(kit, clock, op)
        keeper = kit.personalization.keeper
        live = set(kit.retention.subjects())
        for subject in live:
            try:
                kept = keeper.load(subject)
            except SubjectNotFound:
                continue
            expected = _expected(kit, subject)
            if expected.empty:
                assert kept is None or kept.empty, "state without consented events"
            else:
                assert kept is not None
                assert kept.same_aggregates(expected)
        now = clock.now()
        kit.personalization.refresh(now)
        wanted: set[tuple[str, str]] = set()
        for subject in live:
            if not kit.identity.exists(subject) or not keeper.allowed(subject):
                continue
            state = keeper.load(subject) or SubjectState()
            expected = _expected(kit, subject)
            expected.segments = state.segments
            names = keeper.memberships(subject, expected, now, known=True)
            assert names == state.segments
            assert names == kit.personalization.segments_of(subject, now)
            wanted.update((name, subject) for name in names)
        indexed = {
            tuple(key[len(INDEX_PREFIX) :].split("/", 1)) for key, _ in kit.store.scan(INDEX_PREFIX)
        }
        assert indexed == wanted
        for name in kit.personalization.sizes():
            assert kit.personalization.members(name) == sorted(s for n, s in wanted if n == name)
        # Every change reported, in order, replays to the index (entered / left alternate).
        replayed: set[tuple[str, str]] = set()
        for change in changes:
            pair = (change.segment, change.subject)
            if change.change == "entered":
                assert pair not in replayed
                replayed.add(pair)
            else:
                replayed.discard(pair)
        erased_or_merged = {
            pair for pair in replayed if pair[1] not in live or not kit.identity.exists(pair[1])
        }
        assert replayed - erased_or_merged == indexed
