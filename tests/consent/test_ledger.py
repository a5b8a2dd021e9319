"""The consent ledger: decisions, guards, expiry, staleness, receipts, cascade, audit, disk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from personakit import (
    ConsentRequired,
    InvalidInput,
    LocalKeyProvider,
    Personakit,
    SubjectNotFound,
)
from personakit.consent import Manifest
from personakit.testing import find_bytes, memory_kit

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01"}
MARKETING = {"notice": "marketing_notice", "notice_version": "2026-01"}
# Dated 2012-01-10, consents to TCF purposes 9 and 10 (analytics): long expired in 2026.
LAPSED_TC_STRING = (
    "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA"
)
NOT_SUBJECTS = [None, 1, b"sub_abc", ["sub_a"], ("sub_a", "subject")]


def _subject(kit: Personakit, ident: str = "customer:42") -> str:
    return kit.identity.resolve(ident, create=True)


def test_consent_purposes_are_denied_by_default(kit_and_clock) -> None:
    """Without a grant a consent purpose is denied; contract purposes are always allowed."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    assert not kit.consent.allowed(subject, "personalization")
    assert kit.consent.allowed(subject, "essential")
    with pytest.raises(ConsentRequired) as caught:
        kit.consent.require(subject, "marketing.email")
    assert caught.value.purpose == "marketing.email"
    assert caught.value.reason == "no consent recorded"


def test_grant_then_withdraw_flips_the_guard(kit_and_clock) -> None:
    """A grant allows the purpose; a withdrawal denies it at once and supersedes the grant."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    given = kit.consent.grant(subject, "personalization", source="web", **PRIVACY)
    assert kit.consent.allowed(subject, "personalization")
    kit.consent.require(subject, "personalization")
    gone = kit.consent.withdraw(subject, "personalization", source="web")
    assert not kit.consent.allowed(subject, "personalization")
    assert gone.records[0].supersedes == given.records[0].id
    assert gone.records[0].notice_version == "2026-01"  # the withdrawn grant's notice
    state = kit.consent.state(subject, "personalization")
    assert (state.state, state.record.id) == ("withdrawn", gone.records[0].id)


def test_withdraw_all_is_one_call_and_touches_only_grants(kit_and_clock) -> None:
    """withdraw(subject) withdraws every granted consent purpose and lists the others."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    kit.consent.grant(subject, ["personalization", "analytics"], source="web", **PRIVACY)
    kit.consent.grant(subject, "marketing.email", source="checkout", **MARKETING)
    receipt = kit.consent.withdraw(subject, source="email_link")
    assert sorted(r.purpose for r in receipt.records) == [
        "analytics",
        "marketing.email",
        "personalization",
    ]
    assert set(receipt.unchanged) == {"marketing.sms", "marketing.push", "sale_sharing"}
    assert not any(kit.consent.allowed(subject, p.id) for p in kit.manifest.consent_purposes())
    assert kit.consent.withdraw(subject, source="web").changed is False


def test_receipt_has_the_27560_fields(kit_and_clock) -> None:
    """A receipt names schema, ids, times, controller, subject, purposes, notice, expiry."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    receipt = kit.consent.grant(
        subject, "marketing.email", source="checkout", jurisdiction="EU", **MARKETING
    ).to_json()
    assert receipt["schema_version"].startswith("personakit.consent-receipt/2")
    assert receipt["receipt_id"].startswith("rc_")
    assert receipt["issued_at"] == "2026-01-05T09:00:00+00:00"
    assert receipt["controller"]["name"] == kit.manifest.controller.name
    assert receipt["controller"]["dpo"]["contact"]
    assert receipt["subject"] == {"id": subject, "ref": kit.subject_ref(subject)}
    assert receipt["manifest_sha256"] == kit.manifest.sha256
    (entry,) = receipt["purposes"]
    assert entry["purpose"] == "marketing.email"
    assert entry["lawful_basis"] == "consent"
    assert entry["status"] == "given"
    assert entry["method"] == "explicit"
    assert entry["source"] == "checkout"
    assert entry["jurisdiction"] == "EU"
    assert entry["notice"]["id"] == "marketing_notice"
    assert entry["notice"]["version"] == "2026-01"
    assert len(entry["notice"]["text_sha256"]) == 64
    assert entry["expires_at"] == "2027-02-04T09:00:00+00:00"  # 395 days
    assert entry["data_categories"]
    assert entry["recipients"]


def test_expiry_is_derived_at_read_time_and_can_be_recorded(kit_and_clock) -> None:
    """After the maximum age the guard denies; expire() records it and runs the cascade."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    deleted: list[str] = []
    kit.consent.cascade.register("analytics", "stats", lambda s: deleted.append(s) or 3)
    kit.consent.grant(subject, "analytics", source="web", **PRIVACY)
    clock.advance(days=394)
    assert kit.consent.allowed(subject, "analytics")
    clock.advance(days=1)
    assert not kit.consent.allowed(subject, "analytics")
    assert kit.consent.state(subject, "analytics").state == "expired"
    receipt = kit.consent.expire(subject)
    assert [r.status for r in receipt.records] == ["expired"]
    assert receipt.records[0].occurred_at == datetime(2027, 2, 4, 9, 0, tzinfo=UTC)
    assert receipt.deleted == {"analytics": {"profile": 0, "stats": 3}}  # "profile": the kit's own
    assert deleted == [subject]
    assert kit.consent.expire(subject).changed is False


