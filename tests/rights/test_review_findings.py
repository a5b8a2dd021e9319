"""Regression tests for defects found in review of the rights service and its CLI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

import pytest

from personakit.cli import main
from personakit.exceptions import InvalidInput
from personakit.rights import VerificationResult

PERSONAL = ("alice@example.com", "Bob Smith", "555 123 4567")


def _snapshot(kit) -> tuple[dict[str, bytes], dict[str, bytes]]:
    return dict(kit.store.scan("")), dict(kit.key_store.scan(""))


def _audit_bytes(kit) -> bytes:
    return b"".join(value for _, value in kit.store.scan("a/e/"))


def test_an_objection_that_changes_nothing_still_refuses_personal_source_and_method(
    kit_and_clock,
) -> None:
    """Source, method and jurisdiction are checked before the rights audit entry is written."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    kit.rights.object_to_direct_marketing(subject)  # every marketing purpose is now stopped
    kit.rights.opt_out_of_sale(subject)
    before = _snapshot(kit)
    hostile = {"source": PERSONAL[0], "method": PERSONAL[1], "jurisdiction": PERSONAL[2]}
    for call in (kit.rights.object_to_direct_marketing, kit.rights.opt_out_of_sale):
        with pytest.raises(InvalidInput):
            call(subject, **hostile)
    with pytest.raises(InvalidInput):
        kit.rights.object(subject, "marketing.email", **hostile)
    assert _snapshot(kit) == before
    assert not any(text.encode() in _audit_bytes(kit) for text in PERSONAL)


def test_rectify_refuses_an_actor_that_would_be_audited_in_the_clear(kit_and_clock) -> None:
    """rectify checks the actor like every other right: a name never reaches the audit log."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    before = _snapshot(kit)
    with pytest.raises(InvalidInput) as caught:
        kit.rights.rectify(subject, {"first_name": "Ann"}, actor=PERSONAL[1])
    assert {p.where for p in caught.value.problems} == {"actor"}
    assert _snapshot(kit) == before


@pytest.mark.parametrize("purposes", [None, 1, []])
def test_an_objection_must_name_a_purpose(kit_and_clock, purposes) -> None:
    """object() without purposes raises InvalidInput and audits nothing (no TypeError)."""
    kit, _ = kit_and_clock
    subject = kit.identity.resolve("customer:1", create=True)
    before = _snapshot(kit)
    with pytest.raises(InvalidInput):
        kit.rights.object(subject, purposes)
    assert _snapshot(kit) == before


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
def test_opening_a_malformed_request_is_invalid_input(kit_and_clock, identifiers, parameters):
    """Malformed identifiers or parameters raise InvalidInput, and no request is written."""
    kit, _ = kit_and_clock
    before = _snapshot(kit)
    with pytest.raises(InvalidInput):
        kit.rights.requests.open(
            "access", identifiers, jurisdiction="gdpr", channel="email", parameters=parameters
        )
    assert _snapshot(kit) == before


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
def test_a_malformed_verifier_answer_never_verifies(kit_and_clock, answer) -> None:
    """A verifier answer that is not a bool verdict raises InvalidInput; the request stays put."""
    kit, _ = kit_and_clock
    book = kit.rights.requests
    request = book.open("access", "email:a@b.example", jurisdiction="gdpr", channel="email")
    before = _snapshot(kit)
    with pytest.raises(InvalidInput):
        book.verify(request.id, verifier=_Answer(answer))
    assert _snapshot(kit) == before
    assert book.get(request.id).state.value == "received"


def test_a_complete_result_must_be_a_mapping(kit_and_clock) -> None:
    """complete() with a non-mapping result raises InvalidInput, not TypeError."""
    kit, _ = kit_and_clock
    book = kit.rights.requests
    request = book.open("erasure", "email:a@b.example", jurisdiction="gdpr", channel="email")
    with pytest.raises(InvalidInput):
        book.complete(request.id, None)  # type: ignore[arg-type]


def test_concurrent_erasures_of_one_subject_remove_its_contribution_once(
    kit_and_clock, populate, monkeypatch
) -> None:
    """An erasure that waited for the lock while another ran the removers does not rerun them."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:1", email="ann@example.com", first_name="Ann")
    calls: list[str] = []

    def remover(who: str) -> int:
        calls.append(who)
        return 1

    kit.rights.registry.register_remover("shared_counts", remover)
    eraser = kit.rights.eraser
    original = kit.store.transaction
    raced = False

    @contextlib.contextmanager
    def transaction() -> Iterator[None]:
        nonlocal raced
        if not raced:
            # Another process runs the same erasure's removers and commits its progress marker
            # while this one waits for the store's write lock.
            raced = True
            eraser._prepare(subject)
        with original():
            yield

    monkeypatch.setattr(kit.store, "transaction", transaction)
    kit.rights.erase(subject)
    assert calls == [subject]


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
