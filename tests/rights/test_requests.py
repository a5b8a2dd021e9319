"""The data-subject request workflow: deadlines by jurisdiction, states, extension, denial."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from personakit import ConfigurationError, FixedClock, InvalidInput, LocalKeyProvider, Personakit
from personakit.cli import main
from personakit.exceptions import InvalidTransition
from personakit.rights import OperatorAttestation, RequestState, VerificationResult
from personakit.testing import find_bytes, memory_kit

OK = OperatorAttestation(method="email_link")
PERSONAL = ("alice@example.com", "Bob Smith", "555 123 4567")


def _kit(at: datetime):
    return memory_kit(clock=FixedClock(at))


def test_gdpr_deadlines_across_month_ends_and_leap_years() -> None:
    """Received 31 Jan: due 29 Feb in a leap year, 28 Feb otherwise; extended to 30 April."""
    for year, due_day in ((2024, 29), (2023, 28)):
        received = datetime(year, 1, 31, 15, 0, tzinfo=UTC)
        kit, clock = _kit(received)
        with kit:
            request = kit.rights.requests.open(
                "access", "email:a@example.com", jurisdiction="gdpr", channel="email"
            )
            assert request.due_at.date() == date(year, 2, due_day)
            clock.set(datetime(year, 2, due_day, 23, 0, tzinfo=UTC))
            extended = kit.rights.requests.extend(request.id, reason="complex request, Art 12(3)")
            assert extended.extended_due_at is not None
            assert extended.extended_due_at.date() == date(year, 4, 30)
            assert extended.deadline == extended.extended_due_at
            assert not extended.overdue(clock.now())


def test_ccpa_deadlines_and_the_opt_out_without_extension() -> None:
    """CCPA: 45 days (+45 once); opt-out: 15 business days, and no extension exists."""
    kit, _ = _kit(datetime(2026, 12, 31, 10, 0, tzinfo=UTC))
    with kit:
        book = kit.rights.requests
        access = book.open("access", "customer:9", jurisdiction="ccpa", channel="web_form")
        assert access.due_at.date() == date(2027, 2, 14)
        assert book.extend(access.id, reason="volume").extended_due_at.date() == date(2027, 3, 31)
        opt_out = book.open("opt_out_sale", "customer:9", jurisdiction="ccpa", channel="web_form")
        assert opt_out.due_at.date() == date(2027, 1, 21)
        with pytest.raises(InvalidTransition, match="no extension"):
            book.extend(opt_out.id, reason="volume")
        with pytest.raises(InvalidInput):
            book.open("restriction", "customer:9", jurisdiction="ccpa", channel="email")


def test_extension_is_allowed_once_and_only_before_the_original_deadline() -> None:
    """A second extension, or one after the original deadline, is an InvalidTransition."""
    kit, clock = _kit(datetime(2026, 3, 31, 9, 0, tzinfo=UTC))
    with kit:
        book = kit.rights.requests
        first = book.open("erasure", "customer:1", jurisdiction="gdpr", channel="email")
        assert first.due_at.date() == date(2026, 4, 30)
        book.extend(first.id, reason="many requests")
        with pytest.raises(InvalidTransition, match="already extended"):
            book.extend(first.id, reason="again")
        late = book.open("erasure", "customer:2", jurisdiction="gdpr", channel="email")
        clock.set(datetime(2026, 5, 1, 0, 1, tzinfo=UTC))
        with pytest.raises(InvalidTransition, match="deadline has passed"):
            book.extend(late.id, reason="too late")
        with pytest.raises(InvalidInput):
            book.extend(late.id, reason="")


def test_deny_requires_a_legal_basis_and_closes_the_request(kit_and_clock) -> None:
    """deny() without a basis is refused; with one the request is denied and closed."""
    kit, _ = kit_and_clock
    book = kit.rights.requests
    request = book.open("access", "customer:1", jurisdiction="gdpr", channel="email")
    with pytest.raises(InvalidInput):
        book.deny(request.id, basis="")
    with pytest.raises(InvalidInput):
        book.deny(request.id, basis="  ")
    denied = book.deny(request.id, basis="GDPR Art 12(5)(b): manifestly unfounded")
    assert denied.state is RequestState.DENIED
    assert denied.denial_basis.startswith("GDPR Art 12(5)")
    assert not denied.is_open
    assert denied.answered_at == denied.transitions[-1].at
    for step in (
        lambda: book.deny(request.id, basis="GDPR Art 12(5)"),
        lambda: book.verify(request.id, verifier=OK),
        lambda: book.extend(request.id, reason="late"),
        lambda: kit.rights.run_request(request.id),
    ):
        with pytest.raises(InvalidTransition):
            step()


def test_invalid_transitions_raise_typed_errors(kit_and_clock) -> None:
    """Run before verification, verifying twice, completing a received request: all refused."""
    kit, _ = kit_and_clock
    book = kit.rights.requests
    request = book.open("opt_out_sale", "customer:1", jurisdiction="ccpa", channel="email")
    with pytest.raises(InvalidTransition, match="received"):
        kit.rights.run_request(request.id)
    with pytest.raises(InvalidTransition):
        book.complete(request.id, {})
    with pytest.raises(InvalidTransition):
        book.start(request.id)
    book.verify(request.id, verifier=OK)
    with pytest.raises(InvalidTransition):
        book.verify(request.id, verifier=OK)
    with pytest.raises(InvalidInput):
        book.get("dsr_nope")


@pytest.mark.parametrize(
    ("identifiers", "parameters"),
    [
        (None, None),
        (1, None),
        ("email:a@b.example", [1]),
        ("email:a@b.example", {1: "json"}),
        ("email:a@b.example", {"format": float("nan")}),
        ("email:a@b.example", {"format": object()}),
    ],
)
def test_opening_a_malformed_request_is_invalid_input(
    kit_and_clock, snapshot, identifiers, parameters
):
    """Malformed identifiers or parameters raise InvalidInput, and no request is written."""
    kit, _ = kit_and_clock
    before = snapshot(kit)
    with pytest.raises(InvalidInput):
        kit.rights.requests.open(
            "access", identifiers, jurisdiction="gdpr", channel="email", parameters=parameters
        )
    assert snapshot(kit) == before


def test_unknown_request_parameter_names_are_not_echoed(kit_and_clock) -> None:
    """An unknown parameter name (which may be anything) never appears in the error."""
    kit, _ = kit_and_clock
    with pytest.raises(InvalidInput) as caught:
        kit.rights.requests.open(
            "access",
            "email:a@b.example",
            jurisdiction="gdpr",
            channel="email",
            parameters={PERSONAL[0]: 1},
        )
    assert PERSONAL[0] not in str(caught.value)


def test_verification_hook_decides_and_a_failure_is_recorded(kit_and_clock) -> None:
    """The host verifier is asked; a negative answer leaves it received with the attempt logged."""
    kit, _ = kit_and_clock
    seen = []

    class Host:
        def verify(self, request):
            seen.append(request.identifiers)
            return VerificationResult(verified=len(seen) > 1, method="signed_in_session")

    book = kit.rights.requests
    request = book.open(
        "access", ["customer:1", "email:A@Example.com"], jurisdiction="gdpr", channel="web_form"
    )
    with pytest.raises(ConfigurationError):
        book.verify(request.id)
    book.verifier = Host()
    failed = book.verify(request.id)
    assert failed.state is RequestState.RECEIVED
    assert failed.transitions[-1].event == "verification_failed"
    verified = book.verify(request.id)
    assert verified.state is RequestState.VERIFIED
    assert verified.verification == {"method": "signed_in_session", "detail": None}
    assert seen[0] == ("customer:1", "email:a@example.com")


class _Answer:
    def __init__(self, answer: object) -> None:
        self.answer = answer

    def verify(self, request: object) -> object:
        return self.answer


@pytest.mark.parametrize(
    "answer",
    [
        VerificationResult(verified="no", method="email_link"),  # type: ignore[arg-type]
        VerificationResult(verified=1, method="email_link"),  # type: ignore[arg-type]
        VerificationResult(verified=True, method=None),  # type: ignore[arg-type]
        None,
        "yes",
    ],
)
def test_a_malformed_verifier_answer_never_verifies(kit_and_clock, snapshot, answer) -> None:
    """A verifier answer that is not a bool verdict raises InvalidInput; the request stays put."""
    kit, _ = kit_and_clock
    book = kit.rights.requests
    request = book.open("access", "email:a@b.example", jurisdiction="gdpr", channel="email")
    before = snapshot(kit)
    with pytest.raises(InvalidInput):
        book.verify(request.id, verifier=_Answer(answer))
    assert snapshot(kit) == before
    assert book.get(request.id).state.value == "received"


def test_overdue_and_due_soon_listings_follow_the_clock() -> None:
    """Open requests appear as due soon, then overdue; closed ones never do."""
    kit, clock = _kit(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    with kit:
        book = kit.rights.requests
        gdpr = book.open("access", "customer:1", jurisdiction="gdpr", channel="email")
        ccpa = book.open("erasure", "customer:2", jurisdiction="ccpa", channel="email")
        closed = book.open("access", "customer:3", jurisdiction="gdpr", channel="email")
        book.deny(closed.id, basis="GDPR Art 12(2): identity not verified")
        assert book.overdue() == []
        clock.set(datetime(2026, 2, 1, tzinfo=UTC))
        assert [r.id for r in book.due_soon(timedelta(days=7))] == [gdpr.id]
        clock.set(datetime(2026, 2, 6, tzinfo=UTC))
        assert [r.id for r in book.overdue()] == [gdpr.id]
        assert book.get(gdpr.id).days_left(clock.now()) == -1
        clock.set(datetime(2026, 2, 20, tzinfo=UTC))
        assert [r.id for r in book.overdue()] == [gdpr.id, ccpa.id]
        assert [r.id for r in book.list(state="denied")] == [closed.id]


def test_listing_requests_by_an_unknown_state_or_kind_is_invalid_input(kit_and_clock) -> None:
    """list(state=…) / list(kind=…) with an unknown value raise InvalidInput, not ValueError."""
    kit, _ = kit_and_clock
    book = kit.rights.requests
    for filters in ({"state": "bogus"}, {"kind": "bogus"}, {"state": 1}):
        with pytest.raises(InvalidInput):
            book.list(**filters)
    with pytest.raises(InvalidInput):
        book.due_soon(within=5)  # type: ignore[arg-type]
    assert book.due_soon(within=timedelta.max) == []


def test_access_request_runs_into_a_private_export_file(kit_and_clock, populate, tmp_path) -> None:
    """Running an access request writes a 0600 export per subject and completes it."""
    kit, _ = kit_and_clock
    populate(kit, "customer:1", email="alice@example.com", first_name="Alice")
    book = kit.rights.requests
    request = book.open(
        "access",
        ["customer:1", "email:alice@example.com", "customer:ghost"],
        jurisdiction="gdpr",
        channel="email",
    )
    book.verify(request.id, verifier=OK)
    with pytest.raises(InvalidInput):
        kit.rights.run_request(request.id)
    done = kit.rights.run_request(request.id, out_dir=tmp_path / "out")
    assert done.state is RequestState.COMPLETED
    assert [t.event for t in done.transitions] == ["opened", "verified", "started", "completed"]
    (export,) = done.result["exports"]
    path = tmp_path / "out" / f"{request.id}-1.json"
    assert export["file"] == str(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["traits"]["first_name"]["value"] == "Alice"
    assert done.result["unresolved_identifiers"] == 1


def test_erasure_request_erases_and_forgets_the_identifiers(kit_and_clock, populate) -> None:
    """Running an erasure request erases the subject and redacts the request's identifiers."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:1", email="alice@example.com", first_name="Alice")
    book = kit.rights.requests
    request = book.open("erasure", "email:alice@example.com", jurisdiction="gdpr", channel="email")
    book.verify(request.id, verifier=OK)
    done = kit.rights.run_request(request.id)
    assert done.identifiers == ()
    assert done.identifiers_redacted
    assert done.identifier_kinds == ("email",)
    assert done.result["receipts"][0]["tombstone"] == kit.subject_ref(subject)
    assert kit.identity.lookup("customer:1") is None


