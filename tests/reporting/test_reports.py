"""The reports: schemas on an empty and a populated store, exact figures, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from _facts_double import BAKERY_RULES
from personakit import FixedClock, LocalKeyProvider, Personakit, generate_master_key
from personakit.cli import _report
from personakit.consent import Manifest
from personakit.exceptions import InvalidInput, PersonakitError, SubjectNotFound
from personakit.personalization import Vocabulary, compile_rule_set
from personakit.reporting import FORMATS, KINDS, report_schema
from personakit.rights import OperatorAttestation
from personakit.storage import MemoryStore

from . import report_schemas
from ._scenario import NOW, apply_consents, dsr_requests, manifest, open_kit, releases

PEOPLE = [("grant", False)] * 6 + [("refuse", True)] * 2 + [("withdraw", False)] * 5


@pytest.fixture
def populated() -> Iterator[tuple[Personakit, FixedClock, dict[str, Any]]]:
    """A kit with consents, GPC, requests on time and late, DP releases and events."""
    clock = FixedClock(NOW)
    with open_kit(clock=clock) as kit:
        subjects = apply_consents(kit, PEOPLE)
        truth = dsr_requests(kit, clock)
        truth["epsilons"] = list(releases(kit))
        truth["subjects"] = subjects
        kit.track("customer:0", "product_view", channel="web", properties={"item": "loaf-1"})
        yield kit, clock, truth


def tables(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A report's rows by table id."""
    return {t["id"]: t["rows"] for t in doc["tables"]}


def test_shipped_schemas_are_the_generated_ones() -> None:
    """schemas/reports/*.schema.json equal tests/reporting/report_schemas.py's output."""
    for kind in (*KINDS, "consent-dossier"):
        assert report_schema(kind) == json.loads(report_schemas.text(kind)), kind


def test_cli_lists_the_same_kinds_and_formats() -> None:
    """The CLI keeps its own copy of the kinds (a light --help): it must not drift."""
    assert _report.KINDS == KINDS
    assert _report.FORMATS == FORMATS


@pytest.mark.parametrize("kind", KINDS)
def test_every_report_validates_on_an_empty_store(kind: str) -> None:
    """An empty store gives valid, empty reports (journeys: enabled, nothing produced)."""
    with open_kit() as kit:
        doc = kit.reports.build(kind)
        assert kit.reports.validate(doc) == []
        for fmt in FORMATS:
            assert kit.reports.render(kind, format=fmt)
    if kind == "journeys":  # kit.journeys offers its actions: enabled, with nothing to count
        assert doc["summary"]["enabled"] is True
        assert doc["summary"]["actions"] == 0


def test_every_report_validates_on_a_populated_store(populated: Any) -> None:
    """Every report and the dossier validate with data in every section."""
    kit, _, truth = populated
    for kind in KINDS:
        doc = kit.reports.build(kind)
        assert kit.reports.validate(doc) == [], kind
    dossier = kit.reports.build("consent", subject="customer:6")
    assert kit.reports.validate(dossier) == []
    assert dossier["summary"] == {"subject": truth["subjects"][6], "records": 2, "receipts": 2}
    ledger = kit.consent.ledger(truth["subjects"][6])
    receipts = tables(dossier)["receipts"]
    assert [r["receipt"] for r in receipts] == [r.receipt_id for r in ledger]
    entries = {e.seq: e.hash for e in kit.audit.entries()}
    assert all(entries[r["audit_seq"]] == r["entry_hash"] for r in receipts)


def test_dsr_report_equals_the_truth(populated: Any) -> None:
    """Days to respond, on-time share, complied / denied, the overdue list: exact."""
    kit, _, truth = populated
    doc = kit.reports.build("dsr")
    rows = {r["id"]: r for r in tables(doc)["requests"]}
    assert rows[truth["on_time"]]["days_to_respond"] == 10
    assert rows[truth["on_time"]]["on_time"] is True
    assert rows[truth["late"]]["days_to_respond"] == 50
    assert rows[truth["late"]]["on_time"] is False
    assert rows[truth["denied"]]["outcome"] == "denied"
    assert rows[truth["open"]]["outcome"] == "open"
    summary = doc["summary"]
    assert summary["received"] == 5
    assert (summary["complied"], summary["denied"], summary["open"]) == (2, 1, 2)
    assert summary["median_days"] == 10.0
    assert summary["mean_days"] == round((10 + 50 + 3) / 3, 2)
    assert summary["on_time_share"] == round(2 / 3, 4)
    assert [r["id"] for r in tables(doc)["overdue"]] == [truth["overdue"]]
    assert summary["overdue"] == 1
    yearly = {(r["year"], r["kind"]): r for r in tables(doc)["yearly"]}
    access = yearly[(NOW.year, "access")]
    assert (access["received"], access["complied"], access["open"]) == (4, 2, 2)
    assert access["median_days"] == 30.0


