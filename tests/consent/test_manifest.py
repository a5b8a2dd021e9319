"""The purposes manifest, its JSON Schema, and personakit.schema's error reporting."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from personakit import InvalidInput, InvalidManifest, LocalKeyProvider, Personakit
from personakit import schema as pk_schema
from personakit.consent import Manifest

CANARY = "canary-7f3a@leak.example"


def _doc() -> dict:
    return Manifest.default().to_json()


def test_default_manifest_validates_and_has_the_shop_purposes() -> None:
    """The shipped manifest validates and declares the seven shop purposes with their bases."""
    manifest = Manifest.default()
    assert pk_schema.validate(manifest.to_json(), "manifest") == []
    bases = {p.id: p.lawful_basis for p in manifest.purposes}
    assert bases == {
        "essential": "contract",
        "personalization": "consent",
        "analytics": "consent",
        "marketing.email": "consent",
        "marketing.sms": "consent",
        "marketing.push": "consent",
        "sale_sharing": "consent",
    }
    assert manifest.purpose("marketing.sms").channel == "sms"
    assert manifest.purpose("sale_sharing").gpc_opt_out
    assert manifest.controller.dpo_contact
    assert manifest.max_consent_age == timedelta(days=395)


def test_default_manifest_declares_traits_and_events_for_the_profiles_issue() -> None:
    """Traits carry a schema, category and personal flag; events a category and purposes."""
    manifest = Manifest.default()
    traits = {t.name: t for t in manifest.traits}
    assert set(traits) >= {"email", "first_name", "phone", "birthday", "timezone"}
    assert traits["email"].personal
    assert not traits["timezone"].personal
    assert pk_schema.validate("a@b.example", traits["email"].schema) == []
    assert pk_schema.validate("not-an-email", traits["email"].schema) != []
    events = {e.kind: e for e in manifest.events}
    assert events["email_open"].purposes == ("marketing.email",)
    assert {"page_view", "purchase", "store_visit", "push_open"} <= set(events)


def test_invalid_manifest_reports_every_problem_at_once() -> None:
    """Several schema violations come back together in one InvalidManifest, with JSON paths."""
    doc = _doc()
    doc["purposes"][2]["lawful_basis"] = "because"
    doc["controller"]["contact"] = "nobody"
    del doc["purposes"][0]["retention"]
    doc["notices"][0]["text_sha256"] = "xyz"
    with pytest.raises(InvalidManifest) as caught:
        Manifest.from_json(doc)
    where = {p.where for p in caught.value.problems}
    assert {
        "$.purposes[2].lawful_basis",
        "$.controller.contact",
        "$.purposes[0].retention",
        "$.notices[0].text_sha256",
    } <= where
    what = {p.where: p.what for p in caught.value.problems}
    assert what["$.purposes[2].lawful_basis"].startswith("must be one of: consent, contract")
    assert what["$.controller.contact"] == "does not match the required format 'email'"


def test_manifest_errors_never_echo_the_offending_values() -> None:
    """A canary used as a bad value in many places never appears in the exception text."""
    doc = _doc()
    doc["purposes"][1]["lawful_basis"] = CANARY
    doc["purposes"][1]["retention"]["days"] = CANARY
    doc["controller"]["contact"] = CANARY
    doc["notices"][0]["version"] = CANARY + " !"
    doc["purposes"][3]["channel"] = CANARY
    doc["purposes"][0][CANARY] = 1
    doc["max_consent_age_days"] = [CANARY]
    with pytest.raises(InvalidManifest) as caught:
        Manifest.from_json(doc)
    assert len(caught.value.problems) == 6
    assert CANARY not in str(caught.value)
    assert "canary" not in repr(caught.value.problems)


def test_dangling_references_and_duplicates_are_reported_together() -> None:
    """Undeclared categories, notices, recipients, event purposes and duplicate ids all show."""
    doc = _doc()
    doc["purposes"][1]["data_categories"].append("nowhere")
    doc["purposes"][1]["notice"] = "missing_notice"
    doc["purposes"][3]["recipients"] = ["ghost"]
    doc["events"]["page_view"]["purposes"] = ["telepathy"]
    doc["purposes"].append(dict(doc["purposes"][0]))
    with pytest.raises(InvalidManifest) as caught:
        Manifest.from_json(doc)
    got = {(p.where, p.what) for p in caught.value.problems}
    assert ("$.purposes[1].notice", "undeclared notice") in got
    assert ("$.purposes[3].recipients[0]", "undeclared recipient") in got
    assert ("$.events.page_view.purposes[0]", "undeclared purpose") in got
    assert ("$.purposes[7]", "duplicate id") in got
    assert any(w.startswith("$.purposes[1].data_categories") for w, _ in got)


def test_marketing_purposes_need_a_channel_and_consent_purposes_a_notice() -> None:
    """The schema's conditional rules: marketing.* requires channel, consent requires notice."""
    doc = _doc()
    del doc["purposes"][3]["channel"]
    del doc["purposes"][1]["notice"]
    with pytest.raises(InvalidManifest) as caught:
        Manifest.from_json(doc)
    assert {p.where for p in caught.value.problems} == {
        "$.purposes[3].channel",
        "$.purposes[1].notice",
    }


def test_manifest_file_is_loaded_by_the_kit(tmp_path, master_key) -> None:
    """Personakit.open(manifest=path) loads the file; a broken file opens nothing."""
    doc = _doc()
    doc["controller"]["name"] = "Other Shop"
    good = tmp_path / "manifest.json"
    good.write_text(json.dumps(doc), encoding="utf-8")
    with Personakit.open("memory:", keys=LocalKeyProvider(master_key), manifest=good) as kit:
        assert kit.manifest.controller.name == "Other Shop"
        assert kit.consent.manifest is kit.manifest
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidManifest):
        Personakit.open(tmp_path / "store", keys=LocalKeyProvider(master_key), manifest=bad)
    assert not (tmp_path / "store").exists()


def test_schema_module_general_api() -> None:
    """validate() takes a schema dict or a shipped name; check() raises with every problem."""
    schema = {
        "type": "object",
        "required": ["a", "b"],
        "properties": {"a": {"type": "integer", "minimum": 3}, "b": {"enum": ["x", "y"]}},
        "additionalProperties": False,
    }
    problems = pk_schema.validate({"a": 1, "zz": CANARY}, schema)
    assert [(p.where, p.what) for p in problems] == [
        ("$", "has unexpected properties: zz"),
        ("$.a", "must be >= 3"),
        ("$.b", "is required"),
    ]
    with pytest.raises(InvalidInput) as caught:
        pk_schema.check({"a": CANARY, "b": CANARY}, schema, where="$.traits")
    assert CANARY not in str(caught.value)
    assert {p.where for p in caught.value.problems} == {"$.traits.a", "$.traits.b"}
    assert "manifest" in pk_schema.schema_names()
    assert pk_schema.compile_schema("manifest") is pk_schema.compile_schema("manifest")
    with pytest.raises(InvalidInput):
        pk_schema.compile_schema({"type": 12})


def test_personal_looking_property_names_are_not_printed() -> None:
    """An e-mail address used as a key is counted, not shown, in paths and messages."""
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    problems = pk_schema.validate({CANARY: "x"}, schema)
    assert problems
    assert CANARY not in repr(problems)
    closed = {"type": "object", "properties": {}, "additionalProperties": False}
    assert CANARY not in repr(pk_schema.validate({CANARY: 1}, closed))