def test_a_complete_result_must_be_a_mapping(kit_and_clock) -> None:
    """complete() with a non-mapping result raises InvalidInput, not TypeError."""
    kit, _ = kit_and_clock
    book = kit.rights.requests
    request = book.open("erasure", "email:a@b.example", jurisdiction="gdpr", channel="email")
    with pytest.raises(InvalidInput):
        book.complete(request.id, None)  # type: ignore[arg-type]


def test_rectification_objection_and_opt_out_requests_apply_their_parameters(
    kit_and_clock, populate
) -> None:
    """Rectification corrects traits; objection stops marketing; opt-out refuses sale/sharing."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:1", email="alice@example.com", first_name="Alice")
    book = kit.rights.requests
    ids = [
        book.open(
            "rectification",
            "customer:1",
            jurisdiction="gdpr",
            channel="email",
            parameters={"values": {"first_name": "Alicia"}},
        ).id,
        book.open("objection", "customer:1", jurisdiction="gdpr", channel="email").id,
        book.open("opt_out_sale", "customer:1", jurisdiction="ccpa", channel="email").id,
        book.open("restriction", "customer:1", jurisdiction="gdpr", channel="email").id,
    ]
    for request_id in ids:
        book.verify(request_id, verifier=OK)
        assert kit.rights.run_request(request_id).state is RequestState.COMPLETED
    assert kit.rights.export(subject)["traits"]["first_name"]["value"] == "Alicia"
    assert kit.consent.state(subject, "marketing.email").state == "withdrawn"
    assert kit.consent.state(subject, "sale_sharing").state == "refused"
    assert kit.consent.state(subject, "sale_sharing").record.method == "dsr"
    assert kit.consent.is_restricted(subject)
    with pytest.raises(InvalidInput):
        book.open("rectification", "customer:1", jurisdiction="gdpr", channel="email")
    with pytest.raises(InvalidInput):
        book.open(
            "erasure", "customer:1", jurisdiction="gdpr", channel="email", parameters={"values": {}}
        )


def test_every_transition_is_audited_without_identifiers(kit_and_clock) -> None:
    """opened/verified/started/completed/extended/denied all reach the audit log, no identifier."""
    kit, _ = kit_and_clock
    book = kit.rights.requests
    one = book.open("opt_out_sale", "email:zed@example.com", jurisdiction="ccpa", channel="email")
    book.verify(one.id, verifier=OK)
    kit.rights.run_request(one.id)
    two = book.open("access", "email:zed@example.com", jurisdiction="gdpr", channel="email")
    book.extend(two.id, reason="complexity")
    book.deny(two.id, basis="GDPR Art 12(5)(b)")
    actions = [e.action for e in kit.audit.entries() if e.action.startswith("dsr.")]
    assert actions == [
        "dsr.opened",
        "dsr.verified",
        "dsr.started",
        "dsr.completed",
        "dsr.opened",
        "dsr.extended",
        "dsr.denied",
    ]
    assert "zed" not in json.dumps([e.to_json() for e in kit.audit.entries()])
    assert "zed" not in repr(book.get(one.id))


def test_requests_are_stored_encrypted(tmp_path, master_key) -> None:
    """A request's identifiers never reach the disk in the clear."""
    with Personakit.open(tmp_path / "store", keys=LocalKeyProvider(master_key)) as kit:
        request = kit.rights.requests.open(
            "access",
            ["email:canary.requester@example.com", "customer:cust-canary-991"],
            jurisdiction="gdpr",
            channel="email",
        )
        assert kit.rights.requests.get(request.id).identifiers[0].endswith("@example.com")
        kit.store.scrub()
    assert find_bytes(tmp_path, b"canary.requester") == []
    assert find_bytes(tmp_path, b"cust-canary-991") == []