def test_budget_report_lists_every_release_and_spends_nothing(populated: Any) -> None:
    """Cap, spent, who / why / when of each release; building every report spends nothing."""
    kit, _, truth = populated
    before = kit.analytics.budget("customers")
    doc = kit.reports.build("budget")
    for kind in KINDS:
        kit.reports.build(kind)
    assert kit.analytics.budget("customers") == before
    (row,) = tables(doc)["datasets"]
    assert row["cap"] == 2.0
    assert row["spent"] == pytest.approx(sum(truth["epsilons"]))
    assert row["releases"] == 2
    assert [(r["actor"], r["reason"]) for r in tables(doc)["releases"]] == [
        ("analyst", "weekly count"),
        ("analyst", "monthly count"),
    ]


def test_ropa_lists_transfers_and_the_running_security_settings(tmp_path: Path) -> None:
    """Art. 30(1)(e) comes from the manifest, (g) from the store actually opened."""
    with open_kit(str(tmp_path / "store")) as kit:
        doc = kit.reports.build("ropa")
    rows = tables(doc)
    assert rows["transfers"] == [
        {
            "recipient": "push_service",
            "country": "US",
            "safeguards": "EU standard contractual clauses",
            "purposes": ["marketing.push"],
        }
    ]
    security = {r["measure"]: r["value"] for r in rows["security"]}
    assert security["data_store"] == "DiskStore"
    assert security["key_provider"] == "LocalKeyProvider"
    assert security["store.secure_delete"] == 1
    with open_kit() as kit:
        memory = {r["measure"]: r["value"] for r in tables(kit.reports.build("ropa"))["security"]}
    assert memory["data_store"] == "MemoryStore"
    assert "store.secure_delete" not in memory


def test_minimization_compares_collected_with_what_rules_read(populated: Any) -> None:
    """Rules registered through add_reads mark what they read used; the rest is listed."""
    kit, _, _ = populated
    vocabulary = Vocabulary.from_manifest(kit.manifest, segments={"vip": ["purchases"]})
    rules = compile_rule_set(BAKERY_RULES, vocabulary)
    kit.reports.add_reads("rules", rules.reads)
    doc = kit.reports.build("minimization")
    assert kit.reports.validate(doc) == []
    segments = kit._segment_reads()
    assert {f"segment.{s.name}" for s in kit.personalization.segments()} == set(segments)
    read = set().union(
        *(set(r["categories"]) for r in [*rules.reads().values(), *segments.values()])
    )
    categories = {r["category"]: r for r in tables(doc)["categories"]}
    for category, row in categories.items():
        # journeys, analytics and predictive read too (test_minimization_reads.py): here, the
        # rules' and segments' own readers are exactly those whose categories include it.
        ours = {r for r in row["read_by"] if r.split(":")[0] in {"rules", "personalization"}}
        assert bool(ours) is (category in read), category
        assert row["used"] is bool(row["read_by"]), category
        assert row["justified_by"] == [
            p.id for p in kit.manifest.purposes if category in p.data_categories
        ]
    assert doc["summary"]["readers"] == [
        "analytics",
        "journeys",
        "personalization",
        "predictive",
        "recommendations",
        "rules",
    ]
    traits = {r["trait"]: r for r in tables(doc)["traits"]}
    assert "personalization:segment.birthday_this_month" in traits["birthday"]["read_by"]


def test_retention_report_shows_what_is_due_and_the_last_sweep(populated: Any) -> None:
    """An event past its category's retention is due; after a sweep, it is in the sweep list."""
    kit, clock, _ = populated
    browsing = kit.manifest.purpose("personalization").retention_days
    clock.advance(timedelta(days=4000 + browsing))
    due = kit.reports.build("retention")
    assert due["summary"]["events_due"] == 1
    report = kit.retention.sweep(clock.now())
    swept = kit.reports.build("retention")
    assert swept["summary"]["events_due"] == 0
    assert tables(swept)["sweeps"][-1]["removed"] == sum(report.removed.values())


def test_audit_report_verifies_the_chain(populated: Any) -> None:
    """ok, head and length are the chain's own."""
    kit, _, _ = populated
    doc = kit.reports.build("audit")
    seq, head = kit.audit.head()
    assert doc["summary"]["ok"] is True
    assert (doc["summary"]["head_seq"], doc["summary"]["head_hash"]) == (seq, head)
    assert doc["summary"]["entries"] == seq
    assert tables(doc)["chains"] == [{"chain": 0, "head_seq": seq, "head_hash": head}]