def test_a_new_notice_version_makes_older_grants_stale(kit_and_clock) -> None:
    """With a newer notice version in the manifest, an older grant no longer allows."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    kit.consent.grant(subject, "personalization", source="web", **PRIVACY)
    doc = kit.manifest.to_json()
    doc["notices"].append({**doc["notices"][0], "version": "2026-06", "text_sha256": "ab" * 32})
    bumped = Personakit(
        store=kit.store,
        key_store=kit.key_store,
        keys=kit.keyring.provider,
        clock=clock,
        manifest=Manifest.from_json(doc),
    )
    assert not bumped.consent.allowed(subject, "personalization")
    with pytest.raises(ConsentRequired, match="older notice version"):
        bumped.consent.require(subject, "personalization")
    bumped.consent.grant(
        subject, "personalization", source="web", notice="privacy_notice", notice_version="2026-06"
    )
    assert bumped.consent.allowed(subject, "personalization")


def test_objection_denies_a_legitimate_interest_purpose_until_lifted() -> None:
    """Legitimate interest is allowed by default, denied after object(), allowed after lifting."""
    doc = Manifest.default().to_json()
    doc["purposes"][2]["lawful_basis"] = "legitimate_interest"  # analytics
    kit, _ = memory_kit()
    kit = Personakit(
        store=kit.store,
        key_store=kit.key_store,
        keys=kit.keyring.provider,
        clock=kit.clock,
        manifest=Manifest.from_json(doc),
    )
    subject = _subject(kit)
    assert kit.consent.allowed(subject, "analytics")
    kit.consent.object(subject, "analytics", source="web")
    assert not kit.consent.allowed(subject, "analytics")
    assert kit.consent.state(subject, "analytics").state == "objected"
    kit.consent.lift_objection(subject, "analytics", source="web")
    assert kit.consent.allowed(subject, "analytics")
    with pytest.raises(InvalidInput, match="legitimate interest"):
        kit.consent.grant(subject, "analytics", source="web", **PRIVACY)
    with pytest.raises(InvalidInput, match="does not rely on legitimate interest"):
        kit.consent.object(subject, "personalization", source="web")
    entries = [e.action for e in kit.audit.entries()]
    assert entries == ["consent.objected", "consent.objection_lifted"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"purposes": "telepathy"}, "purpose"),
        ({"purposes": "essential"}, "purpose"),
        ({"notice": "nope"}, "notice"),
        ({"notice_version": "1999"}, "notice_version"),
        ({"source": "carrier_pigeon"}, "source"),
        ({"method": "Bad Method"}, "method"),
        ({"jurisdiction": "europe"}, "jurisdiction"),
        ({"occurred_at": datetime(2026, 1, 1, 9, 0)}, "occurred_at"),  # noqa: DTZ001 (naive on purpose)
        ({"occurred_at": datetime(2027, 1, 1, tzinfo=UTC)}, "occurred_at"),
        ({"notice_sha256": "00" * 32}, "notice_sha256"),
        ({"purposes": "marketing.email"}, "purpose"),  # not covered by the privacy notice
        ({"subject": "customer:42"}, "subject"),
    ],
)
def test_bad_input_is_typed_names_the_problem_and_writes_nothing(
    kit_and_clock, snapshot, change, where
) -> None:
    """Each kind of bad grant raises InvalidInput naming the field, and the stores are unchanged."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    args = {"subject": subject, "purposes": "personalization", "source": "web", **PRIVACY}
    args.update(change)
    before = snapshot(kit)
    with pytest.raises(InvalidInput) as caught:
        kit.consent.grant(args.pop("subject"), args.pop("purposes"), **args)
    assert where in {p.where for p in caught.value.problems}
    assert snapshot(kit) == before


