"""Export (GDPR Art 15/20, CCPA right to know): complete, schema-valid, deterministic."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from personakit import InvalidInput, SubjectNotFound
from personakit.cli import main
from personakit.schema import load_schema, validate


def test_export_round_trip_holds_everything_recorded(kit_and_clock, populate) -> None:
    """Identifiers, traits, events and consent history all appear, and the schema validates."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice", events=5)
    doc = kit.rights.export("customer:c1")
    assert validate(doc, "export") == []
    assert doc["subject"] == {"id": subject, "ref": kit.subject_ref(subject)}
    assert [(i["kind"], i["value"]) for i in doc["identifiers"]] == [
        ("customer", "c1"),
        ("email", "alice@example.com"),
    ]
    assert doc["traits"]["email"]["value"] == "alice@example.com"
    assert doc["traits"]["first_name"]["category"] == "identity"
    assert [e["properties"]["item"] for e in doc["events"]] == [f"Alice-sku-{i}" for i in range(5)]
    history = doc["consent"]["history"]
    assert [(r["purpose"], r["status"]) for r in history] == [
        ("personalization", "given"),
        ("analytics", "given"),
        ("marketing.email", "given"),
        ("analytics", "withdrawn"),
    ]
    assert all(r["notice"]["version"] == "2026-01" for r in history)
    assert doc["consent"]["current"]["analytics"]["state"] == "withdrawn"
    purposes = {p["id"]: p for p in doc["processing"]["purposes"]}
    assert purposes["essential"]["lawful_basis"] == "contract"
    assert purposes["essential"]["applies"] is True
    assert purposes["personalization"]["retention"] == {"days": 730, "from": "last_activity"}
    assert purposes["analytics"]["applies"] is False
    assert {r["id"] for r in doc["processing"]["recipients"]} >= {"hosting", "esp"}
    assert {"section": "consent", "source": "web"} in doc["sources"]
    assert doc["controller"]["name"] == kit.manifest.controller.name
    assert doc["other_records"] == []


def test_export_is_deterministic_apart_from_generated_at(kit_and_clock, populate) -> None:
    """The same data exports to byte-identical canonical JSON and CSV zip, except generated_at."""
    kit, clock = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    first = kit.rights.export_document(subject)
    zipped = first.csv_zip()
    clock.advance(minutes=5)
    second = kit.rights.export_document(subject)
    assert first.data["generated_at"] != second.data["generated_at"]
    a, b = first.to_json(), second.to_json()
    a.pop("generated_at")
    b.pop("generated_at")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    clock.advance(minutes=-5)
    assert kit.rights.export_document(subject).canonical() == first.canonical()
    assert kit.rights.export_document(subject).csv_zip() == zipped


def test_unregistered_record_kinds_are_never_left_out(kit_and_clock, populate) -> None:
    """Records of a kind with no exporter appear in other_records: JSON decoded, else base64."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    kit.vault.put_json(subject, "journey-state", "birthday", {"step": 2})
    kit.vault.put(subject, "blob", "raw", b"\x00\xffnot json")
    doc = kit.rights.export(subject)
    assert validate(doc, "export") == []
    assert doc["other_records"] == [
        {"kind": "blob", "name": "raw", "encoding": "base64", "content": "AP9ub3QganNvbg=="},
        {"kind": "journey-state", "name": "birthday", "encoding": "json", "content": {"step": 2}},
    ]


def test_registered_exporter_fills_a_derived_data_section(kit_and_clock, populate) -> None:
    """A component's exporter turns its records into derived_data.<section>."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    kit.vault.put_json(subject, "affinity", "category", {"bread": 2.5})
    kit.rights.registry.register_exporter(
        "affinities",
        lambda _s, records: {r.name: r.json() for r in records},
        kinds="affinity",
    )
    doc = kit.rights.export(subject)
    assert doc["derived_data"] == {"affinities": {"category": {"bread": 2.5}}}
    assert doc["other_records"] == []
    with pytest.raises(InvalidInput):
        kit.rights.registry.register_exporter("again", lambda _s, _r: None, kinds="affinity")