def test_audit_report_shows_every_chain() -> None:
    """A log spread over several chains: one row per chain head, entries their sum."""
    with Personakit(
        store=MemoryStore(),
        key_store=MemoryStore(),
        keys=LocalKeyProvider(generate_master_key()),
        audit_chains=4,
    ) as kit:
        apply_consents(kit, [("grant", False)] * 5)
        doc = kit.reports.build("audit")
        assert kit.reports.validate(doc) == []
    chains = tables(doc)["chains"]
    assert [row["chain"] for row in chains] == [0, 1, 2, 3]
    assert doc["summary"]["entries"] == sum(row["head_seq"] for row in chains)


def test_inventory_lists_every_registered_record_kind() -> None:
    """Every record kind in the registry appears, with its owner and purposes."""
    with open_kit() as kit:
        doc = kit.reports.build("inventory")
        names = [r["name"] for r in tables(doc)["record_kinds"]]
        assert names == kit.registries.record_kinds.names()


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (lambda r: r.build("nope"), "kind"),
        (lambda r: r.build(None), "kind"),
        (lambda r: r.render("ropa", format="pdf"), "format"),
        (lambda r: r.build("ropa", subject="customer:1"), "subject"),
        (lambda r: r.build("consent", k=0), "k"),
        (lambda r: r.build("consent", k=True), "k"),
        (lambda r: r.add_section("nope", list), "name"),
        (lambda r: r.add_reads("Bad Owner", dict), "owner"),
        (lambda r: r.add_reads("x", 3), "source"),
    ],
)
def test_bad_requests_get_invalid_input(call: Any, where: str) -> None:
    """Unknown kind, format, misplaced subject, bad k or registration: InvalidInput."""
    with open_kit() as kit, pytest.raises(InvalidInput) as caught:
        call(kit.reports)
    assert where in {p.where for p in caught.value.problems}


def test_an_unknown_subject_is_not_found() -> None:
    """The dossier of nobody is SubjectNotFound, not an empty dossier."""
    with open_kit() as kit, pytest.raises(SubjectNotFound):
        kit.reports.build("consent", subject="customer:404")


def test_write_refuses_a_non_empty_target(tmp_path: Path) -> None:
    """An existing non-empty file is never overwritten; an empty one is."""
    target = tmp_path / "ropa.json"
    target.write_text("keep me")
    with open_kit() as kit:
        with pytest.raises(InvalidInput):
            kit.reports.write("ropa", target)
        assert target.read_text() == "keep me"
        empty = tmp_path / "empty.html"
        empty.touch()
        kit.reports.write("ropa", empty, format="html")
        assert empty.read_text().startswith("<!DOCTYPE html>")
        assert empty.stat().st_mode & 0o077 == 0  # owner only: a dossier is personal data
        with pytest.raises(PersonakitError):
            kit.reports.write("ropa", tmp_path / "missing" / "x.json")


def test_reports_hold_no_identifier_or_pseudonym(populated: Any, tmp_path: Path) -> None:
    """No report of the pack names a subject: not a pseudonym, not an identifier."""
    kit, _, truth = populated
    kit.reports.pack(tmp_path / "pack")
    needles = [*truth["subjects"], "a@example.com", "loaf-1"]
    for file in (tmp_path / "pack").iterdir():
        text = file.read_text("utf-8")
        assert not [n for n in needles if n in text], file.name


def test_manifest_rejects_a_transfer_to_an_undeclared_recipient() -> None:
    """transfers[].recipient must be a declared recipient."""
    doc = Manifest.default().to_json()
    doc["transfers"] = [{"recipient": "nobody", "country": "US", "safeguards": "SCC"}]
    with pytest.raises(InvalidInput) as caught:
        Manifest.from_json(doc)
    assert [p.where for p in caught.value.problems] == ["$.transfers[0].recipient"]