def test_every_problem_is_reported_at_once(kit_and_clock) -> None:
    """A request with several mistakes lists them all."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    with pytest.raises(InvalidInput) as caught:
        kit.consent.refuse(
            subject, ["telepathy", "analytics"], notice="x", notice_version="y", source="z"
        )
    assert {p.where for p in caught.value.problems} == {"purposes[0]", "notice", "source"}


def test_unknown_subject_and_bad_pseudonym_are_typed(kit_and_clock) -> None:
    """A well-formed but unknown pseudonym is SubjectNotFound; a malformed one InvalidInput."""
    kit, _ = kit_and_clock
    with pytest.raises(SubjectNotFound):
        kit.consent.grant("sub_" + "a" * 26, "analytics", source="web", **PRIVACY)
    with pytest.raises(InvalidInput):
        kit.consent.allowed("alice@example.com", "analytics")
    with pytest.raises(InvalidInput, match="unknown purpose"):
        kit.consent.allowed("sub_" + "a" * 26, "telepathy")


@pytest.mark.parametrize("subject", NOT_SUBJECTS)
def test_a_non_str_subject_is_invalid_input_for_every_change(
    kit_and_clock, snapshot, subject
) -> None:
    """Changes given a non-str subject raise InvalidInput (not TypeError) and write nothing."""
    kit, _ = kit_and_clock
    consent = kit.consent
    before = snapshot(kit)
    calls = [
        lambda: consent.grant(subject, "personalization", source="web", **PRIVACY),
        lambda: consent.refuse(subject, "personalization", source="web", **PRIVACY),
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
    kit.consent.grant(subject, "personalization", source="web", **PRIVACY)
    assert kit.consent.allowed_many(subject, "personalization") == {"personalization": True}


def test_cascade_runs_in_the_withdrawal_transaction(kit_and_clock, snapshot) -> None:
    """Erasers delete derived data with the withdrawal; a failing one aborts the whole change."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    kit.vault.put_json(subject, "affinity", "personalization", {"shoes": 3.5})
    kit.consent.cascade.register(
        "personalization",
        "affinity",
        lambda s: int(kit.vault.delete(s, "affinity", "personalization")),
    )
    kit.consent.grant(subject, "personalization", source="web", **PRIVACY)
    receipt = kit.consent.withdraw(subject, "personalization", source="web")
    # personalization's own derived data (its aggregates) is counted under its cascade name
    assert receipt.deleted == {
        "personalization": {"affinity": 1, "personalization": 0, "profile": 0}
    }
    assert receipt.to_json()["deleted"] == {
        "personalization": {"affinity": 1, "personalization": 0, "profile": 0}
    }
    assert kit.vault.get(subject, "affinity", "personalization") is None

    def broken(_: str) -> int:
        raise RuntimeError("cannot delete")

    kit.consent.cascade.register("analytics", "broken", broken)
    kit.consent.grant(subject, "analytics", source="web", **PRIVACY)
    before = snapshot(kit)
    with pytest.raises(RuntimeError, match="cannot delete"):
        kit.consent.withdraw(subject, "analytics", source="web")
    assert snapshot(kit) == before
    assert kit.consent.allowed(subject, "analytics")
    with pytest.raises(InvalidInput):
        kit.consent.cascade.register("essential", "x", lambda s: 0)
    with pytest.raises(InvalidInput):
        kit.consent.cascade.register("analytics", "broken", lambda s: 0)


def test_audit_chain_verifies_after_many_changes_and_holds_no_identifiers(kit_and_clock) -> None:
    """Every change is audited under the subject ref; the chain verifies; no e-mail in it."""
    kit, clock = kit_and_clock
    subject = _subject(kit, "email:alice@example.com")
    kit.consent.grant(subject, ["personalization", "analytics"], source="web", **PRIVACY)
    kit.consent.refuse(subject, "marketing.sms", source="checkout", **MARKETING)
    kit.consent.record_gpc(subject, "1")
    kit.consent.withdraw(subject, "analytics", source="web")
    clock.advance(days=400)
    kit.consent.expire(subject)
    other = _subject(kit, "anon:cookie-1")
    kit.consent.grant(other, "analytics", source="web", **PRIVACY)
    kit.consent.merge(other, subject)
    entries = list(kit.audit.entries())
    assert [e.action for e in entries] == [
        "consent.given",
        "consent.refused",
        "consent.gpc",
        "consent.withdrawn",
        "consent.expired",
        "consent.given",
        "consent.merged",
    ]
    assert {e.subject for e in entries} == {kit.subject_ref(subject), kit.subject_ref(other)}
    assert kit.audit.verify().ok
    text = repr([e.to_json() for e in entries])
    assert "alice" not in text
    assert subject not in text


