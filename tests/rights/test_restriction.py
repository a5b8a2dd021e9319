"""Restriction (Art 18), objection to direct marketing (Art 21), CCPA opt-out, rectification."""

from __future__ import annotations

import pytest

from _shared import PRIVACY
from personakit import ConfigurationError, InvalidInput, LocalKeyProvider, Personakit
from personakit.consent import Manifest
from personakit.testing import memory_kit

MARKETING = {"notice": "marketing_notice", "notice_version": "2026-01", "source": "web"}
PERSONAL = ("alice@example.com", "Bob Smith", "555 123 4567")


def _audit_bytes(kit) -> bytes:
    return b"".join(value for _, value in kit.store.scan("a/e/"))


def _li_kit() -> Personakit:
    """A memory kit whose manifest adds a legitimate-interest marketing purpose."""
    base, clock = memory_kit()
    doc = Manifest.default().to_json()
    postal = dict(next(p for p in doc["purposes"] if p["id"] == "marketing.email"))
    postal.update(
        id="marketing.post",
        name="Postal catalogue",
        lawful_basis="legitimate_interest",
        channel="post",
    )
    doc["purposes"].append(postal)
    return Personakit(
        store=base.store,
        key_store=base.key_store,
        keys=base.keyring.provider,
        clock=clock,
        manifest=Manifest.from_json(doc),
    )


def test_restriction_denies_consent_and_li_purposes_and_lifting_restores_them() -> None:
    """While restricted every consent/LI guard says no; contract stays; lift restores answers."""
    kit = _li_kit()
    subject = kit.identity.resolve("customer:1", create=True)
    kit.consent.grant(subject, "personalization", **PRIVACY)
    kit.consent.refuse(subject, "analytics", **PRIVACY)
    purposes = [p.id for p in kit.manifest.purposes]
    before = {p: kit.consent.allowed(subject, p) for p in purposes}
    assert before["personalization"]
    assert before["marketing.post"]
    assert before["essential"]
    change = kit.rights.restrict("customer:1", reference="dsr_x")
    assert set(change.purposes) == {
        p.id for p in kit.manifest.purposes if p.needs_consent or p.objectable
    }
    during = {p: kit.consent.allowed(subject, p) for p in purposes}
    assert during == {p: p == "essential" for p in purposes}
    state = kit.consent.state(subject, "personalization")
    assert state.state == "given"
    assert not state.allowed
    assert "Art. 18" in state.reason
    assert kit.consent.consent_mode(subject)["personalization_storage"] == "denied"
    assert kit.consent.restriction(subject)["reference"] == "dsr_x"
    kit.rights.lift_restriction(subject)
    assert {p: kit.consent.allowed(subject, p) for p in purposes} == before
    assert kit.consent.restriction(subject) is None
    assert [k for k, _ in kit.store.scan(f"s/{subject}/consent-state/")] == [
        f"s/{subject}/consent-state/analytics",
        f"s/{subject}/consent-state/personalization",
    ]


def test_a_grant_while_restricted_stays_denied_until_lifted(kit_and_clock) -> None:
    """Ledger changes during a restriction keep the flag; the ledger itself is untouched."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    kit.rights.restrict(subject)
    kit.consent.grant(subject, "personalization", **PRIVACY)
    assert not kit.consent.allowed(subject, "personalization")
    assert [r.status for r in kit.consent.ledger(subject)] == ["given"]
    kit.rights.lift_restriction(subject)
    assert kit.consent.allowed(subject, "personalization")


def test_the_guard_stays_one_read_while_restricted(kit_and_clock, monkeypatch) -> None:
    """allowed() reads one record, restricted or not."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    kit.consent.grant(subject, "personalization", **PRIVACY)
    kit.rights.restrict(subject)
    reads = []
    real = kit.store.get
    monkeypatch.setattr(kit.store, "get", lambda key: reads.append(key) or real(key))
    assert not kit.consent.allowed(subject, "personalization")
    assert not kit.consent.allowed(subject, "analytics")
    assert len(reads) == 2


def test_restriction_is_audited_idempotent_and_typed(kit_and_clock) -> None:
    """Restrict/lift are audited once; repeating changes nothing; bad input is InvalidInput."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    assert kit.rights.restrict(subject).changed
    assert not kit.rights.restrict(subject).changed
    assert kit.rights.lift_restriction(subject).changed
    assert not kit.rights.lift_restriction(subject).changed
    actions = [e.action for e in kit.audit.entries()]
    assert actions.count("consent.restricted") == 1
    assert actions.count("consent.restriction_lifted") == 1
    with pytest.raises(InvalidInput):
        kit.rights.restrict(subject, source="carrier-pigeon")


def test_merge_keeps_a_restriction(kit_and_clock) -> None:
    """Merging a restricted anonymous profile into a known one restricts the known one."""
    kit, _ = kit_and_clock
    anon = kit.identity.resolve("anon:c1", create=True)
    known = kit.identity.resolve("customer:1", create=True)
    kit.consent.grant(known, "personalization", **PRIVACY)
    kit.rights.restrict(anon)
    kit.consent.merge(anon, known)
    assert kit.consent.is_restricted(known)
    assert not kit.consent.allowed(known, "personalization")


def test_objection_to_direct_marketing_stops_every_marketing_purpose() -> None:
    """Art 21(2): consent marketing withdrawn or refused, LI marketing objected, others kept."""
    kit = _li_kit()
    subject = kit.identity.resolve("customer:1", create=True)
    kit.consent.grant(subject, ["marketing.email", "marketing.sms"], **MARKETING)
    kit.consent.grant(subject, "personalization", **PRIVACY)
    receipts = kit.rights.object_to_direct_marketing(subject, source="email_link")
    statuses = {r.purpose: r.status for rc in receipts for r in rc.records}
    assert statuses == {
        "marketing.email": "withdrawn",
        "marketing.sms": "withdrawn",
        "marketing.push": "refused",
        "marketing.post": "objected",
    }
    assert not any(kit.consent.allowed(subject, p.id) for p in kit.rights.marketing_purposes())
    assert kit.consent.allowed(subject, "personalization")
    assert kit.rights.object_to_direct_marketing(subject) == ()
    assert [e.action for e in kit.audit.entries()][-1] == "rights.objection"
    with pytest.raises(InvalidInput):
        kit.rights.object(subject, "essential")


def test_opt_out_of_sale_records_source_and_method(kit_and_clock) -> None:
    """CCPA opt-out withdraws a sale/sharing grant, with the request's source and method."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    kit.consent.grant(subject, "sale_sharing", **PRIVACY)
    (receipt,) = kit.rights.opt_out_of_sale(subject, source="web", method="do_not_sell_link")
    (record,) = receipt.records
    assert (record.status, record.source, record.method, record.jurisdiction) == (
        "withdrawn",
        "web",
        "do_not_sell_link",
        "US-CA",
    )
    assert not kit.consent.allowed(subject, "sale_sharing")


