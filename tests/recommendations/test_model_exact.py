"""Property: the shared item model always equals a rebuild from the remaining consented data.

Any interleaving of ingest (purchases, cart additions, views, with or without consent),
consent, withdrawal, objection, erasure, restriction (and lifting it) and links leaves the stored rows exactly equal to the
sum of the contributions of the subjects who still have a basis, computed from their stored
events; and a subject without consent gets exactly the answer an unknown subject gets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _rec_worker import rebuilt
from personakit import Personakit, testing
from personakit.recommendations._shared import load_rows

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "web"}
START = datetime(2026, 1, 1, tzinfo=UTC)
CUSTOMERS = 4
ITEMS = [f"item-{n}" for n in range(5)]
KINDS = ("purchase", "add_to_cart", "product_view")

track = st.tuples(
    st.just("track"),
    st.integers(0, CUSTOMERS - 1),
    st.sampled_from(KINDS),
    st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3),
)
act = st.tuples(
    st.sampled_from(
        [
            "grant",
            "withdraw",
            "object",
            "erase",
            "link",
            "anon_track",
            "anon_grant",
            "restrict",
            "lift",
            "consent_restrict",
            "consent_lift",
        ]
    ),
    st.integers(0, CUSTOMERS - 1),
)
OPS = st.lists(st.one_of(track, track, act), min_size=1, max_size=25)


def _track(kit: Personakit, ident: str, kind: str, items: list[str], at: datetime) -> None:
    props: dict[str, Any] = {"item": items[0]}
    if kind == "purchase" and len(items) > 1:
        props = {"items": [{"item": i} for i in items]}
    kit.track(ident, kind, channel="web", properties=props, at=at)


def _visitor(kit: Personakit, op: tuple[Any, ...], at: datetime) -> None:
    if op[0] == "anon_track":
        _track(kit, f"anon:a{op[1]}", "product_view", ITEMS[op[1] % len(ITEMS)], at)
        return
    # a visitor's own grant, carried over by a later link
    visitor = kit.identity.resolve(f"anon:a{op[1]}", create=True)
    kit.consent.grant(visitor, ["personalization"], **NOTICE)


def _apply(kit: Personakit, op: tuple[Any, ...], step: int) -> None:
    at = START + timedelta(hours=step * 7)
    ident = f"customer:c{op[1]}"
    if op[0] == "track":
        _track(kit, ident, op[2], op[3], at)
        return
    if op[0] in {"anon_track", "anon_grant"}:
        _visitor(kit, op, at)
        return
    if op[0] == "link":
        kit.link(f"anon:a{op[1]}", ident)
        return
    subject = kit.identity.lookup(ident)
    if subject is None:
        return
    if op[0] == "grant":
        kit.consent.grant(subject, ["personalization"], **NOTICE)
    elif op[0] == "withdraw":
        kit.consent.withdraw(subject, "personalization", source="web")
    elif op[0] == "object":
        kit.rights.object(subject, "personalization", source="api")
    elif op[0] == "restrict":
        kit.rights.restrict(subject, source="api")
    elif op[0] == "lift":
        kit.rights.lift_restriction(subject, source="api")
    elif op[0] == "consent_restrict":  # the base feature directly, below kit.rights
        kit.consent.restrict(subject, source="api")
    elif op[0] == "consent_lift":
        kit.consent.lift_restriction(subject, source="api")
    else:
        kit.rights.erase(subject)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ops=OPS)
def test_the_model_equals_a_rebuild_from_the_remaining_consented_data(
    ops: list[tuple[Any, ...]],
) -> None:
    kit, _ = testing.memory_kit()
    with kit:
        for step, op in enumerate(ops):
            _apply(kit, op, step)
            assert load_rows(kit.store) == rebuilt(kit), (step, op)
        before = load_rows(kit.store)
        kit.recommend.rebuild()
        assert load_rows(kit.store) == before


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, k=st.integers(1, 8))
def test_a_subject_without_consent_gets_the_unknown_subjects_answer(
    ops: list[tuple[Any, ...]], k: int
) -> None:
    kit, _ = testing.memory_kit()
    with kit:
        for step, op in enumerate(ops):
            _apply(kit, op, step)
        kit.recommend.params = kit.recommend.params.__class__(min_support=1)
        unknown = kit.recommend.recommend("sub_" + "a" * 26, k)
        for n in range(CUSTOMERS):
            subject = kit.identity.lookup(f"customer:c{n}")
            if subject is None:
                continue
            answer = kit.recommend.recommend(subject, k)
            if not kit.basis.purposes_with_basis(subject, ("personalization",)):
                assert answer == unknown
                assert not answer.personalized


def test_what_the_sweep_took_out_a_rebuild_does_not_bring_back() -> None:
    kit, clock = testing.memory_kit()
    with kit:
        subject = kit.identity.resolve("customer:1", create=True)
        kit.consent.grant(subject, ["personalization"], **NOTICE)
        kit.track("customer:1", "purchase", channel="web", properties={"item": "a"})
        clock.advance(timedelta(days=800))
        kit.consent.grant(subject, ["personalization"], **NOTICE)  # renewed: consents expire
        kit.track("customer:1", "purchase", channel="web", properties={"item": "b"})
        kit.retention.sweep(clock.now())
        # the first purchase stays (kept 10 years for the order), but not in the model
        assert len(kit.events.read(subject)) == 2
        swept = load_rows(kit.store)
        assert set(swept) == {"b"}
        kit.recommend.rebuild()
        assert load_rows(kit.store) == swept


def test_a_restricted_customer_leaves_the_model_and_returns_when_it_is_lifted() -> None:
    kit, _ = testing.memory_kit()
    with kit:
        for n in range(2):
            subject = kit.identity.resolve(f"customer:{n}", create=True)
            kit.consent.grant(subject, ["personalization"], **NOTICE)
            props = {"items": [{"item": "a"}, {"item": f"b{n}"}]}
            kit.track(f"customer:{n}", "purchase", channel="web", properties=props)
        both = load_rows(kit.store)
        restricted = kit.identity.lookup("customer:0")
        assert restricted is not None
        kit.rights.restrict(restricted, source="api")
        assert set(load_rows(kit.store)) == {"a", "b1"}
        assert load_rows(kit.store) == rebuilt(kit)
        kit.rights.lift_restriction(restricted, source="api")
        assert load_rows(kit.store) == both == rebuilt(kit)


def test_a_visitor_merged_into_a_restricted_customer_stays_out_of_the_model() -> None:
    """The merge hook must not add a contribution to a restricted customer."""
    kit, _ = testing.memory_kit()
    with kit:
        anon = kit.identity.resolve("anon:a1", create=True)
        kit.consent.grant(anon, ["personalization"], **NOTICE)
        _track(kit, "anon:a1", "purchase", ["item-1", "item-2"], START)
        customer = kit.identity.resolve("customer:c1", create=True)
        kit.consent.grant(customer, ["personalization"], **NOTICE)
        _track(kit, "customer:c1", "purchase", ["item-1", "item-3"], START)
        kit.consent.restrict(customer, source="api")
        kit.link("anon:a1", "customer:c1")
        assert load_rows(kit.store) == rebuilt(kit)
        kit.consent.lift_restriction(customer, source="api")
        assert load_rows(kit.store) == rebuilt(kit)