def test_ropa_derives_the_categories_of_data_subjects_from_the_purposes() -> None:
    """Default manifest: customers, visitors and subscribers, each with the purposes that
    concern them, and the subjects the store holds in each (exact)."""
    with open_kit() as kit:
        shown = {"notice": "marketing_notice", "notice_version": "2026-01", "source": "web"}
        buyer = kit.identity.resolve("customer:buyer", create=True)
        kit.track("customer:buyer", "purchase", channel="web", properties={"item": "p1"})
        kit.consent.grant(buyer, "marketing.email", **shown)
        browser = kit.identity.resolve("customer:browser", create=True)
        # browsing is kept only when a purpose that reads it is allowed
        kit.consent.grant(browser, "personalization", **{**shown, "notice": "privacy_notice"})
        kit.track("customer:browser", "page_view", channel="web", properties={})
        quitter = kit.identity.resolve("customer:quitter", create=True)
        kit.consent.grant(quitter, "marketing.sms", **shown)
        kit.consent.withdraw(quitter, "marketing.sms", source="email_link")
        kit.identity.resolve("customer:idle", create=True)
        doc = kit.reports.build("ropa")
        assert kit.reports.validate(doc) == []
        purposes = {p.id: p for p in kit.manifest.purposes}
    rows = {r["category"]: r for r in tables(doc)["subjects"]}
    assert set(rows) == {"customers", "visitors", "subscribers"}
    assert rows["subscribers"]["purposes"] == [p for p in purposes if p.startswith("marketing.")]
    assert rows["customers"]["purposes"] == [
        "essential",
        "personalization",
        "analytics",
        "sale_sharing",
    ]
    assert rows["visitors"]["purposes"] == rows["customers"]["purposes"]
    assert {r["source"] for r in rows.values()} == {"derived"}
    # buyer: purchases; browser: browsing; buyer allows marketing e-mail, quitter withdrew
    held = {c: r["subjects_held"] for c, r in rows.items()}
    assert held == {"customers": 1, "visitors": 1, "subscribers": 1}
    assert doc["summary"]["subjects_held"] == 4


def test_ropa_lists_the_categories_a_purpose_declares() -> None:
    """``data_subject_categories`` on a purpose replaces the derived ones for that purpose; a
    category only declared is listed with no count; a bad name is rejected with the manifest."""
    doc = manifest().to_json()
    for purpose in doc["purposes"]:
        if purpose["id"] == "marketing.email":
            purpose["data_subject_categories"] = ["subscribers", "prospects"]
        if purpose["id"] == "essential":
            purpose["data_subject_categories"] = ["customers", "employees"]
    custom = Manifest.from_json(doc)
    with Personakit.open(
        "memory:", keys=LocalKeyProvider(generate_master_key()), manifest=custom
    ) as kit:
        report = kit.reports.build("ropa")
        assert kit.reports.validate(report) == []
    rows = {r["category"]: r for r in tables(report)["subjects"]}
    assert rows["prospects"]["purposes"] == ["marketing.email"]
    assert rows["prospects"]["subjects_held"] is None
    assert rows["employees"]["description"] == "employees: declared in the manifest"
    assert rows["employees"]["source"] == "declared"
    assert rows["customers"]["source"] == "declared and derived"
    assert rows["subscribers"]["purposes"] == ["marketing.email", "marketing.sms", "marketing.push"]
    for bad in (["Bad Name"], [], ["x", "x"], "customers"):
        purpose = next(p for p in doc["purposes"] if p["id"] == "analytics")
        purpose["data_subject_categories"] = bad
        with pytest.raises(InvalidInput):
            Manifest.from_json(doc)


def test_dsr_report_counts_requests_complied_with_in_part() -> None:
    """A request completed with a result naming what was withheld is complied with in part:
    counted in ``complied`` (the CCPA figure) and apart in ``complied_in_part``."""
    clock = FixedClock(NOW)
    with open_kit(clock=clock) as kit:
        book = kit.rights.requests
        verifier = OperatorAttestation(method="test")
        made = [
            book.open("access", f"email:{n}@example.com", jurisdiction="ccpa", channel="email")
            for n in range(3)
        ]
        results = [
            {"note": "sent"},
            {"withheld": ["trade secrets in the scoring model"]},
            {"withheld": ["orders under a legal hold until 2027"], "note": "rest erased"},
        ]
        for request, result in zip(made, results, strict=True):
            book.verify(request.id, verifier=verifier)
            book.start(request.id)
            book.complete(request.id, result)
        doc = kit.reports.build("dsr")
        assert kit.reports.validate(doc) == []
    outcomes = {r["id"]: r["outcome"] for r in tables(doc)["requests"]}
    assert [outcomes[r.id] for r in made] == ["complied", "complied_in_part", "complied_in_part"]
    assert (doc["summary"]["complied"], doc["summary"]["complied_in_part"]) == (3, 2)
    (yearly,) = tables(doc)["yearly"]
    assert (yearly["complied"], yearly["complied_in_part"], yearly["denied"]) == (3, 2, 0)
    text = json.dumps(doc)
    assert "trade secrets" not in text
    assert "legal hold" not in text