def test_an_objection_that_changes_nothing_still_refuses_personal_source_and_method(
    kit_and_clock, snapshot
) -> None:
    """Source, method and jurisdiction are checked before the rights audit entry is written."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    kit.rights.object_to_direct_marketing(subject)  # every marketing purpose is now stopped
    kit.rights.opt_out_of_sale(subject)
    before = snapshot(kit)
    hostile = {"source": PERSONAL[0], "method": PERSONAL[1], "jurisdiction": PERSONAL[2]}
    for call in (kit.rights.object_to_direct_marketing, kit.rights.opt_out_of_sale):
        with pytest.raises(InvalidInput):
            call(subject, **hostile)
    with pytest.raises(InvalidInput):
        kit.rights.object(subject, "marketing.email", **hostile)
    assert snapshot(kit) == before
    assert not any(text.encode() in _audit_bytes(kit) for text in PERSONAL)


@pytest.mark.parametrize("purposes", [None, 1, []])
def test_an_objection_must_name_a_purpose(kit_and_clock, snapshot, purposes) -> None:
    """object() without purposes raises InvalidInput and audits nothing (no TypeError)."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    before = snapshot(kit)
    with pytest.raises(InvalidInput):
        kit.rights.object(subject, purposes)
    assert snapshot(kit) == before


def test_rectify_delegates_to_traits_or_says_what_is_missing(kit_and_clock, populate) -> None:
    """rectify() is a traits update marked as rectification; without traits a clear error."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:1", email="alice@example.com", first_name="Alice")
    if hasattr(kit, "traits"):
        kit.rights.rectify("customer:1", {"first_name": "Alicia"})
        assert [e.action for e in kit.audit.entries()][-1] == "traits.rectified"
        assert kit.rights.export(subject)["traits"]["first_name"]["value"] == "Alicia"
    bare = kit.rights.__class__.build(**vars(_NoTraits(kit)))
    with pytest.raises(ConfigurationError, match="traits"):
        bare.rectify(subject, {"first_name": "Alicia"})


class _NoTraits:
    """A host with everything but traits."""

    def __init__(self, kit: Personakit) -> None:
        for name in (
            "store",
            "key_store",
            "vault",
            "keyring",
            "identity",
            "audit",
            "consent",
            "manifest",
            "clock",
            "subject_ref",
        ):
            setattr(self, name, getattr(kit, name))


def test_rectify_refuses_an_actor_that_would_be_audited_in_the_clear(
    kit_and_clock, snapshot
) -> None:
    """rectify checks the actor like every other right: a name never reaches the audit log."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    before = snapshot(kit)
    with pytest.raises(InvalidInput) as caught:
        kit.rights.rectify(subject, {"first_name": "Ann"}, actor=PERSONAL[1])
    assert {p.where for p in caught.value.problems} == {"actor"}
    assert snapshot(kit) == before


def test_a_purpose_added_after_the_restriction_is_denied_too(tmp_path, master_key) -> None:
    """A legitimate-interest purpose added to the manifest later is denied while restricted."""
    with Personakit.open(tmp_path, keys=LocalKeyProvider(master_key)) as kit:
        subject = kit.identity.resolve("customer:1", create=True)
        kit.rights.restrict(subject)
        document = kit.manifest.to_json()
    added = dict(next(p for p in document["purposes"] if p["id"] == "analytics"))
    added |= {
        "id": "fraud_prevention",
        "name": "Fraud prevention",
        "lawful_basis": "legitimate_interest",
    }
    added.pop("tcf_purposes", None)
    added.pop("consent_mode", None)
    document["purposes"].append(added)
    manifest = Manifest.from_json(document)
    with Personakit.open(tmp_path, keys=LocalKeyProvider(master_key), manifest=manifest) as kit:
        assert not kit.consent.allowed(subject, "fraud_prevention")
        assert kit.consent.allowed_many(subject, ["fraud_prevention"]) == {
            "fraud_prevention": False
        }
        kit.rights.lift_restriction(subject)
        assert kit.consent.allowed(subject, "fraud_prevention")
