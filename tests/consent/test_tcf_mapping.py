"""Which manifest purposes a TC string grants: the default mapping and the publisher segment."""

from __future__ import annotations

EVERYTHING_BUT_STORAGE = frozenset(range(2, 11))


def test_refusing_storage_and_access_denies_ad_storage_and_ad_user_data(
    kit_and_clock, make_tc
) -> None:
    """Purpose 1 refused: sale_sharing is refused, so ad_storage and ad_user_data are denied."""
    kit, clock = kit_and_clock
    subject = kit.identity.resolve("customer:7", create=True)
    kit.consent.apply_tc_string(subject, make_tc(EVERYTHING_BUT_STORAGE, clock.now()))
    assert kit.consent.state(subject, "sale_sharing").state == "refused"
    mode = kit.consent.consent_mode(subject)
    assert mode["ad_storage"] == mode["ad_user_data"] == "denied"
    assert kit.consent.manifest.purpose("sale_sharing").tcf_purposes == {1, 2, 3, 4, 7}


def test_publisher_consents_decide_first_party_purposes(kit_and_clock, make_tc) -> None:
    """Publisher segment grants 5 and 6, the vendors' core does not: personalization is given."""
    kit, clock = kit_and_clock
    subject = kit.identity.resolve("customer:7", create=True)
    tc = make_tc(frozenset(), clock.now(), publisher=frozenset({5, 6}))
    kit.consent.apply_tc_string(subject, tc)
    assert kit.consent.state(subject, "personalization").state == "given"
    assert kit.consent.state(subject, "analytics").state == "refused"


def test_publisher_refusal_beats_vendor_consent_for_first_party_purposes(
    kit_and_clock, make_tc
) -> None:
    """Core grants every purpose, the publisher segment none: every mapped purpose is refused."""
    kit, clock = kit_and_clock
    subject = kit.identity.resolve("customer:7", create=True)
    tc = make_tc(frozenset(range(1, 11)), clock.now(), publisher=frozenset())
    receipt = kit.consent.apply_tc_string(subject, tc)
    assert {r.purpose: r.status for r in receipt.records} == {
        "personalization": "refused",
        "analytics": "refused",
        "sale_sharing": "refused",
    }


def test_sharing_with_third_parties_needs_the_vendors_consent_too(kit_and_clock, make_tc) -> None:
    """Publisher consents to 1-10 but the core (vendors) does not: sale_sharing stays refused."""
    kit, clock = kit_and_clock
    subject = kit.identity.resolve("customer:7", create=True)
    everything = frozenset(range(1, 11))
    tc = make_tc(frozenset({5, 6, 9, 10}), clock.now(), publisher=everything)
    kit.consent.apply_tc_string(subject, tc)
    assert kit.consent.state(subject, "personalization").state == "given"
    assert kit.consent.state(subject, "sale_sharing").state == "refused"
    both = make_tc(everything, clock.now().replace(microsecond=100_000), publisher=everything)
    clock.advance(seconds=1)
    kit.consent.apply_tc_string(subject, both)
    assert kit.consent.state(subject, "sale_sharing").state == "given"
