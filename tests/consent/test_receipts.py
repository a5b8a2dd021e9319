"""Receipts carry what ISO/IEC TS 27560 makes mandatory: storage, withdrawal, event type."""

from __future__ import annotations

import json

from personakit import LocalKeyProvider, Personakit, generate_master_key
from personakit.consent import RECEIPT_SCHEMA_VERSION, ConsentRecord, Manifest

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01"}


def test_receipts_name_storage_withdrawal_method_and_event_type(kit_and_clock) -> None:
    """Defaults: the store's kind, a withdrawal text naming the controller's contact."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:7", create=True)
    doc = kit.consent.grant(subject, "analytics", source="web", **PRIVACY).to_json()
    assert doc["schema_version"] == RECEIPT_SCHEMA_VERSION
    assert RECEIPT_SCHEMA_VERSION.startswith("personakit.consent-receipt/2 ")
    assert doc["storage_locations"] == ["personakit consent ledger (memory store)"]
    assert kit.consent.manifest.controller.contact in doc["withdrawal_method"]
    assert [e["event_type"] for e in doc["purposes"]] == ["explicit"]
    gpc = kit.consent.record_gpc(subject, "1").to_json()
    assert [e["event_type"] for e in gpc["purposes"]] == ["implied"]


def test_the_manifest_names_storage_locations_and_the_withdrawal_method() -> None:
    """``consent_records`` in the manifest overrides both defaults."""
    doc = json.loads(json.dumps(Manifest.default().document))
    doc["consent_records"] = {
        "storage_locations": ["PostgreSQL, eu-central-1 (Frankfurt)"],
        "withdrawal_method": "Privacy settings page, link in every e-mail footer",
    }
    manifest = Manifest.from_json(doc)
    with Personakit.open(
        "memory:", keys=LocalKeyProvider(generate_master_key()), manifest=manifest
    ) as kit:
        subject = kit.identity.resolve("customer:7", create=True)
        receipt = kit.consent.grant(subject, "analytics", source="web", **PRIVACY).to_json()
    assert receipt["storage_locations"] == ["PostgreSQL, eu-central-1 (Frankfurt)"]
    assert receipt["withdrawal_method"] == "Privacy settings page, link in every e-mail footer"


def test_ledger_records_written_before_receipts_v2_still_read(kit_and_clock) -> None:
    """A record in the old format (no new fields) loads, and its event type is derived."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:7", create=True)
    (record,) = kit.consent.grant(subject, "analytics", source="web", **PRIVACY).records
    old = record.to_json()
    old.pop("evidence")
    assert ConsentRecord.from_json(old).event_type == "explicit"
