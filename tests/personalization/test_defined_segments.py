"""Stored segment definitions (``kit.personalization.defined``, ``personakit segments define``).

Properties: any JSON document is either stored (and then every kit on the store installs it
at its next reload) or refused with InvalidInput listing its problems, with nothing written
(store, audit log). Examples: the audit entry names the set's SHA-256; replace, remove, the
refusals that protect dependents; the CLI.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from _shared import PRIVACY
from personakit import LocalKeyProvider, Personakit, generate_master_key
from personakit._codec import canonical_json
from personakit.cli import main
from personakit.exceptions import InvalidInput
from personakit.personalization._defined import DEFINITIONS

BIG: Final = {
    "name": "json.big",
    "description": "spent 10 euros or more",
    "condition": {"field": "aggregates.monetary_cents", "gte": 1000},
}
LOYAL: Final = {
    "name": "json.loyal",
    "description": "big spenders who are active",
    "condition": {"all": [{"segment": "json.big"}, {"segment": "lifecycle.active"}]},
}


@pytest.fixture(scope="module")
def kits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Two kits on one DiskStore directory: what two processes of a shop would hold."""
    master_key = generate_master_key()
    path = tmp_path_factory.mktemp("defined") / "s"
    with (
        Personakit.open(path, keys=LocalKeyProvider(master_key)) as one,
        Personakit.open(path, keys=LocalKeyProvider(master_key)) as other,
    ):
        yield one, other


_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5000), st.text(max_size=6), st.floats(-1, 1)
)
_JSON = st.recursive(
    _LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_CONDITIONS = st.one_of(
    st.sampled_from(
        [
            {"field": "aggregates.order_count", "gte": 2},
            {"field": "aggregates.nope", "eq": 1},
            {"segment": "json.a"},
            {"segment": "lifecycle.active"},
            {"segment": "nobody.defines.this"},
            {"affinity_top": {"dimension": "category", "value": "bread", "k": 2}},
            {"any": []},
            {"not": {"field": "traits.city", "eq": "Lyon"}},
        ]
    ),
    _JSON,
)
_DOCUMENT = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["json.a", "json.b", "lifecycle.new", "Bad Name", ""]) | _LEAF,
        "description": st.sampled_from(["a segment", ""]) | _LEAF,
        "condition": _CONDITIONS,
    },
    optional={"purpose": st.sampled_from(["personalization", "nope"]), "extra": _JSON},
)
_VALID = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["json.a", "json.b", "json.c"]),
        "description": st.just("a segment"),
        "condition": st.sampled_from(
            [
                {"field": "aggregates.order_count", "gte": 2},
                {"segment": "json.a"},
                {"segment": "lifecycle.active"},
                {"affinity_top": {"dimension": "category", "value": "bread", "k": 2}},
            ]
        ),
    }
)
_ANY_DOCUMENT = st.one_of(
    _VALID,
    st.lists(_VALID, min_size=1, max_size=3),
    _DOCUMENT,
    st.lists(st.one_of(_VALID, _DOCUMENT, _JSON), max_size=4),
    _JSON,
)


def _written(kit: Personakit) -> dict[str, bytes]:
    return dict(kit.store.scan(""))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=_ANY_DOCUMENT, dry_run=st.booleans())
def test_any_json_document_is_stored_whole_or_refused_with_nothing_written(
    kits: Any, document: Any, dry_run: bool
) -> None:
    """Stored and installed everywhere at the next reload, or InvalidInput and no byte written."""
    one, other = kits
    before = _written(one)
    try:
        report = one.personalization.defined.define(document, actor="tests", dry_run=dry_run)
    except InvalidInput as exc:
        problems = exc.problems
        event("refused")
        assert problems
        assert _written(one) == before
        return
    event("dry run" if dry_run else "stored")
    try:
        stored = [d["name"] for d in one.personalization.defined.documents()]
        if dry_run:
            assert _written(one) == before
            assert not set(report.names) & set(one.personalization.defined.names())
            return
        raw = one.store.get(DEFINITIONS)
        assert raw is not None
        assert hashlib.sha256(raw).hexdigest() == report.sha256
        assert list(report.stored) == stored
        assert set(report.names) <= set(stored)
        entry = list(one.audit.entries())[-1]
        assert entry.action == "personalization.segments_defined"
        assert entry.data["sha256"] == report.sha256
        other.personalization.refresh()  # the other process reads them at its refresh
        for kit in (one, other):
            assert kit.personalization.defined.names() == sorted(stored)
            assert all(name in kit.registries.segments for name in stored)
            assert set(stored) <= {s.name for s in kit.personalization.segments()}
    finally:
        for name in reversed(one.personalization.defined.names()):
            one.personalization.defined.remove(name, actor="tests")
        other.personalization.refresh()
    assert other.personalization.defined.names() == []
    assert not any(name.startswith("json.") for name in other.registries.segments.names())