def test_compact_state_always_equals_the_full_ledger_derivation(kit_and_clock) -> None:
    """The per-purpose state record names the record decide() picks from the whole ledger."""
    kit, clock = kit_and_clock
    subject = _subject(kit)
    consent = kit.consent
    consent.grant(subject, "analytics", source="web", **PRIVACY)
    consent.refuse(subject, "analytics", source="web", **PRIVACY)
    consent.grant(subject, "analytics", source="web", **PRIVACY)  # same instant: stamped later
    assert consent.allowed(subject, "analytics")
    backdated = clock.now() - timedelta(days=30)
    late = consent.refuse(subject, "analytics", source="import", occurred_at=backdated, **PRIVACY)
    assert late.records[0].supersedes is None  # older than the decision in force
    assert consent.allowed(subject, "analytics")
    decided = consent.decisions(subject)
    assert consent.state(subject, "analytics").record == decided["analytics"]
    assert [r.seq for r in consent.ledger(subject)] == [1, 2, 3, 4]


def test_merge_never_lets_an_older_grant_beat_a_refusal(kit_and_clock) -> None:
    """Merge keeps the newest decision, ties go to the refusal, and re-merging copies nothing."""
    kit, clock = kit_and_clock
    anon = _subject(kit, "anon:cookie-9")
    known = _subject(kit, "customer:9")
    t0 = clock.now()
    kit.consent.grant(anon, "analytics", source="web", **PRIVACY)  # anon grant at t0
    kit.consent.refuse(known, "analytics", source="web", occurred_at=t0, **PRIVACY)  # tie
    clock.advance(hours=1)
    kit.consent.refuse(anon, "personalization", source="web", **PRIVACY)  # newer refusal
    kit.consent.grant(
        known,
        "personalization",
        source="web",
        occurred_at=t0,
        **PRIVACY,
    )  # older grant
    clock.advance(hours=1)
    kit.consent.grant(anon, "marketing.email", source="web", **MARKETING)  # only on anon
    receipt = kit.consent.merge(anon, known)
    assert len(receipt.records) == 3
    assert {r.origin for r in receipt.records} == {r.id for r in kit.consent.ledger(anon)}
    assert not kit.consent.allowed(known, "analytics")
    assert not kit.consent.allowed(known, "personalization")
    assert kit.consent.allowed(known, "marketing.email")
    copied_refusal = next(r for r in receipt.records if r.purpose == "personalization")
    assert copied_refusal.supersedes is not None
    assert kit.consent.merge(anon, known).changed is False
    assert kit.consent.decisions(known)["analytics"].status == "refused"


def test_no_consent_data_in_clear_on_disk(tmp_path, master_key) -> None:
    """On a DiskStore, no identifier, ledger JSON or compact state appears in clear in any file."""
    with Personakit.open(tmp_path / "store", keys=LocalKeyProvider(master_key)) as kit:
        subject = kit.identity.resolve("email:zoe.canary@example.org", create=True)
        receipt = kit.consent.grant(
            subject, ["personalization", "marketing.email"][:1], source="web", **PRIVACY
        )
        kit.consent.grant(subject, "marketing.email", source="checkout", **MARKETING)
        kit.consent.withdraw(subject, "personalization", source="web")
        record_id = receipt.records[0].id
        text_hash = receipt.records[0].notice_sha256
    root = tmp_path / "store"
    for needle in (
        b"zoe.canary@example.org",
        b'"recorded_at":',
        b'"lawful_basis":"consent"',
        b'"notice":{',
        b"given|",  # the compact state record
        text_hash.encode(),
        b"2027-02-04T09",  # an expiry date only the ledger holds
    ):
        assert find_bytes(root, needle) == [], needle
    # Audit entries are readable by design: they name the record, never the person.
    assert find_bytes(root, record_id.encode()) != []
