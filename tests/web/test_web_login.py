"""Logging a visitor in: the anonymous subject joins the account, and the old cookie dies.

Properties: any visit / user gives a :class:`Login` or a typed error and a refused login
writes nothing; for any order of anonymous and account consent acts, the account ends with
the ledger's rule (the later act per purpose wins, a refusal beats a grant of the same
instant), ``widened`` names exactly the purposes the account gained, the visitor's events
moved, and the old cookie value names nobody afterwards.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personakit import testing
from personakit.exceptions import PersonakitError
from personakit.web import Login, WebFront
from test_api_totality import ANYTHING

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "web"}
PURPOSES = ("personalization", "analytics")
SLOW_OK = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
_serial = itertools.count()


@pytest.fixture(scope="module")
def kit_clock():
    made, clock = testing.memory_kit()
    with made:
        yield made, clock


@pytest.fixture(scope="module")
def web(kit_clock):
    return WebFront(kit_clock[0])


def _snapshot(kit: Any) -> tuple[dict[str, bytes], dict[str, bytes]]:
    return dict(kit.store.scan("")), dict(kit.key_store.scan(""))


@settings(SLOW_OK, max_examples=80)
@given(
    visit=st.one_of(st.just("anon"), st.just("logged-in"), ANYTHING),
    user=st.one_of(st.sampled_from(["customer:ok", "anon:x", "customer:", "nope"]), ANYTHING),
)
def test_login_takes_any_visit_and_user(kit_clock, web, visit: Any, user: Any) -> None:
    """Any visit / user: a Login, or a typed error and nothing written."""
    kit, _ = kit_clock
    if visit == "anon":
        visit = web.visit()
        visit.subject  # noqa: B018 (an anonymous visitor with a subject: the link has work)
    elif visit == "logged-in":
        visit = web.visit(user="customer:someone")
    before = _snapshot(kit)
    try:
        done = web.login(visit, user)
    except PersonakitError:
        assert _snapshot(kit) == before
        return
    assert isinstance(done, Login)
    assert done.visit.authenticated
    assert done.visit.set_cookie is not None


ACTS = st.lists(
    st.tuples(
        st.sampled_from(["anon", "account"]),
        st.sampled_from(PURPOSES),
        st.booleans(),
        st.integers(0, 2),  # minutes after the previous act (0: the same instant)
    ),
    max_size=6,
)


@settings(SLOW_OK, max_examples=60)
@given(acts=ACTS, account_exists=st.booleans(), events=st.integers(0, 3))
def test_login_merges_by_the_ledger_rule_and_reports_what_widened(
    kit_clock, web, acts, account_exists: bool, events: int
) -> None:
    """The later act per purpose wins (refusal first at a tie); widened = what the account gained."""
    kit, clock = kit_clock
    account = f"customer:c{next(_serial)}"
    visit = web.visit()
    anon = visit.subject
    old_cookie = visit.set_cookie
    assert old_cookie is not None
    if account_exists or any(who == "account" for who, *_ in acts):
        kit.identity.resolve(account, create=True)
    expected: dict[str, tuple[Any, bool]] = {}
    previous = None
    for who, purpose, given_, minutes in acts:
        # Same-instant acts only across the two subjects: within one ledger, order decides.
        clock.advance(timedelta(minutes=max(minutes, 1 if who == previous else 0)))
        previous = who
        subject = anon if who == "anon" else kit.identity.lookup(account)
        (kit.consent.grant if given_ else kit.consent.refuse)(subject, purpose, **PRIVACY)
        at = clock.now()
        seen = expected.get(purpose)
        # The ledger's rule: a later act wins; at the same instant, a refusal wins.
        if seen is None or at > seen[0] or (at == seen[0] and not given_):
            expected[purpose] = (at, given_)
    for n in range(events):
        kit.track(visit.identifier, "page_view", channel="web", properties={"url": f"/{n}"})
    target = kit.identity.lookup(account)
    held = kit.events.count(anon) + (0 if target is None else kit.events.count(target))
    before = (
        set()
        if target is None
        else {p for p, ok in kit.consent.allowed_many(target, PURPOSES).items() if ok}
    )
    clock.advance(timedelta(minutes=1))

    done = web.login(visit, account)

    subject = kit.identity.lookup(account)
    assert subject is not None
    assert done.linked is not None
    assert done.visit.identifier == account
    assert done.visit.authenticated
    allowed = kit.consent.allowed_many(subject, PURPOSES)
    for purpose in PURPOSES:
        assert allowed[purpose] == (purpose in expected and expected[purpose][1])
    assert set(done.widened) == {p for p, ok in allowed.items() if ok} - before
    # Nothing is lost that the merged consent allows, nothing kept that it denies.
    kept = kit.events.read(subject)
    assert all(allowed.get(p, True) for e in kept for p in e.purposes)
    if all(allowed.values()):
        assert len(kept) == held
    # The old cookie names nobody now, and the new one is a different token.
    again = web.visit(cookies={old_cookie.name: old_cookie.value})
    assert again.existing_subject() is None
    assert done.visit.set_cookie is not None
    assert done.visit.set_cookie.value != old_cookie.value


def test_a_logged_in_visit_or_a_traceless_visitor_links_nothing(kit_clock, web) -> None:
    """Switching accounts never merges two accounts; a visitor with no data has nothing to carry."""
    kit, _ = kit_clock
    first = kit.identity.resolve("customer:first", create=True)
    second = kit.identity.resolve("customer:second", create=True)
    done = web.login(web.visit(user="customer:first"), "customer:second")
    assert done.linked is None
    assert kit.identity.lookup("customer:first") == first
    assert kit.identity.lookup("customer:second") == second
    fresh = web.visit()
    assert web.login(fresh, "customer:third").linked is None
    assert kit.identity.lookup(fresh.identifier) is None


def test_a_cookie_still_linked_to_another_account_never_merges_it(kit_clock, web) -> None:
    """A browser whose anonymous identifier still names account A (linked with ``kit.link``
    before logins reissued cookies): logging in as B there must not hand A's data to B."""
    kit, _ = kit_clock
    visit = web.visit()
    anon = visit.identifier
    kit.link(anon, "customer:shared-a")
    first = kit.identity.lookup("customer:shared-a")
    kit.track("customer:shared-a", "purchase", channel="store", properties={"item": "bread"})
    done = web.login(visit, "customer:shared-b")
    second = kit.identity.lookup("customer:shared-b")
    assert done.linked is None or done.linked.merged_from is None
    assert kit.identity.lookup("customer:shared-a") == first != second
    assert kit.events.count(first) == 1
    assert second is None or kit.events.count(second) == 0
    # The old cookie does not lead to either account any more.
    assert (
        web.visit(cookies={visit.set_cookie.name: visit.set_cookie.value}).existing_subject()
        is None
    )
