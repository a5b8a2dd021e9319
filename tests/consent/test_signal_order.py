"""Signals are ordered by when the person acted: a later choice always wins, repeats are free."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from personakit import FixedClock, InvalidInput, Personakit, testing

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01"}
ALL_PURPOSES = frozenset(range(1, 11))


def midnight(clock: FixedClock) -> datetime:
    """The day-granular LastUpdated a CMP writes for a choice made today."""
    return clock.now().replace(hour=0, minute=0, second=0, microsecond=0)


def _subject(kit: Personakit) -> str:
    return kit.identity.resolve("customer:7", create=True)


def _granted_on_the_web(kit: Personakit, clock: FixedClock, *, minutes_ago: int) -> str:
    """The subject, who granted personalization through the web form ``minutes_ago`` ago."""
    subject = _subject(kit)
    kit.consent.grant(subject, "personalization", source="web", **PRIVACY)
    clock.advance(minutes=minutes_ago)
    return subject


def test_same_day_reconsent_through_the_banner_ends_given(kit_and_clock, make_tc) -> None:
    """Consent, refuse, consent again the same day (strings dated midnight): given wins."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    day = midnight(clock)
    strings = [
        make_tc(ALL_PURPOSES, day, cmp_version=1),
        make_tc(frozenset(), day, cmp_version=2),
        make_tc(ALL_PURPOSES, day, cmp_version=3),
    ]
    for tc in strings:
        kit.consent.apply_tc_string(subject, tc)
        clock.advance(minutes=10)
    assert kit.consent.state(subject, "personalization").state == "given"
    assert kit.consent.allowed(subject, "analytics")
    clock.advance(days=3)
    assert kit.consent.apply_tc_string(subject, strings[-1]).changed is False
    assert kit.consent.allowed(subject, "personalization")


def test_same_day_withdrawal_through_the_banner_ends_withdrawn(kit_and_clock, make_tc) -> None:
    """Consent, then refuse the same day: withdrawn; re-sending either string changes nothing."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    day = midnight(clock)
    granted = make_tc(ALL_PURPOSES, day, cmp_version=1)
    refused = make_tc(frozenset(), day, cmp_version=2)
    kit.consent.apply_tc_string(subject, granted)
    clock.advance(minutes=10)
    kit.consent.apply_tc_string(subject, refused)
    assert kit.consent.state(subject, "personalization").state == "withdrawn"
    clock.advance(hours=2)
    # Another browser of the same person still sends the older string: it is not a new act.
    assert kit.consent.apply_tc_string(subject, granted).changed is False
    assert kit.consent.apply_tc_string(subject, refused).changed is False
    assert kit.consent.state(subject, "personalization").state == "withdrawn"


def test_banner_refusal_after_an_explicit_grant_the_same_day_withdraws(
    kit_and_clock, make_tc
) -> None:
    """Web grant at 09:00, then a TC string refusing 5 and 6 dated that midnight: withdrawn."""
    kit, clock = kit_and_clock
    subject = _granted_on_the_web(kit, clock, minutes_ago=30)
    tc = make_tc(frozenset({1, 9, 10}), midnight(clock))
    receipt = kit.consent.apply_tc_string(subject, tc)
    assert {r.purpose: r.status for r in receipt.records}["personalization"] == "withdrawn"
    assert kit.consent.state(subject, "personalization").state == "withdrawn"
    record = kit.consent.state(subject, "personalization").record
    assert record is not None
    assert record.evidence["tc_string_sha256"] == hashlib.sha256(tc.encode()).hexdigest()


def test_an_explicit_choice_after_a_banner_string_is_not_undone_by_its_repeats(
    kit_and_clock, make_tc
) -> None:
    """A string seen before an explicit withdrawal does not re-grant when the cookie repeats it."""
    kit, clock = kit_and_clock
    subject = _granted_on_the_web(kit, clock, minutes_ago=5)
    tc = make_tc(ALL_PURPOSES, midnight(clock))
    kit.consent.apply_tc_string(subject, tc)
    clock.advance(minutes=5)
    kit.consent.withdraw(subject, "personalization", source="web")
    clock.advance(minutes=5)
    assert kit.consent.apply_tc_string(subject, tc).changed is False
    assert kit.consent.state(subject, "personalization").state == "withdrawn"


def test_a_day_granular_string_from_an_earlier_day_never_overrides_a_later_choice(
    kit_and_clock, make_tc
) -> None:
    """A string dated a day before a web grant, first seen now, does not withdraw it."""
    kit, clock = kit_and_clock
    subject = _granted_on_the_web(kit, clock, minutes_ago=5)
    tc = make_tc(frozenset(), midnight(clock) - timedelta(days=1))
    receipt = kit.consent.apply_tc_string(subject, tc)
    assert "personalization" in receipt.unchanged
    assert kit.consent.allowed(subject, "personalization")


def test_a_string_applied_before_a_merge_is_still_a_repeat_after_it(kit_and_clock, make_tc) -> None:
    """Anonymous banner consent, later web refusal when known, merge: a re-sent string is no act."""
    kit, clock = kit_and_clock
    anonymous = kit.identity.resolve("anon:visitor-1", create=True)
    known = _subject(kit)
    tc = make_tc(ALL_PURPOSES, midnight(clock))
    kit.consent.apply_tc_string(anonymous, tc)
    clock.advance(minutes=10)
    kit.consent.refuse(known, "personalization", source="web", **PRIVACY)
    clock.advance(minutes=10)
    kit.consent.merge(anonymous, known)
    assert kit.consent.state(known, "personalization").state == "refused"
    clock.advance(minutes=10)
    assert "personalization" in kit.consent.apply_tc_string(known, tc).unchanged
    assert kit.consent.state(known, "personalization").state == "refused"


def _stores(kit: Personakit) -> tuple[dict[str, bytes], dict[str, bytes]]:
    return dict(kit.store.scan("")), dict(kit.key_store.scan(""))


@settings(max_examples=60, deadline=None)
@given(
    junk=st.one_of(st.text(max_size=40), st.binary(max_size=8), st.integers(), st.none()),
    consents=st.frozensets(st.integers(1, 24)),
    publisher=st.none() | st.frozensets(st.integers(1, 24)),
    cut=st.integers(0, 80),
)
def test_apply_tc_string_is_total(junk, consents, publisher, cut, make_tc) -> None:
    """Any input, or any cut of a valid string, is applied or raises InvalidInput writing nothing."""
    kit, clock = testing.memory_kit()
    with kit:
        subject = _subject(kit)
        valid = make_tc(consents, clock.now(), publisher=publisher)
        for candidate in (junk, valid[:cut], valid):
            before = _stores(kit)
            try:
                kit.consent.apply_tc_string(subject, candidate)
            except InvalidInput:
                assert _stores(kit) == before
        assert not kit.consent.apply_tc_string(subject, valid).changed
