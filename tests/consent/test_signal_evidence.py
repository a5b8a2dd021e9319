"""What each signal proves: its own evidence, and no notice where the person saw none."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personakit import InvalidInput, testing

ALL_PURPOSES = frozenset(range(1, 11))
UA_HASH = hashlib.sha256(b"Mozilla/5.0").hexdigest()


def test_tcf_records_keep_the_string_digest_and_cmp_fields_but_no_shop_notice(
    kit_and_clock, make_tc
) -> None:
    """A TCF grant names no privacy notice (the CMP showed its own texts) and is in force."""
    kit, clock = kit_and_clock
    subject = kit.identity.resolve("customer:7", create=True)
    tc = make_tc(ALL_PURPOSES, clock.now())
    receipt = kit.consent.apply_tc_string(subject, tc)
    for record in receipt.records:
        assert (record.notice_id, record.notice_version, record.notice_sha256) == (None,) * 3
        assert record.evidence["tc_string_sha256"] == hashlib.sha256(tc.encode()).hexdigest()
        assert record.evidence["cmp_id"] == 300
        assert tc not in str(record.evidence)
    assert kit.consent.state(subject, "personalization").state == "given"
    entry = receipt.to_json()["purposes"][0]
    assert entry["notice"] is None


def test_gpc_records_say_where_the_signal_came_from_and_name_no_notice(kit_and_clock) -> None:
    """A GPC refusal carries the signal's source and the caller's request metadata."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:7", create=True)
    receipt = kit.consent.record_gpc(
        subject, True, via="navigator", request_metadata={"user_agent_sha256": UA_HASH}
    )
    (record,) = receipt.records
    assert record.notice_id is None
    assert record.evidence == {
        "signal": "navigator.globalPrivacyControl",
        "value": "true",
        "user_agent_sha256": UA_HASH,
    }
    other = kit.identity.resolve("customer:8", create=True)
    (header,) = kit.consent.record_gpc(other, "1").records
    assert header.evidence == {"signal": "Sec-GPC", "value": "1"}


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"via": "cookie"}, "via"),
        ({"request_metadata": {"User Agent": "x"}}, "request_metadata"),
        ({"request_metadata": {"ua": "x" * 300}}, "request_metadata.ua"),
        ({"request_metadata": ["ua"]}, "request_metadata"),
    ],
)
def test_bad_gpc_evidence_is_typed_and_writes_nothing(kit_and_clock, snapshot, kwargs, where):
    """Bad ``via`` or request metadata raise InvalidInput naming it, before anything is stored."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:7", create=True)
    before = snapshot(kit)
    with pytest.raises(InvalidInput) as caught:
        kit.consent.record_gpc(subject, "1", **kwargs)
    assert where in {p.where for p in caught.value.problems}
    assert snapshot(kit) == before


values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.binary(max_size=5)
)
metadata = st.one_of(
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), values, max_size=3),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=values, via=st.one_of(st.sampled_from(["header", "navigator"]), values), meta=metadata)
def test_record_gpc_is_total(snapshot, value, via, meta) -> None:
    """Any GPC input is recorded or raises InvalidInput with nothing written, never another error."""
    kit, _ = testing.memory_kit()
    with kit:
        subject = kit.identity.resolve("customer:7", create=True)
        before = snapshot(kit)
        try:
            kit.consent.record_gpc(subject, value, via=via, request_metadata=meta)
        except InvalidInput:
            assert snapshot(kit) == before