def test_export_is_audited_without_identifiers(kit_and_clock, populate) -> None:
    """Export appends rights.export with the subject reference and counts, no identifier."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    kit.rights.export(subject)
    entry = list(kit.audit.entries())[-1]
    assert entry.action == "rights.export"
    assert entry.subject == kit.subject_ref(subject)
    assert entry.data["counts"]["identifiers"] == 2
    text = json.dumps(entry.to_json())
    assert "alice" not in text.lower()
    assert subject not in text


def test_unknown_and_malformed_identifiers_get_typed_errors(kit_and_clock, populate) -> None:
    """An unknown identifier is SubjectNotFound naming its kind only; a bad one InvalidInput."""
    kit, _ = kit_and_clock
    with pytest.raises(SubjectNotFound, match="email identifier") as caught:
        kit.rights.export("email:nobody@example.com")
    assert "nobody" not in str(caught.value)
    with pytest.raises(SubjectNotFound):
        kit.rights.export("sub_" + "a" * 26)
    with pytest.raises(InvalidInput):
        kit.rights.export("email:not-an-address")
    with pytest.raises(InvalidInput):
        kit.rights.export("sub_NOPE")


def test_csv_bundle_has_one_file_per_record_type(kit_and_clock, populate) -> None:
    """The zip holds one CSV per record type and neutralizes spreadsheet formulas."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    kit.vault.put_json(subject, "traits", "current", {"first_name": {"value": "=HYPERLINK(1)"}})
    bundle = zipfile.ZipFile(io.BytesIO(kit.rights.export_csv(subject)))
    names = bundle.namelist()
    assert names == sorted(names)
    assert {
        "README.txt",
        "subject.csv",
        "identifiers.csv",
        "traits.csv",
        "events.csv",
        "consent_history.csv",
        "consent_current.csv",
        "purposes.csv",
        "recipients.csv",
        "sources.csv",
        "other_records.csv",
    } <= set(names)
    rows = list(csv.DictReader(io.StringIO(bundle.read("traits.csv").decode())))
    assert rows == [
        {
            "trait": "first_name",
            "value": "'=HYPERLINK(1)",
            "updated_at": "",
            "source": "",
            "category": "identity",
            "personal": "true",
        }
    ]
    events = list(csv.DictReader(io.StringIO(bundle.read("events.csv").decode())))
    assert len(events) == 3


def test_cli_exports_json_and_csv_and_prints_the_schema(tmp_path, master_key, monkeypatch, capsys):
    """`subject export` prints valid JSON, writes a 0600 zip, and `schema export` prints it."""
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    store = ["--store", str(tmp_path / "store"), "--create"]
    grant = ["--notice", "privacy_notice", "--notice-version", "2026-01", "--source", "web"]
    assert main([*store, "consent", "grant", "customer:c9", "personalization", *grant]) == 0
    capsys.readouterr()
    assert main([*store, "subject", "export", "customer:c9"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert validate(doc, "export") == []
    out = tmp_path / "export.zip"
    csv_args = ["--format", "csv", "--out", str(out)]
    assert main([*store, "subject", "export", "customer:c9", *csv_args]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert zipfile.ZipFile(out).testzip() is None
    assert main([*store, "subject", "export", "customer:c9", "--format", "csv"]) == 2
    capsys.readouterr()
    assert main(["schema", "export"]) == 0
    assert json.loads(capsys.readouterr().out) == load_schema("export")


def test_everything_ingested_in_bulk_appears_in_the_export(kit_and_clock) -> None:
    """Consent, traits, events and a linked identifier, ingested as JSON lines, all export."""
    kit, _ = kit_and_clock
    at = "2026-01-05T08:00:00Z"
    summary = kit.ingest(
        [
            {
                "kind": "consent",
                "subject": "customer:c9",
                "purpose": "personalization",
                "status": "given",
                "notice": "privacy_notice",
                "notice_version": "2026-01",
                "source": "web",
                "at": at,
            },
            {
                "kind": "traits",
                "subject": "customer:c9",
                "traits": {"email": "nine@example.com", "birthday": "1990-02-03"},
                "at": at,
            },
            {
                "kind": "event",
                "subject": "anon:v9",
                "name": "purchase",
                "channel": "web",
                "at": at,
                "properties": {"item": "tart"},
            },
            {"kind": "link", "subject": "anon:v9", "to": "customer:c9", "at": at},
            {
                "kind": "event",
                "subject": "customer:c9",
                "name": "product_view",
                "channel": "web",
                "at": at,
                "properties": {"item": "bun"},
            },
        ]
    )
    assert summary.rejected == 0
    doc = kit.rights.export("customer:c9")
    assert validate(doc, "export") == []
    assert {(i["kind"], i["value"]) for i in doc["identifiers"]} == {
        ("anon", "v9"),
        ("customer", "c9"),
    }
    assert {name: t["value"] for name, t in doc["traits"].items()} == {
        "birthday": "1990-02-03",
        "email": "nine@example.com",
    }
    assert sorted(e["properties"]["item"] for e in doc["events"]) == ["bun", "tart"]
    assert [r["status"] for r in doc["consent"]["history"]] == ["given"]
    assert doc["other_records"] == []
