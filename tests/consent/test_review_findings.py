"""Regression tests for defects found in review of the consent manager."""

from __future__ import annotations

import pytest

from personakit.exceptions import InvalidInput

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "web"}
# Dated 2012-01-10, consents to TCF purposes 9 and 10 (analytics): long expired in 2026.
LAPSED_TC_STRING = (
    "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA"
)
NOT_SUBJECTS = [None, 1, b"sub_abc", ["sub_a"], ("sub_a", "subject")]


@pytest.mark.parametrize("subject", NOT_SUBJECTS)
def test_a_non_str_subject_is_invalid_input_for_every_change(
    kit_and_clock, snapshot, subject
) -> None:
    """Changes given a non-str subject raise InvalidInput (not TypeError) and write nothing."""
    kit, _ = kit_and_clock
    consent = kit.consent
    before = snapshot(kit)
    calls = [
        lambda: consent.grant(subject, "personalization", **PRIVACY),
        lambda: consent.refuse(subject, "personalization", **PRIVACY),
        lambda: consent.withdraw(subject, "personalization", source="web"),
        lambda: consent.record_gpc(subject, "1"),
        lambda: consent.apply_tc_string(subject, LAPSED_TC_STRING),
        lambda: consent.restrict(subject, source="web"),
        lambda: consent.lift_restriction(subject, source="web"),
        lambda: consent.expire(subject),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as caught:
            call()
        assert {p.where for p in caught.value.problems} == {"subject"}
    assert snapshot(kit) == before


@pytest.mark.parametrize("subject", NOT_SUBJECTS)
def test_a_non_str_subject_is_invalid_input_for_every_guard(kit_and_clock, subject) -> None:
    """Guards given a non-str (even unhashable) subject raise InvalidInput, not TypeError."""
    kit, _ = kit_and_clock
    consent = kit.consent
    calls = [
        lambda: consent.allowed(subject, "personalization"),
        lambda: consent.require(subject, "personalization"),
        lambda: consent.state(subject, "personalization"),
        lambda: consent.consent_mode(subject),
        lambda: consent.allowed_many(subject, ["personalization"]),
    ]
    for call in calls:
        with pytest.raises(InvalidInput):
            call()


@pytest.mark.parametrize("purposes", [None, 1, object()])
def test_allowed_many_rejects_a_non_iterable_with_invalid_input(kit_and_clock, purposes) -> None:
    """allowed_many given something that is not an iterable of purposes raises InvalidInput."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    with pytest.raises(InvalidInput):
        kit.consent.allowed_many(subject, purposes)


def test_allowed_many_takes_a_single_purpose_id_as_one_purpose(kit_and_clock) -> None:
    """A str passed to allowed_many is one purpose id, not an iterable of characters."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    kit.consent.grant(subject, "personalization", **PRIVACY)
    assert kit.consent.allowed_many(subject, "personalization") == {"personalization": True}


def test_a_lapsed_tc_string_sent_with_every_request_is_recorded_once(kit_and_clock) -> None:
    """Re-applying an expired TC string appends no further grant or audit entry."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    first = kit.consent.apply_tc_string(subject, LAPSED_TC_STRING)
    assert "analytics" in {r.purpose for r in first.records if r.status == "given"}
    ledger = len(kit.consent.ledger(subject))
    audit = len(list(kit.store.scan("a/e/")))
    for _ in range(3):
        again = kit.consent.apply_tc_string(subject, LAPSED_TC_STRING)
        assert again.records == ()
        assert "analytics" in again.unchanged
    assert len(kit.consent.ledger(subject)) == ledger
    assert len(list(kit.store.scan("a/e/"))) == audit
    assert kit.consent.allowed(subject, "analytics") is False
