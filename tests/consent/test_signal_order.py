"""Signals are ordered by when the person acted: a later choice always wins, repeats are free."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

from personakit import FixedClock, Personakit

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ALL_PURPOSES = frozenset(range(1, 11))


def _bits(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def _flags(ids: frozenset[int], width: int) -> str:
    return "".join("1" if i in ids else "0" for i in range(1, width + 1))


def _b64(bits: str) -> str:
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def tc_string(
    purposes: frozenset[int],
    last_updated: datetime,
    *,
    cmp_version: int = 1,
    publisher: frozenset[int] | None = None,
) -> str:
    """A TC string (core segment, and a publisher TC segment if ``publisher`` is given)."""
    deciseconds = int((last_updated - EPOCH).total_seconds() * 10)
    letters = "".join(_bits(ord(c) - ord("A"), 6) for c in "EN")
    core = (
        _bits(2, 6)
        + _bits(deciseconds, 36) * 2
        + _bits(300, 12)
        + _bits(cmp_version, 12)
        + _bits(1, 6)
        + letters
        + _bits(120, 12)
        + _bits(4, 6)
        + "10"
        + _flags(frozenset(), 12)
        + _flags(purposes, 24)
        + _flags(frozenset(), 24)
        + "0"
        + "".join(_bits(ord(c) - ord("A"), 6) for c in "DE")
        + _bits(0, 16)
        + "0"  # vendor consents: empty bitfield
        + _bits(0, 16)
        + "0"  # vendor legitimate interests: empty bitfield
        + _bits(0, 12)  # no publisher restrictions
    )
    out = _b64(core)
    if publisher is not None:
        pub = _bits(3, 3) + _flags(publisher, 24) + _flags(frozenset(), 24) + _bits(0, 6)
        out += "." + _b64(pub)
    return out


def midnight(clock: FixedClock) -> datetime:
    """The day-granular LastUpdated a CMP writes for a choice made today."""
    return clock.now().replace(hour=0, minute=0, second=0, microsecond=0)


def _subject(kit: Personakit) -> str:
    return kit.identity.resolve("customer:7", create=True)


def test_same_day_reconsent_through_the_banner_ends_given(kit_and_clock) -> None:
    """Consent, refuse, consent again the same day (strings dated midnight): given wins."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    day = midnight(clock)
    strings = [
        tc_string(ALL_PURPOSES, day, cmp_version=1),
        tc_string(frozenset(), day, cmp_version=2),
        tc_string(ALL_PURPOSES, day, cmp_version=3),
    ]
    for tc in strings:
        kit.consent.apply_tc_string(subject, tc)
        clock.advance(minutes=10)
    assert kit.consent.state(subject, "personalization").state == "given"
    assert kit.consent.allowed(subject, "analytics")
    clock.advance(days=3)
    assert kit.consent.apply_tc_string(subject, strings[-1]).changed is False
    assert kit.consent.allowed(subject, "personalization")


def test_same_day_withdrawal_through_the_banner_ends_withdrawn(kit_and_clock) -> None:
    """Consent, then refuse the same day: withdrawn; re-sending either string changes nothing."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    day = midnight(clock)
    granted = tc_string(ALL_PURPOSES, day, cmp_version=1)
    refused = tc_string(frozenset(), day, cmp_version=2)
    kit.consent.apply_tc_string(subject, granted)
    clock.advance(minutes=10)
    kit.consent.apply_tc_string(subject, refused)
    assert kit.consent.state(subject, "personalization").state == "withdrawn"
    clock.advance(hours=2)
    # Another browser of the same person still sends the older string: it is not a new act.
    assert kit.consent.apply_tc_string(subject, granted).changed is False
    assert kit.consent.apply_tc_string(subject, refused).changed is False
    assert kit.consent.state(subject, "personalization").state == "withdrawn"


def test_banner_refusal_after_an_explicit_grant_the_same_day_withdraws(kit_and_clock) -> None:
    """Web grant at 09:00, then a TC string refusing 5 and 6 dated that midnight: withdrawn."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    kit.consent.grant(subject, "personalization", source="web", **PRIVACY)
    clock.advance(minutes=30)
    tc = tc_string(frozenset({1, 9, 10}), midnight(clock))
    receipt = kit.consent.apply_tc_string(subject, tc)
    assert {r.purpose: r.status for r in receipt.records}["personalization"] == "withdrawn"
    assert kit.consent.state(subject, "personalization").state == "withdrawn"
    record = kit.consent.state(subject, "personalization").record
    assert record is not None
    assert record.evidence["tc_string_sha256"] == hashlib.sha256(tc.encode()).hexdigest()


def test_an_explicit_choice_after_a_banner_string_is_not_undone_by_its_repeats(
    kit_and_clock,
) -> None:
    """A string seen before an explicit withdrawal does not re-grant when the cookie repeats it."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    kit.consent.grant(subject, "personalization", source="web", **PRIVACY)
    clock.advance(minutes=5)
    tc = tc_string(ALL_PURPOSES, midnight(clock))
    kit.consent.apply_tc_string(subject, tc)
    clock.advance(minutes=5)
    kit.consent.withdraw(subject, "personalization", source="web")
    clock.advance(minutes=5)
    assert kit.consent.apply_tc_string(subject, tc).changed is False
    assert kit.consent.state(subject, "personalization").state == "withdrawn"


def test_a_day_granular_string_from_an_earlier_day_never_overrides_a_later_choice(
    kit_and_clock,
) -> None:
    """A string dated a day before a web grant, first seen now, does not withdraw it."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    kit.consent.grant(subject, "personalization", source="web", **PRIVACY)
    clock.advance(minutes=5)
    tc = tc_string(frozenset(), midnight(clock) - timedelta(days=1))
    receipt = kit.consent.apply_tc_string(subject, tc)
    assert "personalization" in receipt.unchanged
    assert kit.consent.allowed(subject, "personalization")