def test_define_replace_and_remove_keep_dependents_whole(kits: Any) -> None:
    """A dependent blocks removal; a replacement is used at once; removal drops index entries."""
    one, other = kits
    one.personalization.defined.define([BIG, LOYAL], actor="ops")
    try:
        with pytest.raises(InvalidInput) as caught:
            one.personalization.defined.remove("json.big", actor="ops")
        assert caught.value.problems[0].where.startswith("stored")
        with pytest.raises(InvalidInput):  # a built-in name is not ours to redefine
            one.personalization.defined.define({**BIG, "name": "lifecycle.new"})
        who = "customer:defined-1"
        subject = one.identity.resolve(who, create=True)
        one.consent.grant(subject, ["personalization"], **PRIVACY)
        one.track(who, "purchase", channel="web", properties={"item": "cake", "value_cents": 800})
        assert "json.big" not in one.personalization.segments_of(subject)
        cheaper = {**BIG, "condition": {"field": "aggregates.monetary_cents", "gte": 500}}
        report = one.personalization.defined.define(cheaper, actor="ops")
        assert report.stored == ("json.big", "json.loyal")
        assert "json.big" in one.personalization.segments_of(subject)
        other.personalization.refresh()  # other process: reloads, then re-indexes
        assert other.personalization.members("json.big") == [subject]
        rules = {
            "placements": {"home": {"default": {"content": "favourites"}}},
            "rules": [
                {
                    "id": "big",
                    "placement": "home",
                    "when": {"segment": "json.loyal"},
                    "then": {"content": "thanks"},
                }
            ],
        }
        one.personalization.load_rules(rules, actor="ops")
        with pytest.raises(InvalidInput):  # the current rule set reads it
            one.personalization.defined.remove("json.loyal", actor="ops")
        one.personalization.load_rules({**rules, "rules": []}, actor="ops")
    finally:
        for name in ("json.loyal", "json.big"):
            if name in one.personalization.defined.names():
                one.personalization.defined.remove(name, actor="ops")
    assert one.personalization.sizes().get("json.big") is None
    assert not list(one.store.scan("x/personalization/segments/json.big/"))
    actions = [e.action for e in one.audit.entries()][-2:]
    assert actions == ["personalization.segment_removed"] * 2


def test_cli_define_dry_run_list_and_remove(
    tmp_path: Path,
    master_key: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """define --dry-run stores nothing; define stores; list marks it; every problem at once."""
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    with Personakit.open(tmp_path / "s", keys=LocalKeyProvider(master_key)):
        pass  # the store exists
    base = ["--store", str(tmp_path / "s"), "segments"]
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_bytes(canonical_json([BIG]))
    bad.write_text(json.dumps([{"name": "X"}, {**BIG, "condition": {"nope": 1}}]))
    assert main([*base, "define", str(good), "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["dry_run"] is True
    assert main([*base, "list"]) == 0
    assert "json.big" not in capsys.readouterr().out
    assert main([*base, "define", str(bad)]) == 1
    refused = json.loads(capsys.readouterr().out)
    assert refused["valid"] is False
    assert {p["where"][:4] for p in refused["problems"]} == {"$[0]", "$[1]"}
    assert main([*base, "define", str(tmp_path / "missing.json")]) == 1
    capsys.readouterr()
    assert main([*base, "define", str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["stored"] == ["json.big"]
    assert main([*base, "list"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert listed["json.big"]["stored"] is True
    assert listed["lifecycle.new"]["stored"] is False
    assert main([*base, "remove", "json.big"]) == 0
    assert main([*base, "remove", "json.big"]) == 1
    assert "Traceback" not in capsys.readouterr().err
