"""Bulk ingest and track are total: any input is stored or refused with a typed InvalidInput.

Hostile JSON (wrong types in every field, nesting thousands deep, lone surrogates, 1e400,
duplicate keys, lines over the limit) never raises anything else, and a refused line writes
nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _shared import CONSENT_GIVEN, WEB_EVENT, hostile
from personakit import InvalidInput, Personakit
from personakit._codec import MAX_DEPTH, loads, loads_input
from personakit.testing import memory_kit
from personakit.workflows._lines import MAX_LINE_BYTES, parse_line


def _errors(kit: Personakit, lines: list[Any]) -> list[str]:
    summary = kit.ingest(lines)
    assert summary.accepted == 0
    return [e.error for e in summary.errors]


# -- one defect each ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "where"),
    [
        ({**WEB_EVENT, "kind": [1]}, "$.kind"),
        ({**WEB_EVENT, "kind": {"a": 1}}, "$.kind"),
        ({**CONSENT_GIVEN, "status": ["given"]}, "$.status"),
        ({**WEB_EVENT, "name": ["purchase"]}, "$.name"),
        ({**WEB_EVENT, "channel": {"web": 1}}, "$.channel"),
    ],
)
def test_a_field_of_the_wrong_json_type_is_a_typed_rejection(
    memory_kit: Personakit, record: dict[str, Any], where: str
) -> None:
    """A list or object where a string belongs is refused naming the field, as text or mapping."""
    for given_as in (json.dumps(record), record):
        (error,) = _errors(memory_kit, [given_as])
        assert where in error


def test_nesting_beyond_the_limit_is_refused_with_the_depth(memory_kit: Personakit) -> None:
    """10,000 levels of nesting, and one level over the limit, are refused; the limit passes."""
    deep = json.dumps(WEB_EVENT)[:-1] + ', "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    (error,) = _errors(memory_kit, [deep])
    assert f"nested deeper than {MAX_DEPTH} levels" in error

    def nested(levels: int) -> dict[str, Any]:
        value: Any = 1
        for _ in range(levels - 2):  # the line and its properties are two levels
            value = [value]
        return {**WEB_EVENT, "properties": {"item": "a", "x": value}}

    over = nested(MAX_DEPTH + 1)
    for given_as in (json.dumps(over), over):
        (error,) = _errors(memory_kit, [given_as])
        assert f"nested deeper than {MAX_DEPTH} levels" in error
    assert memory_kit.ingest([json.dumps(nested(MAX_DEPTH))]).accepted == 1


def test_a_mapping_that_contains_itself_is_refused(memory_kit: Personakit) -> None:
    """A cyclic mapping handed to ingest or track is refused, not a RecursionError."""
    cyclic: dict[str, Any] = {"item": "a"}
    cyclic["self"] = cyclic
    (error,) = _errors(memory_kit, [{**WEB_EVENT, "properties": cyclic}])
    assert "nested deeper than" in error
    with pytest.raises(InvalidInput, match="nested deeper than"):
        memory_kit.track("customer:c1", "purchase", channel="web", properties=cyclic)


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_time_whose_utc_conversion_leaves_the_date_range_is_refused(
    memory_kit: Personakit, at: str
) -> None:
    """The bulk line and track both refuse it as InvalidInput on $.at."""
    for record in ({**WEB_EVENT, "at": at}, {**CONSENT_GIVEN, "at": at}):
        (error,) = _errors(memory_kit, [json.dumps(record)])
        assert "$.at: outside the supported date range" in error
    with pytest.raises(InvalidInput, match=r"\$\.at: outside the supported date range"):
        memory_kit.track("customer:c1", "purchase", channel="web", properties={"item": "a"}, at=at)


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_at_decode(memory_kit: Personakit, number: str) -> None:
    """1e400 would decode to infinity, which no stored record may hold; NaN is no JSON."""
    line = json.dumps(WEB_EVENT)[:-2] + ', "x": ' + number + "}}"
    (error,) = _errors(memory_kit, [line])
    assert "$: number out of range or not a number" in error
    with pytest.raises(InvalidInput, match="not a finite number"):
        memory_kit.track(
            "customer:c1", "purchase", channel="web", properties={"item": "a", "x": float(number)}
        )


@pytest.mark.parametrize("text", ["1e400", "[1, -1e400]", '{"a": NaN}', "Infinity"])
def test_every_decoder_refuses_numbers_that_are_not_finite(text: str) -> None:
    """loads (records, manifests, files) and loads_input (lines) both raise InvalidInput."""
    for decode in (loads, loads_input):
        with pytest.raises(InvalidInput, match="not a number"):
            decode(text)
        with pytest.raises(InvalidInput, match="not a number"):
            decode(text.encode())


@pytest.mark.parametrize("record", [WEB_EVENT, CONSENT_GIVEN])
def test_one_size_limit_for_every_line(memory_kit: Personakit, record: dict[str, Any]) -> None:
    """A line one byte over the limit is refused whatever its kind; one at the limit is not."""
    base = json.dumps({**record, "properties": {"item": "a", "pad": ""}})
    if record["kind"] == "consent":
        base = json.dumps({**record, "notice_version": ""})
    room = MAX_LINE_BYTES - len(base)
    key = '"pad": ""' if record["kind"] == "event" else '"notice_version": ""'
    at_limit = base.replace(key, key[:-1] + "p" * room + '"')
    over = base.replace(key, key[:-1] + "p" * (room + 1) + '"')
    assert (len(at_limit), len(over)) == (MAX_LINE_BYTES, MAX_LINE_BYTES + 1)
    for line in (over, over.encode()):
        (error,) = _errors(memory_kit, [line])
        assert "line longer than 1 MiB" in error
    summary = memory_kit.ingest([at_limit.encode()])
    assert "line longer" not in json.dumps(summary.to_json())


def test_duplicate_keys_are_refused_naming_the_key_path(memory_kit: Personakit, snapshot) -> None:
    """Two subject fields must not write to the second one silently; nested duplicates too."""
    before = snapshot(memory_kit)
    twice = json.dumps(WEB_EVENT).replace(
        '"subject": "customer:c1"', '"subject": "customer:c1", "subject": "customer:c2"'
    )
    nested = json.dumps(WEB_EVENT).replace('{"item": "a"}', '{"item": "a", "item": "b"}')
    deeper = json.dumps({**WEB_EVENT, "properties": {"item": "a", "x": [{}, {"k": 1}]}}).replace(
        '{"k": 1}', '{"k": 1, "k": 2}'
    )
    unsafe = json.dumps(WEB_EVENT).replace(
        '{"item": "a"}', '{"item": "a", "a@example.com": 1, "a@example.com": 2}'
    )
    errors = _errors(memory_kit, [twice, nested, deeper, unsafe])
    assert [e.split("): ")[1] for e in errors] == [
        "$.subject: duplicate key",
        "$.properties.item: duplicate key",
        "$.properties.x[1].k: duplicate key",
        "$.properties[?]: duplicate key",
    ]
    assert "example.com" not in json.dumps(errors)
    assert snapshot(memory_kit) == before


@pytest.mark.parametrize(
    "line",
    [
        json.dumps(WEB_EVENT).replace('"a"', '"\\ud800"').encode(),
        json.dumps(WEB_EVENT).replace('"a"', '"\\udc00x"').encode(),
        json.dumps(WEB_EVENT).replace('"a"', '"\xed\xa0\x80"').encode("latin-1"),
        json.dumps(WEB_EVENT).replace('"a"', '"\ud800"'),
        json.dumps(WEB_EVENT).replace('"item"', '"\\ud800"').encode(),
    ],
)
def test_lone_surrogates_are_refused(memory_kit: Personakit, line: str | bytes) -> None:
    """A lone surrogate is no Unicode text: refused as escape, as bytes ED A0 80, in a str."""
    (error,) = _errors(memory_kit, [line])
    assert "not valid Unicode" in error or "not valid UTF-8" in error


def test_a_surrogate_pair_escape_is_one_character(memory_kit: Personakit) -> None:
    """An escaped pair (an emoji) is valid JSON text and is stored as that character."""
    line = json.dumps({**WEB_EVENT, "properties": {"item": "\U0001f600"}})
    assert "\\ud83d\\ude00" in line
    assert memory_kit.ingest([line]).accepted == 1


# -- the properties -------------------------------------------------------------------------


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(line=hostile.hostile_lines(), form=st.sampled_from(["bytes", "str", "mapping"]))
def test_any_line_is_stored_or_refused_with_a_typed_error_and_a_refusal_writes_nothing(
    line: bytes, form: str
) -> None:
    """Every kind of line, any JSON in any field: stored, dropped, or refused leaving no trace."""
    kit, _ = memory_kit()
    with kit:
        seed = json.dumps({**CONSENT_GIVEN, "subject": "customer:c2"})
        assert kit.ingest([seed]).accepted == 1
        before = (dict(kit.store.scan("")), dict(kit.key_store.scan("")))
        summary = kit.ingest([hostile.as_record(line, form)])
        assert summary.accepted + summary.rejected + summary.dropped_no_basis == 1
        if summary.rejected:
            assert (dict(kit.store.scan("")), dict(kit.key_store.scan(""))) == before
            assert summary.errors[0].error.startswith(("invalid ", "unknown "))
        assert kit.audit.verify().ok


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(hostile.hostile_lines(allow_huge=False), max_size=8), strict=st.booleans())
def test_a_file_of_hostile_lines_is_counted_line_by_line(lines: list[bytes], strict: bool) -> None:
    """Many hostile lines in one batch: each is counted once, a strict run stops at the first."""
    kit, _ = memory_kit()
    with kit:
        summary = kit.ingest(lines, strict=strict, batch_size=3)
        counted = summary.accepted + summary.rejected + summary.dropped_no_basis
        if summary.stopped_at is None:
            assert counted == len(lines)
        else:
            assert strict
            assert summary.errors[-1].line == summary.stopped_at
        assert kit.audit.verify().ok


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=hostile.hostile_lines(allow_huge=False))
def test_parse_line_raises_nothing_but_invalid_input(line: bytes) -> None:
    """The line parser alone: a parsed line or InvalidInput, for bytes, str and mappings."""
    for form in ("bytes", "str", "mapping"):
        problems: tuple[Any, ...] = ("parsed",)
        try:
            parse_line(hostile.as_record(line, form))
        except InvalidInput as exc:
            problems = exc.problems
        assert problems


_TRACK_AT = st.one_of(
    st.none(),
    st.sampled_from(
        ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-05T08:00Z"]
    ),
    st.datetimes(timezones=st.timezones()),
    st.text(max_size=30),
)


@settings(max_examples=60, deadline=None)
@given(
    extra=hostile.JSON_NODES,
    whole=st.booleans(),
    at=_TRACK_AT,
    identifier=st.one_of(st.sampled_from(["customer:c1", "anon:\ud800"]), st.text(max_size=8)),
)
def test_track_raises_nothing_but_invalid_input(
    extra: Any, whole: bool, at: Any, identifier: str
) -> None:
    """kit.track with any decoded JSON in (or as) the properties, any time, any identifier."""
    kit, _ = memory_kit()
    with kit:
        try:  # Python's decoder, which lets 1e400, NaN and duplicates through
            value = json.loads(
                hostile.render(extra, ascii_only=False).decode("utf-8", "surrogatepass")
            )
        except (ValueError, RecursionError):
            value = None
        properties = value if whole else {"item": "a", "x": value}
        problems: tuple[Any, ...] = ("tracked",)
        try:
            kit.track(identifier, "purchase", channel="web", properties=properties, at=at)
        except InvalidInput as exc:
            problems = exc.problems
        assert problems


_LEAN_KIT, _ = memory_kit()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    line=hostile.hostile_lines(allow_huge=False), form=st.sampled_from(["bytes", "str", "mapping"])
)
def test_the_lean_path_takes_no_hostile_line_the_full_parser_refuses(
    line: bytes, form: str
) -> None:
    """Whatever the lean event path accepts, the full parser accepts too (it never bypasses it)."""
    record = hostile.as_record(line, form)
    if _LEAN_KIT.ingestor._fast_event(record) is not None:
        parsed = _LEAN_KIT.ingestor._prepare(parse_line(record))
        assert parsed is not None
