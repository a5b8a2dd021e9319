"""Bulk ingest and track: basis checks, whole-line acceptance, ordering, round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personakit import InvalidInput, Personakit
from personakit.testing import memory_kit
from personakit.workflows._lines import parse_line

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01"}
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def _consent(who: str, status: str, minute: int) -> dict[str, Any]:
    line = {"kind": "consent", "subject": who, "purpose": "personalization", "status": status}
    line |= {"source": "web", "at": _at(minute)}
    if status != "withdrawn":
        line |= NOTICE
    return line


def _event(who: str, name: str, marker: int, minute: int) -> dict[str, Any]:
    return {
        "kind": "event",
        "subject": who,
        "name": name,
        "channel": "web",
        "at": _at(minute),
        "properties": {"item": f"i{marker}", "marker": marker},
    }


def test_track_without_basis_stores_nothing_and_creates_no_subject(memory_kit: Personakit) -> None:
    """A product view of an unknown visitor without consent is dropped; no subject is made."""
    result = memory_kit.track("anon:v1", "product_view", channel="web", properties={"item": "a"})
    assert result.outcome == "dropped_no_basis"
    assert memory_kit.identity.lookup("anon:v1") is None
    assert memory_kit.keyring.subject_count() == 0


def test_purchase_is_kept_for_the_contract_but_feeds_personalization_only_with_consent(
    memory_kit: Personakit,
) -> None:
    """A purchase is stored under 'essential'; 'personalization' is added only after consent."""
    first = memory_kit.track("customer:1", "purchase", channel="store", properties={"item": "a"})
    assert first.purposes == ("essential",)
    memory_kit.consent.grant(first.subject or "", "personalization", source="web", **NOTICE)
    second = memory_kit.track("customer:1", "purchase", channel="store", properties={"item": "b"})
    assert second.purposes == ("essential", "personalization")


def test_summary_counts_and_line_numbers(memory_kit: Personakit) -> None:
    """The summary counts accepted, rejected and dropped lines; errors carry 1-based numbers."""
    lines = [
        json.dumps(_consent("customer:c1", "given", 0)),
        json.dumps(_event("customer:c1", "product_view", 1, 1)),
        "",
        json.dumps(_event("anon:x", "product_view", 2, 1)),
        '{"kind": "event", "subject": "customer:c1"',
        json.dumps({**_event("customer:c1", "purchase", 3, 2), "channel": "fax"}),
    ]
    summary = memory_kit.ingest(lines)
    assert summary.to_json() == {
        "accepted": 2,
        "rejected": 2,
        "dropped_no_basis": 1,
        "errors": [
            {"line": 5, "error": "invalid record (1 problem(s)): $: not valid JSON"},
            {"line": 6, "error": summary.errors[1].error},
        ],
    }
    assert "$.channel" in summary.errors[1].error


def test_strict_stops_at_the_first_rejection(memory_kit: Personakit) -> None:
    """With strict, lines before the bad one land, the bad one and the rest do not."""
    lines = [
        _event("customer:c1", "purchase", 1, 0),
        {**_event("customer:c1", "purchase", 2, 1), "name": "nope"},
        _event("customer:c1", "purchase", 3, 2),
    ]
    summary = memory_kit.ingest(lines, strict=True)
    assert (summary.accepted, summary.rejected, summary.stopped_at) == (1, 1, 2)
    subject = memory_kit.identity.resolve("customer:c1")
    assert [e.properties["marker"] for e in memory_kit.events.read(subject)] == [1]


def test_a_line_failing_at_apply_time_rolls_back_alone(memory_kit: Personakit) -> None:
    """A traits line without basis fails while applied: only it is rejected, its batch lands."""
    lines = [
        _event("customer:c1", "purchase", 1, 0),
        {
            "kind": "traits",
            "subject": "customer:c1",
            "traits": {"birthday": "1990-01-01"},
            "at": _at(1),
        },
        _event("customer:c1", "purchase", 2, 2),
    ]
    summary = memory_kit.ingest(lines, batch_size=10)
    assert (summary.accepted, summary.rejected) == (2, 1)
    assert summary.errors[0].line == 2
    subject = memory_kit.identity.resolve("customer:c1")
    assert len(memory_kit.events.read(subject)) == 2
    assert memory_kit.traits.get(subject) == {}
    assert memory_kit.keyring.subject_count() == 1  # the replay reused the pseudonym


def test_withdrawal_later_in_the_file_reaches_earlier_events(memory_kit: Personakit) -> None:
    """Events buffered in a batch are flushed before a withdrawal, so the cascade sees them."""
    lines = [
        _consent("customer:c1", "given", 0),
        _event("customer:c1", "product_view", 1, 1),
        _event("customer:c1", "purchase", 2, 2),
        _consent("customer:c1", "withdrawn", 3),
    ]
    assert memory_kit.ingest(lines).accepted == 4
    subject = memory_kit.identity.resolve("customer:c1")
    assert [(e.kind, e.purposes) for e in memory_kit.events.read(subject)] == [
        ("purchase", ("essential",))
    ]


_WHO = st.sampled_from(["customer:a", "customer:b", "anon:c", "email:d@example.com"])
_VALID = st.one_of(
    st.builds(
        lambda w, s, m: ("consent", w, s, m),
        _WHO,
        st.sampled_from(["given", "refused", "withdrawn"]),
        st.integers(0, 50),
    ),
    st.builds(
        lambda w, n, m: ("event", w, n, m),
        _WHO,
        st.sampled_from(["purchase", "product_view"]),
        st.integers(0, 50),
    ),
)
_INVALID = st.sampled_from(
    [
        "not json",
        '{"kind": "event"}',
        '{"kind": "event", "subject": "customer:a", "name": "purchase", "channel": "web", "at": "2026-01-05T10:00:00"}',
        '{"kind": "event", "subject": "bogus", "name": "purchase", "channel": "web", "at": "2026-01-05T10:00:00Z"}',
        '{"kind": "consent", "subject": "customer:a", "purpose": "nope", "status": "given", "source": "web", "notice": "privacy_notice", "notice_version": "2026-01", "at": "2026-01-05T10:00:00Z"}',
        '{"kind": "event", "subject": "customer:a", "name": "purchase", "channel": "web", "at": "2026-01-05T10:00:00Z", "properties": {"item": 5}}',
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.lists(st.one_of(_VALID, _INVALID), max_size=40), batch=st.sampled_from([1, 3, 500]))
def test_accepted_equals_stored_and_rejected_leaves_no_trace(plan: list[Any], batch: int) -> None:
    """Random valid and invalid lines: the store holds exactly what a model of the rules says."""
    kit, _ = memory_kit()
    lines: list[str] = []
    # The ledger's rule: per subject the decision with the latest time wins, a refusal or
    # withdrawal beats a grant of the same time; a backdated one is history only.
    decision: dict[str, tuple[int, bool]] = {}
    expected: dict[str, list[int]] = {}
    dropped = rejected = 0
    for number, step in enumerate(plan, start=1):
        if isinstance(step, str):
            lines.append(step)
            rejected += 1
            continue
        kind, who, what, minute = step
        if kind == "consent":
            lines.append(json.dumps(_consent(who, what, minute)))
            current = decision.get(who)
            negative = what != "given"
            if what == "withdrawn" and (current is None or current[1]):
                continue  # nothing in force to withdraw: nothing is recorded
            if current is None or (minute, negative) > current:
                decision[who] = (minute, negative)
                if negative:
                    expected[who] = [m for m in expected.get(who, []) if m > 0]  # cascade
            continue
        lines.append(json.dumps(_event(who, what, number, minute)))
        consented = who in decision and not decision[who][1]
        if what == "purchase":
            expected.setdefault(who, []).append(number)  # contract basis: always kept
        elif consented:
            expected.setdefault(who, []).append(-number)  # personalization only
        else:
            dropped += 1
    summary = kit.ingest(lines, batch_size=batch)
    assert summary.rejected == rejected
    assert summary.dropped_no_basis == dropped
    assert summary.accepted == len(plan) - rejected - dropped
    for who, markers in expected.items():
        stored = sorted(
            abs(e.properties["marker"]) for e in kit.events.read(kit.identity.resolve(who))
        )
        assert stored == sorted(abs(m) for m in markers)
    stored_total = sum(len(kit.events.read(s)) for s in kit.retention.subjects())
    assert stored_total == sum(len(m) for m in expected.values())
    # Keys made up front for a batch's new subjects belong to subjects that exist: none orphaned.
    assert all(kit.identity.exists(s) for s in kit.retention.subjects())
    assert kit.audit.verify().ok


def test_events_read_back_equal(memory_kit: Personakit) -> None:
    """What was accepted for a subject reads back equal: kind, channel, time, properties."""
    line = _event("customer:c1", "purchase", 7, 3)
    line["properties"] |= {"value_cents": 450, "category": "bread", "note": "extra ok"}
    memory_kit.ingest([line])
    (event,) = memory_kit.events.read(memory_kit.identity.resolve("customer:c1"))
    assert (event.kind, event.channel, event.at.isoformat()) == ("purchase", "web", _at(3))
    assert dict(event.properties) == line["properties"]


_FIELD_VALUES = {
    "kind": st.sampled_from(["event", "consent", "Event", 3]),
    "subject": st.sampled_from(
        ["customer:a", "anon:x", "email:d@example.com", "bogus", "", None, 5]
    ),
    "at": st.sampled_from(
        ["2026-01-05T10:00:00Z", "2026-01-05T10:00:00+02:00", "2026-01-05T10:00:00", "x", 7, None]
    ),
    "name": st.sampled_from(["purchase", "product_view", "store_visit", "teleport", None]),
    "channel": st.sampled_from(["web", "store", "fax", None]),
    "properties": st.one_of(
        st.none(),
        st.sampled_from([[], "x"]),
        st.dictionaries(
            st.sampled_from(["item", "store_id", "value_cents", "extra"]),
            st.one_of(st.integers(-3, 3), st.text(max_size=3), st.none()),
            max_size=3,
        ),
    ),
    "extra_field": st.just(1),
}


_LEAN_KIT, _ = memory_kit()


@settings(max_examples=400, deadline=None)
@given(
    fields=st.lists(st.sampled_from(sorted(_FIELD_VALUES)), unique=True, min_size=3),
    data=st.data(),
)
def test_lean_event_path_accepts_exactly_what_the_full_parser_accepts(fields, data) -> None:
    """For random event-like records, the lean path agrees with parse_line + _prepare."""
    kit = _LEAN_KIT
    record = {name: data.draw(_FIELD_VALUES[name]) for name in fields}
    record = {k: v for k, v in record.items() if v is not None or k == "properties"}
    ingestor = kit.ingestor
    fast = ingestor._fast_event(json.dumps(record))
    try:
        full = ingestor._prepare(parse_line(json.dumps(record)))
    except Exception:
        full = None
    if fast is None:
        return  # falls back to the full path: always safe
    assert full is not None
    assert full.event is not None
    assert (fast.subject, fast.at) == (full.subject, full.at)
    # The lean path builds the stored form directly: it must be what the Event would store.
    expected = full.event.to_json()
    expected.pop("purposes")
    assert {**fast.doc, "id": None} == {**expected, "id": None}
    assert fast.doc["id"][:15] == expected["id"][:15]  # same time part
    assert fast.kind.name == full.event.kind


@pytest.mark.parametrize("bad", ["abc", 5, [1, 2]])
def test_track_with_non_object_properties_is_a_typed_error(memory_kit: Personakit, bad) -> None:
    """Properties that are not an object are an InvalidInput naming $.properties."""
    with pytest.raises(InvalidInput, match=r"\$\.properties"):
        memory_kit.track("customer:1", "purchase", channel="web", properties=bad)


def test_a_merge_in_a_batch_that_rolls_back_loses_nothing(memory_kit: Personakit) -> None:
    """A link (merge) in a batch replayed after a later failure still moves the history intact."""
    lines = [
        _event("anon:v1", "purchase", 1, 0),
        _event("customer:c1", "purchase", 2, 1),
    ]
    memory_kit.ingest(lines)
    batch = [
        {"kind": "link", "subject": "anon:v1", "to": "customer:c1", "at": _at(2)},
        {
            "kind": "traits",
            "subject": "customer:c1",
            "traits": {"birthday": "1990-01-01"},
            "at": _at(3),
        },
    ]
    summary = memory_kit.ingest(batch, batch_size=10)
    assert (summary.accepted, summary.rejected) == (1, 1)
    customer = memory_kit.identity.resolve("customer:c1")
    assert memory_kit.identity.resolve("anon:v1") == customer
    assert sorted(e.properties["marker"] for e in memory_kit.events.read(customer)) == [1, 2]


def test_checkpoint_resumes_after_the_last_applied_line(memory_kit: Personakit) -> None:
    """A second run with the same checkpoint applies nothing already applied."""
    lines = [json.dumps(_event("customer:c1", "purchase", i, i)) for i in range(1, 8)]
    first = memory_kit.ingest(lines[:5], batch_size=2, checkpoint="import-1")
    assert (first.accepted, first.resumed_after) == (5, 0)
    second = memory_kit.ingest(lines, batch_size=2, checkpoint="import-1")
    assert (second.accepted, second.resumed_after) == (2, 5)
    subject = memory_kit.identity.resolve("customer:c1")
    assert sorted(e.properties["marker"] for e in memory_kit.events.read(subject)) == list(
        range(1, 8)
    )


def test_strict_checkpoint_stops_before_the_bad_line(memory_kit: Personakit) -> None:
    """With strict, the checkpoint ends before the rejected line, so a fixed file resumes there."""
    lines = [_event("customer:c1", "purchase", i, i) for i in range(1, 5)]
    broken = [*lines[:2], {**lines[2], "channel": "fax"}, lines[3]]
    summary = memory_kit.ingest(broken, strict=True, checkpoint="imp")
    assert (summary.accepted, summary.stopped_at) == (2, 3)
    resumed = memory_kit.ingest(lines, strict=True, checkpoint="imp")
    assert (resumed.resumed_after, resumed.accepted) == (2, 2)


@pytest.mark.parametrize("name", ["", "Bad Name", "a" * 65, "../x"])
def test_bad_checkpoint_names_are_typed_errors(memory_kit: Personakit, name: str) -> None:
    """A checkpoint name is a short token; anything else is an InvalidInput."""
    with pytest.raises(InvalidInput):
        memory_kit.ingest([], checkpoint=name)
