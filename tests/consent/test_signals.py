"""Signals: Global Privacy Control, IAB TCF v2.2 TC strings, Google Consent Mode v2."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from personakit import InvalidInput

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01"}
# Real strings, from tests/consent/test_tcf.py (peczenyj/GDPR-IAB-TCFv2 test vectors).
# Consents to TCF purposes {1, 3, 9, 10}; last updated 2012-01-10T17:10:13.4Z.
PERL_BITFIELD = "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA"
# No purpose consents at all; last updated 2020-04-27.
PERL_RANGE = (
    "COyfVVoOyfVVoADACHENAwCAAAAAAAAAAAAAE5QBgALgAqgD8AQACSwEygJyAnSAMABgAFkAgQCDASeAmYBOgAA"
)


def _subject(kit, ident="customer:7"):
    return kit.identity.resolve(ident, create=True)


def test_gpc_refuses_sale_sharing_with_method_gpc(kit_and_clock) -> None:
    """Sec-GPC: 1 records a refusal of sale_sharing (source and method gpc); repeats add nothing."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    receipt = kit.consent.record_gpc(subject, "1")
    (record,) = receipt.records
    assert (record.purpose, record.status, record.method, record.source) == (
        "sale_sharing",
        "refused",
        "gpc",
        "gpc",
    )
    assert record.conflict is None
    assert kit.consent.record_gpc(subject, " 1 ").changed is False
    assert kit.consent.record_gpc(subject, None).changed is False
    assert kit.consent.record_gpc(subject, "0").changed is False
    assert len(kit.consent.ledger(subject)) == 1


def test_gpc_against_an_explicit_opt_in_is_recorded_as_a_conflict(kit_and_clock) -> None:
    """GPC withdraws an explicit opt-in, and the conflict names the opt-in it overrode."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    opt_in = kit.consent.grant(subject, "sale_sharing", source="web", **PRIVACY).records[0]
    clock.advance(minutes=5)
    receipt = kit.consent.record_gpc(subject, b"1", jurisdiction="US-CA")
    (record,) = receipt.records
    assert record.status == "withdrawn"
    assert record.conflict is not None
    assert record.conflict.with_record == opt_in.id
    assert record.conflict.resolution == "opt_out_honoured"
    assert record.jurisdiction == "US-CA"
    assert not kit.consent.allowed(subject, "sale_sharing")
    assert [r.id for r in kit.consent.conflicts(subject)] == [record.id]
    audit = list(kit.audit.entries())[-1]
    assert audit.data["records"][0]["conflict"]["kind"] == "gpc_vs_opt_in"


def test_a_confirmed_opt_in_survives_later_gpc_signals(kit_and_clock) -> None:
    """After the subject confirms the opt-in despite GPC, repeated GPC signals change nothing."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    kit.consent.grant(subject, "sale_sharing", source="web", **PRIVACY)
    kit.consent.record_gpc(subject, "1")
    clock.advance(minutes=1)
    kit.consent.grant(subject, "sale_sharing", source="web", gpc_confirmed=True, **PRIVACY)
    assert kit.consent.record_gpc(subject, "1").changed is False
    assert kit.consent.allowed(subject, "sale_sharing")


def test_tc_string_maps_tcf_purposes_to_manifest_purposes(kit_and_clock) -> None:
    """PERL_BITFIELD consents to 9 and 10 (analytics) but not 5, 6 or 2-4, 7."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    receipt = kit.consent.apply_tc_string(subject, PERL_BITFIELD)
    decided = {r.purpose: r.status for r in receipt.records}
    assert decided == {
        "analytics": "given",
        "personalization": "refused",
        "sale_sharing": "refused",
    }
    for record in receipt.records:
        assert (record.source, record.method) == ("tcf", "tcf")
        assert record.occurred_at == datetime(2012, 1, 10, 17, 10, 13, 400000, tzinfo=UTC)
        assert record.evidence["cmp_id"] == 21
    assert kit.consent.allowed(subject, "analytics") is False  # dated 2012: long expired
    assert kit.consent.state(subject, "analytics").state == "expired"


def test_tc_string_never_overrides_a_newer_decision_and_repeats_are_free(kit_and_clock) -> None:
    """A TC string dated before an explicit grant does not withdraw it; re-applying adds nothing."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    kit.consent.grant(subject, "personalization", source="web", **PRIVACY)
    receipt = kit.consent.apply_tc_string(subject, PERL_RANGE)
    assert "personalization" in receipt.unchanged
    assert {r.purpose: r.status for r in receipt.records} == {
        "analytics": "refused",
        "sale_sharing": "refused",
    }
    assert kit.consent.allowed(subject, "personalization")
    assert kit.consent.apply_tc_string(subject, PERL_RANGE).changed is False


def test_a_lapsed_tc_string_sent_with_every_request_is_recorded_once(kit_and_clock) -> None:
    """Re-applying an expired TC string appends no further grant or audit entry."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    first = kit.consent.apply_tc_string(subject, PERL_BITFIELD)
    assert "analytics" in {r.purpose for r in first.records if r.status == "given"}
    ledger = len(kit.consent.ledger(subject))
    audit = len(list(kit.store.scan("a/e/")))
    for _ in range(3):
        again = kit.consent.apply_tc_string(subject, PERL_BITFIELD)
        assert again.records == ()
        assert "analytics" in again.unchanged
    assert len(kit.consent.ledger(subject)) == ledger
    assert len(list(kit.store.scan("a/e/"))) == audit
    assert kit.consent.allowed(subject, "analytics") is False


def test_malformed_tc_string_is_typed_and_writes_nothing(kit_and_clock, snapshot) -> None:
    """A broken TC string raises InvalidInput naming tc_string, and nothing is stored."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    before = snapshot(kit)
    with pytest.raises(InvalidInput) as caught:
        kit.consent.apply_tc_string(subject, "not*base64")
    assert {p.where for p in caught.value.problems} == {"tc_string"}
    with pytest.raises(InvalidInput):
        kit.consent.apply_tc_string(subject, PERL_BITFIELD[:20])
    assert snapshot(kit) == before


def test_consent_mode_is_derived_from_the_manifest_mapping(kit_and_clock) -> None:
    """Each Consent Mode type is granted only when every purpose mapped to it is allowed."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    assert kit.consent.consent_mode(subject) == {
        "ad_storage": "denied",
        "analytics_storage": "denied",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
        "functionality_storage": "granted",
        "personalization_storage": "denied",
        "security_storage": "granted",
    }
    kit.consent.grant(subject, ["analytics", "sale_sharing"], source="web", **PRIVACY)
    mode = kit.consent.consent_mode(subject)
    assert mode["analytics_storage"] == mode["ad_storage"] == mode["ad_user_data"] == "granted"
    assert mode["personalization_storage"] == "denied"
    kit.consent.record_gpc(subject, "1")
    assert kit.consent.consent_mode(subject)["ad_personalization"] == "denied"