def test_cli_dsr_workflow(tmp_path, master_key, monkeypatch, capsys) -> None:
    """`dsr open|verify|extend|run|list|show|deny` drive a request end to end."""
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    store = ["--store", str(tmp_path / "store"), "--create"]

    def run(*argv: str) -> object:
        code = main([*store, *argv])
        out = capsys.readouterr().out
        assert code == 0, out
        return json.loads(out)

    grant = ["--notice", "privacy_notice", "--notice-version", "2026-01", "--source", "web"]
    run("consent", "grant", "customer:c1", "personalization", *grant)
    opened = run(
        "dsr", "open", "access", "customer:c1", "--jurisdiction", "gdpr", "--channel", "email"
    )
    assert opened["state"] == "received"
    assert run("dsr", "verify", opened["id"], "--method", "document_check")["state"] == "verified"
    assert run("dsr", "extend", opened["id"], "--reason", "complexity")["extended_due_at"]
    done = run("dsr", "run", opened["id"], "--out-dir", str(tmp_path / "exports"))
    assert done["state"] == "completed"
    assert (tmp_path / "exports" / f"{opened['id']}-1.json").exists()
    assert [r["id"] for r in run("dsr", "list", "--state", "completed")] == [opened["id"]]
    assert run("dsr", "show", opened["id"])["identifiers"] == ["customer:c1"]
    other = run(
        "dsr",
        "open",
        "rectification",
        "customer:c1",
        "--jurisdiction",
        "gdpr",
        "--channel",
        "email",
        "--set",
        "first_name=Ann",
    )
    assert run("dsr", "deny", other["id"], "--basis", "GDPR Art 12(2)")["state"] == "denied"
    assert main([*store, "dsr", "deny", other["id"], "--basis", "again"]) == 1
    assert main([*store, "dsr", "run", "dsr_" + "a" * 26]) == 1


def test_dsr_list_with_a_huge_window_is_an_error_line_not_a_traceback(
    tmp_path, master_key, monkeypatch, capsys
) -> None:
    """`dsr list --due-within` with an absurd number of days exits 1 with one line."""
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    store = ["--store", str(tmp_path / "store"), "--create"]
    assert main([*store, "dsr", "list", "--due-within", "99999999999"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--due-within" in err
