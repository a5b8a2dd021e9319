"""Property: every public entry point is total.

Each public method of the kit's public objects is called with arbitrary Python values in any of
its arguments (the others valid, so the call gets past the first check): it either succeeds or
raises a :class:`~personakit.exceptions.PersonakitError` subclass, never another exception, and
a call that raises wrote nothing to either store.
"""

from __future__ import annotations

import decimal
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final

import pytest
from attrs import frozen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _facts_double import BAKERY_RULES, StaticFacts
from _shared import PRIVACY
from personakit import Personakit, testing
from personakit._codec import canonical_json
from personakit._vault import new_subject_id
from personakit.exceptions import InvalidInput, PersonakitError
from personakit.personalization import Rules, Segment
from personakit.profiles import parse_identifier
from personakit.reporting import Reports
from personakit.web import WebFront
from personakit.workflows import RecordKind

_NOW: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_JOURNEY: Final = {
    "id": "nudge",
    "trigger": {"type": "event", "event": "add_to_cart"},
    "steps": [{"id": "one", "template": "cart_abandonment", "delay": {"hours": 1}}],
}


def _deep(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": [value]}
    return value


def _wide(width: int) -> dict[str, int]:
    return {str(i): i for i in range(width)}


def _surrogate(text: str) -> str:
    return text + "\ud800"


_ODD_VALUES: Final[list[Any]] = [
    2**64,
    -(2**63) - 1,
    10**400,
    float("nan"),
    float("inf"),
    -float("inf"),
    b"\xed\xa0\x80",
    b'{"kind":"event"}',
    b"\xff\xfe",
    "\ud800",
    "x\udfff",
    "",
    "all",
    "EUR\n",
    "sub_" + "0" * 26,
    "email:a@b.example",
    '{"kind":"event"}',
    datetime.min,  # noqa: DTZ901 (naive on purpose: the API must refuse it)
    datetime.max,  # noqa: DTZ901 (naive on purpose)
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=timezone(timedelta(hours=-23))),
    datetime(2026, 1, 5, 9, 0),  # noqa: DTZ001 (naive on purpose)
    date(2026, 1, 5),
    timedelta(days=-1),
    object(),
    Ellipsis,
    NotImplemented,
    decimal.Decimal("NaN"),
    1 + 2j,
    frozenset({1}),
    range(3),
    type,
    [[[]]] * 3,
    {None: 1},
    {(1, 2): "tuple key"},
    {"\ud800": "surrogate key"},
    {"url": "/\udc00"},
    {"first_name": "\ud800"},
    ["first_name", "first_name"],
    b'{"kind":"event","id":"customer:x","name":"page_view","channel":"web","at":"\xed\xa0\x80"}',
    '{"kind":"traits","id":"customer:x","traits":{"first_name":"\\ud800"}}',
    {"kind": "traits", "id": "customer:x", "traits": {"city": "\ud800"}},
]

_SCALARS: Final = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.binary(max_size=8),
    st.text(max_size=8),
    st.text(max_size=4).map(_surrogate),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(_ODD_VALUES),
    st.builds(_deep, st.just(3_000)),  # deeper than the recursion limit allows to walk
    st.builds(_wide, st.just(500)),
)

_KEYS: Final = st.one_of(
    st.text(max_size=6), st.text(max_size=2).map(_surrogate), st.none(), st.integers(), st.floats()
)

ANYTHING: Final = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(_KEYS, inner, max_size=3),
        st.frozensets(_KEYS, max_size=2),
    ),
    max_leaves=8,
)


@frozen
class Ctx:
    """What valid arguments refer to: a fresh subject, its identifier, an open request."""

    kit: Personakit
    subject: str
    identifier: str
    request: str
    serial: int


Valid = Callable[[Ctx], Any]


@frozen
class Entry:
    """One public method: how to reach it, and a valid value for each argument."""

    name: str
    method: Callable[[Personakit], Callable[..., Any]]
    args: tuple[Valid, ...] = ()
    kwargs: tuple[tuple[str, Valid], ...] = ()


def _sub(c: Ctx) -> str:
    return c.subject


def _ident(c: Ctx) -> str:
    return c.identifier


def _req(c: Ctx) -> str:
    return c.request


def _v(value: Any) -> Valid:
    return lambda _c: value


_NOW: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_NOTICE = (("notice", _v("privacy_notice")), ("notice_version", _v("2026-01")))
_CTX_KW = (
    ("source", _v("web")),
    ("method", _v("explicit")),
    ("jurisdiction", _v(None)),
    ("actor", _v("system")),
    ("context", _v(None)),
)
_RIGHTS_KW = (
    ("source", _v("api")),
    ("method", _v("explicit")),
    ("jurisdiction", _v(None)),
    ("actor", _v("system")),
)

_DP_KW = (
    ("epsilon", _v(0.01)),
    ("dry_run", _v(False)),
    ("actor", _v("system")),
    ("reason", _v("totality")),
)

ENTRIES: Final = [
    Entry(
        "kit.track",
        lambda k: k.track,
        (_ident, _v("page_view")),
        (("channel", _v("web")), ("properties", _v({"url": "/x"})), ("at", _v(None))),
    ),
    Entry(
        "kit.ingest",
        lambda k: k.ingest,
        (lambda c: [{"kind": "event", "id": c.identifier, "name": "page_view", "channel": "web"}],),
        (
            ("strict", _v(False)),
            ("batch_size", _v(10)),
            ("progress", _v(None)),
            ("checkpoint", _v(None)),
        ),
    ),
    Entry(
        "kit.link",
        lambda k: k.link,
        (lambda c: f"anon:a{c.serial}", _ident),
        (("at", _v(None)),),
    ),
    Entry(
        "traits.update",
        lambda k: k.traits.update,
        (_sub, _v({"first_name": "Ada"})),
        (
            ("source", _v("api")),
            ("at", _v(None)),
            ("rectification", _v(False)),
            ("actor", _v("system")),
        ),
    ),
    Entry("traits.get", lambda k: k.traits.get, (_sub,)),
    Entry("traits.details", lambda k: k.traits.details, (_sub,)),
    Entry("traits.remove", lambda k: k.traits.remove, (_sub, _v(["first_name"]))),
    Entry("traits.validate", lambda k: k.traits.validate, (_v({"first_name": "Ada"}),)),
    Entry(
        "identity.resolve",
        lambda k: k.identity.resolve,
        (_ident,),
        (("create", _v(True)), ("new_subject", _v(None))),
    ),
    Entry("identity.lookup", lambda k: k.identity.lookup, (_ident,)),
    Entry("identity.subject_of", lambda k: k.identity.subject_of, (_sub,)),
    Entry("identity.identifiers", lambda k: k.identity.identifiers, (_sub,)),
    Entry("identity.exists", lambda k: k.identity.exists, (_sub,)),
    Entry("identity.meta_key", lambda k: k.identity.meta_key, (_sub,)),
    Entry(
        "consent.grant",
        lambda k: k.consent.grant,
        (_sub, _v(["personalization"])),
        (*_NOTICE, *_CTX_KW, ("occurred_at", _v(None)), ("language", _v(None))),
    ),
    Entry(
        "consent.refuse",
        lambda k: k.consent.refuse,
        (_sub, _v("analytics")),
        (*_NOTICE, *_CTX_KW, ("occurred_at", _v(None)), ("notice_sha256", _v(None))),
    ),
    Entry(
        "consent.withdraw",
        lambda k: k.consent.withdraw,
        (_sub, _v("all")),
        (*_CTX_KW, ("occurred_at", _v(None))),
    ),
    Entry(
        "consent.object",
        lambda k: k.consent.object,
        (_sub, _v("essential")),
        (*_CTX_KW, ("occurred_at", _v(None))),
    ),
    Entry("consent.allowed", lambda k: k.consent.allowed, (_sub, _v("analytics"))),
    Entry("consent.require", lambda k: k.consent.require, (_sub, _v("essential"))),
    Entry("consent.state", lambda k: k.consent.state, (_sub, _v("analytics"))),
    Entry("consent.states", lambda k: k.consent.states, (_sub,)),
    Entry("consent.ledger", lambda k: k.consent.ledger, (_sub, _v(None))),
    Entry("consent.decisions", lambda k: k.consent.decisions, (_sub,)),
    Entry("consent.allowed_many", lambda k: k.consent.allowed_many, (_sub, _v(["analytics"]))),
    Entry("consent.restrict", lambda k: k.consent.restrict, (_sub,), _CTX_KW),
    Entry("consent.lift_restriction", lambda k: k.consent.lift_restriction, (_sub,), _CTX_KW),
    Entry(
        "consent.record_gpc",
        lambda k: k.consent.record_gpc,
        (_sub, _v("1")),
        (("jurisdiction", _v("US-CA")), ("actor", _v("system"))),
    ),
    Entry(
        "consent.apply_tc_string",
        lambda k: k.consent.apply_tc_string,
        (_sub, _v("CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA")),
        (("jurisdiction", _v("EU")), ("actor", _v("system"))),
    ),
    Entry("consent.consent_mode", lambda k: k.consent.consent_mode, (_sub,)),
    Entry("rights.export", lambda k: k.rights.export, (_sub,), (("actor", _v("system")),)),
    Entry(
        "rights.erase",
        lambda k: k.rights.erase,
        (_sub,),
        (("reason", _v(None)), ("actor", _v("system"))),
    ),
    Entry(
        "rights.rectify",
        lambda k: k.rights.rectify,
        (_sub, _v({"first_name": "Ada"})),
        (("source", _v("api")), ("actor", _v("system"))),
    ),
    Entry("rights.restrict", lambda k: k.rights.restrict, (_sub,), _RIGHTS_KW),
    Entry("rights.object", lambda k: k.rights.object, (_sub, _v("marketing.email")), _RIGHTS_KW),
    Entry("rights.opt_out_of_sale", lambda k: k.rights.opt_out_of_sale, (_sub,), _RIGHTS_KW),
    Entry(
        "requests.open",
        lambda k: k.rights.requests.open,
        (_v("access"), _ident),
        (
            ("jurisdiction", _v("gdpr")),
            ("channel", _v("email")),
            ("received_at", _v(None)),
            ("parameters", _v(None)),
            ("actor", _v("system")),
        ),
    ),
    Entry("requests.get", lambda k: k.rights.requests.get, (_req,)),
    Entry("requests.start", lambda k: k.rights.requests.start, (_req,)),
    Entry(
        "requests.complete",
        lambda k: k.rights.requests.complete,
        (_req, _v({})),
        (("actor", _v("system")),),
    ),
    Entry(
        "requests.deny",
        lambda k: k.rights.requests.deny,
        (_req,),
        (("basis", _v("manifestly unfounded, Art 12(5)")),),
    ),
    Entry(
        "requests.extend",
        lambda k: k.rights.requests.extend,
        (_req,),
        (("reason", _v("complex request, Art 12(3)")),),
    ),
    Entry(
        "requests.list",
        lambda k: k.rights.requests.list,
        (),
        (("state", _v(None)), ("kind", _v(None))),
    ),
    Entry("requests.overdue", lambda k: k.rights.requests.overdue, (_v(None),)),
    Entry("requests.due_soon", lambda k: k.rights.requests.due_soon, (_v(timedelta(days=7)),)),
    Entry("kit.subject_ref", lambda k: k.subject_ref, (_sub,)),
    Entry("traits.merge", lambda k: k.traits.merge, (_sub, _sub)),
    Entry("identity.attach", lambda k: k.identity.attach, (_sub, lambda c: f"device:d{c.serial}")),
    Entry("identity.detach", lambda k: k.identity.detach, (_sub, _ident)),
    Entry("identity.created_at", lambda k: k.identity.created_at, (_sub,)),
    Entry("consent.lift_objection", lambda k: k.consent.lift_objection, (_sub, _v("essential"))),
    Entry("consent.expire", lambda k: k.consent.expire, (_sub,), (("actor", _v("system")),)),
    Entry("consent.conflicts", lambda k: k.consent.conflicts, (_sub,)),
    Entry("consent.is_restricted", lambda k: k.consent.is_restricted, (_sub,)),
    Entry("consent.restriction", lambda k: k.consent.restriction, (_sub,)),
    Entry(
        "consent.verdicts_many",
        lambda k: k.consent.verdicts_many,
        (lambda c: [c.subject], _v(["analytics"])),
    ),
    Entry(
        "consent.verdicts_until",
        lambda k: k.consent.verdicts_until,
        (lambda c: [c.subject], _v(["analytics"])),
    ),
    Entry("rights.export_csv", lambda k: k.rights.export_csv, (_sub,)),
    Entry(
        "rights.export_document",
        lambda k: k.rights.export_document,
        (_sub,),
        (("fmt", _v("json")), ("actor", _v("system"))),
    ),
    Entry("rights.lift_restriction", lambda k: k.rights.lift_restriction, (_sub,), _RIGHTS_KW),
    Entry(
        "rights.object_to_direct_marketing",
        lambda k: k.rights.object_to_direct_marketing,
        (_sub,),
        _RIGHTS_KW,
    ),
    Entry("rights.subject", lambda k: k.rights.subject, (_ident,)),
    Entry("rights.run_request", lambda k: k.rights.run_request, (_req,)),
    Entry(
        "requests.verify", lambda k: k.rights.requests.verify, (_req,), (("verifier", _v(None)),)
    ),
    Entry("retention.sweep_subject", lambda k: k.retention.sweep_subject, (_sub, _v(_NOW))),
    Entry(
        "registries.segments.member",
        lambda k: k.registries.segments.member,
        (_v("nope"), _sub, _v(_NOW)),
    ),
    Entry(
        "registries.segments.unregister",
        lambda k: k.registries.segments.unregister,
        (_v("nope"),),
        (("owner", _v("toy")),),
    ),
    Entry(
        "registries.datasets.unregister",
        lambda k: k.registries.datasets.unregister,
        (_v("nope"),),
        (("owner", _v("toy")),),
    ),
    Entry("registries.datasets.rows", lambda k: k.registries.datasets.rows, (_v("nope"), _v("x"))),
    Entry("retention.sweep", lambda k: k.retention.sweep, (_v(_NOW),), (("progress", _v(None)),)),
    Entry(
        "registries.record_kinds.register",
        lambda k: k.registries.record_kinds.register,
        (lambda c: RecordKind(name=f"toy{c.serial}", owner="toy", description="a toy"),),
    ),
    Entry(
        "registries.segments.register",
        lambda k: k.registries.segments.register,
        (lambda c: f"seg{c.serial}", _v(lambda _subject, _now: True)),
        (("owner", _v("toy")), ("description", _v("a toy"))),
    ),
    Entry(
        "registries.datasets.register",
        lambda k: k.registries.datasets.register,
        (lambda c: f"set{c.serial}", _v(lambda _purpose: iter(()))),
        (("owner", _v("toy")), ("description", _v("a toy"))),
    ),
    Entry(
        "registries.hooks.on_events",
        lambda k: k.registries.hooks.on_events,
        (lambda c: f"hook{c.serial}", _v(lambda _subject, _events: None)),
    ),
    Entry(
        "registries.hooks.on_batch_end",
        lambda k: k.registries.hooks.on_batch_end,
        (lambda c: f"hook{c.serial}", _v(lambda _outcome: None)),
    ),
    Entry(
        "registries.hooks.on_restriction",
        lambda k: k.registries.hooks.on_restriction,
        (lambda c: f"hook{c.serial}", _v(lambda _subject: None)),
    ),
    Entry(
        "registries.hooks.on_restriction_lifted",
        lambda k: k.registries.hooks.on_restriction_lifted,
        (lambda c: f"hook{c.serial}", _v(lambda _subject: None)),
    ),
    Entry(
        "consent.validate_decision",
        lambda k: k.consent.validate_decision,
        (_v("given"), _v("personalization")),
        (*_NOTICE, *_CTX_KW, ("occurred_at", _v(None))),
    ),
    Entry(
        "consent.validate_withdrawal",
        lambda k: k.consent.validate_withdrawal,
        (_v("personalization"),),
        (*_CTX_KW, ("occurred_at", _v(None))),
    ),
    Entry(
        "consent.validate_context",
        lambda k: k.consent.validate_context,
        (),
        (("source", _v("api")), ("method", _v("explicit")), ("actor", _v("system"))),
    ),
    Entry("consent.merge", lambda k: k.consent.merge, (_sub, _sub), (("actor", _v("system")),)),
    Entry("identity.lookup_many", lambda k: k.identity.lookup_many, (_v([]),)),
    Entry("events.compact", lambda k: k.events.compact, (_sub,)),
    Entry("events.read", lambda k: k.events.read, (_sub,), (("compact", _v(True)),)),
    Entry("events.count", lambda k: k.events.count, (_sub,)),
    Entry("retention.subjects", lambda k: k.retention.subjects),
    Entry(
        "retention.sweep_events",
        lambda k: k.retention.sweep_events,
        (_sub, _v(datetime(2026, 3, 1, tzinfo=UTC))),
    ),
    Entry(
        "retention.sweep_traits",
        lambda k: k.retention.sweep_traits,
        (_sub, _v(datetime(2026, 3, 1, tzinfo=UTC))),
    ),
    Entry(
        "registries.hooks.on_merge",
        lambda k: k.registries.hooks.on_merge,
        (lambda c: f"merge{c.serial}", _v(lambda _source, _target: None)),
    ),  # The web core (personakit.web): tests/web/test_web_core.py has its own request properties.
    Entry(
        "web.visit",
        lambda k: WebFront(k).visit,
        (),
        (("user", _ident), ("cookies", _v({})), ("sec_gpc", _v("1"))),
    ),
    Entry(
        "web.handle",
        lambda k: WebFront(k).handle,
        (_v("consent"), lambda c: WebFront(c.kit).visit(user=c.identifier)),
        (
            ("method", _v("GET")),
            ("query", _v(None)),
            ("body", _v(b"")),
            ("content_type", _v(None)),
            ("form", _v(None)),
        ),
    ),
    Entry(
        "web.unsubscribe_token",
        lambda k: WebFront(k).unsubscribe_token,
        (_sub, _v("marketing.email")),
    ),
    Entry("journeys.queued", lambda k: k.journeys.queued, (), (("limit", _v(10)),)),
    Entry(
        "web.login",
        lambda k: WebFront(k).login,
        (lambda c: WebFront(c.kit).visit(), _ident),
    ),
    Entry("analytics.dataset", lambda k: k.analytics.dataset, (_v("orders"),)),
    Entry("analytics.refresh", lambda k: k.analytics.refresh, (_v("orders"),)),
    Entry("analytics.offer", lambda k: k.analytics.offer, (_v(None),)),
    Entry("analytics.budget", lambda k: k.analytics.budget, (_v("orders"),)),
    Entry(
        "analytics.set_budget",
        lambda k: k.analytics.set_budget,
        (_v("orders"),),
        (("epsilon", _v(50.0)), ("delta", _v(None)), ("rho", _v(None)), ("reason", _v("cap"))),
    ),
    Entry("analytics.count", lambda k: k.analytics.count, (_v("orders"),), _DP_KW),
    Entry(
        "analytics.sum",
        lambda k: k.analytics.sum,
        (_v("orders"), _v("value_cents")),
        (("bounds", _v((0, 20_000))), ("impute", _v(None)), *_DP_KW),
    ),
    Entry(
        "analytics.mean",
        lambda k: k.analytics.mean,
        (_v("orders"), _v("value_cents")),
        (("bounds", _v((0, 20_000))), ("impute", _v(None)), *_DP_KW),
    ),
    Entry(
        "analytics.quantile",
        lambda k: k.analytics.quantile,
        (_v("orders"), _v("value_cents")),
        (("q", _v(0.5)), ("bounds", _v((0, 20_000))), ("candidates", _v(None)), *_DP_KW),
    ),
    Entry(
        "analytics.histogram",
        lambda k: k.analytics.histogram,
        (_v("orders"), _v("value_cents")),
        (("bins", _v([0, 1000, 20_000])), ("impute", _v(None)), *_DP_KW),
    ),
    Entry(
        "analytics.groupby",
        lambda k: k.analytics.groupby,
        (_v("orders"), _v("month")),
        (
            ("keys", _v([202601])),
            ("column", _v(None)),
            ("bounds", _v(None)),
            ("impute", _v(None)),
            *_DP_KW,
        ),
    ),
    Entry("analytics.ledger.releases", lambda k: k.analytics.ledger.releases, (_v("orders"),)),
    Entry("analytics.ledger.cap", lambda k: k.analytics.ledger.cap, (_v("orders"),)),
    Entry("analytics.ledger.budget", lambda k: k.analytics.ledger.budget, (_v("orders"),)),
    Entry(
        "analytics.ledger.stored",
        lambda k: k.analytics.ledger.stored,
        (_v("orders"), _v("00ff")),
    ),
    Entry(
        "analytics.conversion",
        lambda k: k.analytics.conversion,
        (_v("orders"), _v("channel"), _v("month")),
        (("treatment", _v("web")), ("holdout", _v("store")), *_DP_KW),
    ),
    Entry(
        "analytics.metric",
        lambda k: k.analytics.metric,
        (_v("clv_by_cohort"),),
        (("upper", _v(20_000)), ("cohorts", _v([202601])), *_DP_KW),
    ),
    Entry(
        "analytics.metric",
        lambda k: k.analytics.metric,
        (_v("segment_sizes"),),
        (("segments", _v(["lifecycle.new"])), *_DP_KW),
    ),
    Entry("predict.stats", lambda k: k.predict.stats, (_sub,)),
    Entry(
        "predict.score",
        lambda k: k.predict.score,
        (_sub,),
        (("now", _v(None)), ("options", _v(None))),
    ),
    Entry("predict.fit", lambda k: k.predict.fit, (), (("now", _v(None)), ("progress", _v(None)))),
    Entry("predict.at_risk", lambda k: k.predict.at_risk, (_sub, _v(_NOW))),
    Entry("predict.likely_to_buy_soon", lambda k: k.predict.likely_to_buy_soon, (_sub, _v(_NOW))),
    Entry("predict.high_value", lambda k: k.predict.high_value, (_sub, _v(_NOW))),
    Entry("predict.dataset", lambda k: k.predict.dataset, (_v("analytics"),)),
    Entry("predict.export_section", lambda k: k.predict.export_section, (_sub, _v([]))),
    Entry("predict.forget", lambda k: k.predict.forget, (_sub, _v("personalization"))),
    Entry("predict.sweep", lambda k: k.predict.sweep, (_sub, _v(_NOW))),
    Entry("predict.channels.counts", lambda k: k.predict.channels.counts, (_sub,)),
    Entry("predict.channels.rates", lambda k: k.predict.channels.rates, (_sub,)),
    Entry("predict.channels.preferred", lambda k: k.predict.channels.preferred, (_sub,)),
    Entry(
        "predict.channels.refresh", lambda k: k.predict.channels.refresh, (lambda c: [c.subject],)
    ),
    Entry(
        "predict.channels.forget",
        lambda k: k.predict.channels.forget,
        (_sub, _v("marketing.email")),
    ),
    Entry(
        "predict.channels.export_section",
        lambda k: k.predict.channels.export_section,
        (_sub, _v([])),
    ),
    Entry(
        "predict.attribution",
        lambda k: k.predict.attribution,
        (_v("last"),),
        (
            ("purpose", _v("analytics")),
            ("lookback_days", _v(30)),
            ("half_life_days", _v(7.0)),
            ("min_paths", _v(10)),
        ),
    ),
    Entry("consent.bulk", lambda k: k.consent.bulk),
    Entry(
        "identity.create_many",
        lambda k: k.identity.create_many,
        (lambda c: [(parse_identifier(f"customer:cm{c.serial}"), new_subject_id())],),
    ),
    Entry(
        "personalization.rules.decide",
        lambda k: _rules(k).decide,
        (_v(StaticFacts(affinities={"category": ["bread"]})), _v("home_banner")),
        (
            ("context", _v({"channel": "web"})),
            ("subject", _sub),
            ("unit", _v("cookie-1")),
            ("explain", _v(True)),
        ),
    ),
    Entry(
        "personalization.rules.load",
        lambda k: _rules(k).load,
        (_v(BAKERY_RULES),),
        (("actor", _v("ops")),),
    ),
    Entry("personalization.rules.check", lambda k: _rules(k).check, (_v(BAKERY_RULES),)),
    Entry(
        "personalization.rules.compile_segments",
        lambda k: _rules(k).compile_segments,
        (_v([{"name": "big", "description": "d", "condition": {"segment": "vip"}}]),),
    ),
    Entry(
        "personalization.rules.add_segments",
        lambda k: _rules(k).add_segments,
        (_v({"vip": ["purchases"]}),),
    ),
    Entry(
        "personalization.rules.check_context",
        lambda k: _rules(k).check_context,
        (_v({"channel": "web"}),),
    ),
    Entry(
        "personalization.rules.remove_segments",
        lambda k: _rules(k).remove_segments,
        (_v(["no-such-segment"]),),
    ),
    Entry(
        "personalization.defined.define",
        lambda k: k.personalization.defined.define,
        (
            lambda c: {
                "name": f"json.stored{c.serial}",
                "description": "d",
                "condition": {"field": "aggregates.order_count", "gte": 3},
            },
        ),
        (("actor", _v("ops")), ("dry_run", _v(False))),
    ),
    Entry(
        "personalization.defined.remove",
        lambda k: k.personalization.defined.remove,
        (_v("json.never-stored"),),
        (("actor", _v("ops")),),
    ),
    Entry(
        "personalization.exposures.record",
        lambda k: _rules(k).exposures.record,
        (_sub, _v("bread-banner-test"), _v("photo"), _v(_NOW)),
    ),
    Entry(
        "personalization.exposures.erase",
        lambda k: _rules(k).exposures.erase,
        (_sub, _v("personalization")),
    ),
    Entry("personalization.exposures.of", lambda k: _rules(k).exposures.of, (_sub,)),
    Entry(
        "registries.hooks.on_traits_change",
        lambda k: k.registries.hooks.on_traits_change,
        (lambda c: f"traits{c.serial}", _v(lambda _subject, _names: None)),
    ),
    Entry(
        "registries.hooks.on_segment_change",
        lambda k: k.registries.hooks.on_segment_change,
        (lambda c: f"change{c.serial}", _v(lambda _change: None)),
    ),
    Entry(
        "personalization.aggregates",
        lambda k: k.personalization.aggregates,
        (_sub,),
        (("now", _v(None)),),
    ),
    Entry(
        "personalization.affinities",
        lambda k: k.personalization.affinities,
        (_sub, _v("category")),
        (("k", _v(3)), ("now", _v(None))),
    ),
    Entry(
        "personalization.segments_of",
        lambda k: k.personalization.segments_of,
        (_sub,),
        (("now", _v(None)),),
    ),
    Entry(
        "personalization.member",
        lambda k: k.personalization.member,
        (_v("lifecycle.new"), _sub),
        (("now", _v(None)),),
    ),
    Entry("personalization.members", lambda k: k.personalization.members, (_v("lifecycle.new"),)),
    Entry("personalization.sizes", lambda k: k.personalization.sizes),
    Entry(
        "personalization.refresh",
        lambda k: k.personalization.refresh,
        (),
        (("now", _v(None)), ("progress", _v(None))),
    ),
    Entry(
        "personalization.facts",
        lambda k: k.personalization.facts,
        (_sub,),
        (("context", _v({"channel": "web"})), ("now", _v(None))),
    ),
    Entry(
        "personalization.rebuild",
        lambda k: k.personalization.rebuild,
        (_sub,),
        (("now", _v(None)),),
    ),
    Entry(
        "personalization.define",
        lambda k: k.personalization.define,
        (lambda c: f"seg-p{c.serial}", _v(lambda _facts: True)),
        (("reads", _v(("aggregates.order_count",))), ("description", _v("a toy"))),
    ),
    Entry(
        "personalization.add_segment",
        lambda k: k.personalization.add_segment,
        (lambda c: Segment(name=f"seg-q{c.serial}", predicate=lambda _facts: False),),
        (("probe", _v(True)),),
    ),
    Entry(
        "personalization.load_rules",
        lambda k: k.personalization.load_rules,
        (_v(BAKERY_RULES),),
        (("actor", _v("ops")),),
    ),
    Entry(
        "personalization.decide",
        lambda k: (_rules(k), k.personalization.decide)[1],
        (_sub, _v("home_banner")),
        (
            ("context", _v({"channel": "web"})),
            ("unit", _v("cookie-1")),
            ("explain", _v(True)),
            ("now", _v(None)),
        ),
    ),
    Entry(
        "personalization.define_segments",
        lambda k: k.personalization.define_segments,
        (
            lambda c: [
                {
                    "name": f"json.seg{c.serial}",
                    "description": "d",
                    "condition": {"field": "aggregates.order_count", "gte": 2},
                }
            ],
        ),
    ),
    Entry(
        "reports.build",
        lambda k: k.reports.build,
        (_v("consent"),),
        (("subject", _ident), ("k", _v(5))),
    ),
    Entry("reports.build", lambda k: k.reports.build, (_v("inventory"),), (("k", _v(None)),)),
    Entry(
        "reports.render",
        lambda k: k.reports.render,
        (_v("inventory"),),
        (("format", _v("html")), ("subject", _v(None)), ("k", _v(None))),
    ),
    Entry("reports.validate", lambda k: k.reports.validate, (_v({"report": "ropa"}),)),
    Entry("reports.verify_pack", lambda k: k.reports.verify_pack, (_v("/nonexistent-pack"),)),
    Entry(
        "reports.add_section",
        lambda k: _fresh_reports(k).add_section,
        (_v("budget"), _v(list)),
    ),
    Entry("reports.add_reads", lambda k: _fresh_reports(k).add_reads, (_v("rules"), _v(dict))),
    Entry("journeys.load", lambda k: k.journeys.load, (_v([_JOURNEY]),)),
    Entry("journeys.enable_builtin", lambda k: k.journeys.enable_builtin, (_v(["welcome"]),)),
    Entry("journeys.refresh", lambda k: k.journeys.refresh, (_sub,), (("now", _v(None)),)),
    Entry(
        "journeys.run_due",
        lambda k: k.journeys.run_due,
        (_v(_NOW),),
        (("limit", _v(10)), ("progress", _v(None))),
    ),
    Entry(
        "journeys.pending",
        lambda k: k.journeys.pending,
        (_v(_NOW),),
        (("limit", _v(5)), ("lease", _v(timedelta(minutes=1)))),
    ),
    Entry("journeys.mark_sent", lambda k: k.journeys.mark_sent, (_v("0" * 24),)),
    Entry(
        "journeys.mark_failed",
        lambda k: k.journeys.mark_failed,
        (_v("0" * 24),),
        (("permanent", _v(False)),),
    ),
    Entry("journeys.redeem", lambda k: k.journeys.redeem, (_v("e30.AAAA"),)),
    Entry("journeys.opened", lambda k: k.journeys.opened, (_v("AQ.AAAA"),)),
    Entry("journeys.clicked", lambda k: k.journeys.clicked, (_v("AQ.AAAA"),)),
    Entry(
        "journeys.record_delivery",
        lambda k: k.journeys.record_delivery,
        (_v("0" * 24), _v("hard_bounce")),
    ),
    Entry("journeys.is_suppressed", lambda k: k.journeys.is_suppressed, (_v("email"), _v("a@b.c"))),
    Entry("journeys.suppress", lambda k: k.journeys.suppress, (_v("sms"), _v("+33600000000"))),
    Entry(
        "journeys.on_withdrawal",
        lambda k: k.journeys.on_withdrawal,
        (_sub, _v("marketing.email")),
    ),
    Entry("journeys.on_erasure", lambda k: k.journeys.on_erasure, (_sub,)),
    Entry("journeys.export_section", lambda k: k.journeys.export_section, (_sub, _v([]))),
    Entry("journeys.dataset", lambda k: k.journeys.dataset, (_v("analytics"),)),
    Entry(
        "recommend.recommend",
        lambda k: k.recommend.recommend,
        (_sub,),
        (("k", _v(10)), ("context", _v({"exclude": ["rye"]})), ("where", _v(None))),
    ),
    Entry("recommend.similar_items", lambda k: k.recommend.similar_items, (_v("sourdough"),)),
    Entry("recommend.use_catalogue", lambda k: k.recommend.use_catalogue, (_v(None),)),
    Entry("recommend.rebuild", lambda k: k.recommend.rebuild, (), (("progress", _v(None)),)),
    Entry("recommend.has_history", lambda k: k.recommend.has_history, (_sub, _v(_NOW))),
    Entry("recommend.dataset", lambda k: k.recommend.dataset, (_v("personalization"),)),
    Entry("recommend.export_section", lambda k: k.recommend.export_section, (_sub, _v([]))),
    Entry("recommend.forget", lambda k: k.recommend.forget, (_sub, _v("personalization"))),
    Entry("recommend.remove", lambda k: k.recommend.remove, (_sub,)),
    Entry("recommend.sweep", lambda k: k.recommend.sweep, (_sub, _v(_NOW))),
    Entry("recommend.goes_with", lambda k: k.recommend.goes_with, (_sub, _v(["sourdough"]))),
]


def _fresh_reports(kit: Personakit) -> Reports:
    """A Reports of the kit's sources with nothing registered (registrations stay off the kit)."""
    return Reports(kit.reports.sources)


_RULES: dict[int, Rules] = {}


def _rules(kit: Personakit) -> Rules:
    """The decision half of personalization, wired from the kit's parts (once per kit)."""
    found = _RULES.get(id(kit))
    if found is None:
        found = kit.personalization.rules
        found.add_segments({"vip": ["purchases"]})
        found.load(BAKERY_RULES)
        _RULES[id(kit)] = found
    return found


@pytest.fixture(scope="module")
def kit() -> Iterator[Personakit]:
    """One in-memory kit for every example (each example makes its own subject)."""
    made, _ = testing.memory_kit()
    with made:
        _rules(made)  # loaded (an audit write) before any example, not inside the first one
        yield made


_SERIAL = itertools.count()


def _context(kit: Personakit) -> Ctx:
    serial = next(_SERIAL)
    identifier = f"customer:c{serial}"
    subject = kit.identity.resolve(identifier, create=True)
    kit.consent.grant(subject, ["personalization", "analytics"], **PRIVACY)
    request = kit.rights.requests.open("access", identifier, jurisdiction="gdpr", channel="email")
    return Ctx(kit=kit, subject=subject, identifier=identifier, request=request.id, serial=serial)


def _snapshot(kit: Personakit) -> tuple[dict[str, bytes], dict[str, bytes]]:
    return dict(kit.store.scan("")), dict(kit.key_store.scan(""))


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entry=st.sampled_from(ENTRIES), data=st.data())
def test_every_public_entry_point_is_total(kit: Personakit, entry: Entry, data: Any) -> None:
    """Any argument values: success or a PersonakitError, and a refused call wrote nothing."""
    ctx = _context(kit)
    args = [data.draw(st.one_of(st.just(make(ctx)), ANYTHING)) for make in entry.args]
    kwargs = {
        name: data.draw(st.one_of(st.just(make(ctx)), ANYTHING)) for name, make in entry.kwargs
    }
    before = _snapshot(kit)
    try:
        entry.method(kit)(*args, **kwargs)
    except PersonakitError:
        assert _snapshot(kit) == before, f"{entry.name} raised after writing"


_VALID_TEXT: Final = st.text(st.characters(exclude_categories=("Cs",)), max_size=6)
_WITH_SURROGATE: Final = st.builds(
    lambda head, tail, low: head + chr(0xDC00 if low else 0xD800) + tail,
    _VALID_TEXT,
    _VALID_TEXT,
    st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(text=_WITH_SURROGATE)
def test_a_lone_surrogate_in_a_trait_or_event_is_invalid_input(kit: Personakit, text: str) -> None:
    """A lone surrogate is not Unicode text: InvalidInput from the API, and nothing written."""
    ctx = _context(kit)
    before = _snapshot(kit)
    with pytest.raises(InvalidInput):
        kit.traits.update(ctx.subject, {"first_name": text[:100]})
    with pytest.raises(InvalidInput):
        kit.track(ctx.identifier, "page_view", channel="web", properties={"url": text})
    with pytest.raises(InvalidInput):
        kit.track(ctx.identifier, "page_view", channel="web", properties={text: "/x"})
    assert _snapshot(kit) == before


@settings(max_examples=20, deadline=None)
@given(escaped=st.booleans(), text=_VALID_TEXT)
def test_a_lone_surrogate_in_an_ingested_line_rejects_the_line(
    kit: Personakit, escaped: bool, text: str
) -> None:
    """As a JSON escape or as raw bytes ED A0 80, a lone surrogate rejects its line only."""
    ctx = _context(kit)
    surrogate = b"\\ud800" if escaped else b"\xed\xa0\x80"
    line = (
        b'{"kind":"event","id":"' + ctx.identifier.encode() + b'","name":"page_view",'
        b'"channel":"web","properties":{"url":"'
        + text.encode().replace(b'"', b"")
        + surrogate
        + b'"}}'
    )
    before = _snapshot(kit)
    summary = kit.ingest([line])
    assert summary.rejected == 1
    assert _snapshot(kit) == before


@settings(max_examples=40, deadline=None)
@given(subject=ANYTHING.filter(lambda v: not isinstance(v, str)))
def test_a_subject_that_is_not_a_string_is_invalid_input(kit: Personakit, subject: Any) -> None:
    """traits.update / get / remove with a non-str subject (None, bytes, ...): InvalidInput."""
    before = _snapshot(kit)
    with pytest.raises(InvalidInput):
        kit.traits.update(subject, {"first_name": "Ada"})
    with pytest.raises(InvalidInput):
        kit.traits.get(subject)
    with pytest.raises(InvalidInput):
        kit.traits.remove(subject, ["first_name"])
    assert _snapshot(kit) == before


@settings(max_examples=30, deadline=None)
@given(value=st.one_of(_WITH_SURROGATE, st.builds(lambda t: {t: 1}, _WITH_SURROGATE)))
def test_canonical_json_refuses_what_utf8_cannot_hold_with_a_typed_error(value: Any) -> None:
    """The encoder's last line of defence: a lone surrogate is InvalidInput, not Unicode's error."""
    with pytest.raises(InvalidInput):
        canonical_json(value)


#: Public methods the property above does not call, and why. A new public method must be
#: added to ENTRIES (and so proven total) or listed here with its reason.
NOT_CALLED: Final = {
    "kit.open": "builds a kit: tests/test_kit.py and the CLI location tests cover its options",
    "kit.close": "no arguments; closing the shared kit would end the property",
    "rights.build": "wiring from a kit's parts, called once by the facade",
    "rights.subject_ref": "the keyring's reference (kit.subject_ref is called)",
    "rights.erasure_log": "no arguments",
    "rights.marketing_purposes": "no arguments",
    "rights.resume_erasures": "only an actor: the CLI erasure tests cover it",
    "rights.replay_erasures": "only an actor: the backup-restore tests cover it",
    "identity.index_key": "takes a parsed Identifier: called only by the index itself",
    "identity.retire": "the reindex's step, with a stored Identifier: test_identity_reindex",
    "identity.drop_all": "erasure's step, inside its transaction: the erasure tests",
    "retention.register": "a host callback registration; the registries' own are called",
    "retention.event_category": "an attribute holding the catalog's lookup",
    "registries.record_kinds.get": "a dictionary lookup",
    "registries.record_kinds.names": "no arguments",
    "registries.record_kinds.exporters": "no arguments",
    "registries.record_kinds.removers": "no arguments",
    "registries.record_kinds.sweepers": "no arguments",
    "registries.segments.names": "no arguments",
    "personalization.defined.names": "no arguments",
    "personalization.defined.documents": "no arguments",
    "personalization.defined.reload": "no arguments",
    "registries.segments.describe": "no arguments",
    "registries.datasets.names": "no arguments",
    "registries.datasets.describe": "no arguments",
    "registries.hooks.events": "runs the registered hooks (the ingest properties drive it)",
    "registries.hooks.merged": "runs the registered hooks (the link tests drive it)",
    "registries.hooks.batch": "a context manager bulk ingest enters (the ingest properties)",
    "registries.hooks.restricted": "runs the registered hooks (rights.restrict drives it)",
    "registries.hooks.restriction_lifted": "runs the registered hooks (lift_restriction does)",
    "analytics.build": "wiring from a kit's parts, called once by the facade",
    "analytics.datasets": "no arguments",
    "analytics.budgets": "no arguments",
    "analytics.ledger.datasets": "no arguments",
    "analytics.ledger.set_cap": "takes a Loss the service built and checked (set_budget is called)",
    "analytics.ledger.check": "takes a Loss from a plan (every query calls it)",
    "analytics.ledger.record": "the release transaction, with a plan's Loss and a checked query",
    "analytics.ledger.answer_key": "a MAC over a query the service checked (every query calls it)",
    "analytics.plans.get": "takes a Shape the service built (every query calls it)",
    "analytics.plans.clear": "no arguments",
    "predict.build": "wiring from a kit's parts, called once by the facade",
    "predict.model": "no arguments",
    "predict.on_events": "an events hook: ingest calls it with stored Events (tests/predictive)",
    "predict.on_merge": "a merge hook: the linker calls it with two live pseudonyms",
    "predict.channels.register": "wiring, called once by Predictive.build",
    "predict.channels.shop_rates": "no arguments",
    "predict.channels.on_events": "an events hook: ingest calls it with stored Events",
    "predict.channels.on_merge": "a merge hook: the linker calls it with two live pseudonyms",
    "personalization.rules.register": "wiring, once per kit (tests/personalization)",
    "personalization.exposures.register": "wiring, once per kit (tests/personalization)",
    "personalization.exposures.forget": "drops an in-process memo; takes only a subject",
    "personalization.exposures.rows": "the dataset provider: the registries' rows() call it",
    "personalization.segment_rows": "the dataset provider: the registries' rows() call it",
    "journeys.entries": "the dataset provider: the registries' rows() call it",
    "registries.hooks.segment_changed": "runs the registered hooks (the segment tests drive it)",
    "registries.hooks.traits_changed": "runs the registered hooks (trait updates drive it)",
    "personalization.segments": "no arguments",
    "reports.write": "writes a file at any path given: tests/reporting cover bad kinds, formats, paths",
    "reports.pack": "writes a directory at any path given: tests/reporting/test_pack.py",
    "journeys.build": "wiring from a kit's parts, called once by the facade",
    "journeys.definitions": "no arguments",
    "journeys.report": "no arguments",
    "journeys.on_events": "an events hook: ingest calls it with stored Events (tests/journeys)",
    "journeys.on_merge": "a merge hook: the linker calls it with two live pseudonyms",
    "journeys.on_traits": "a traits hook: trait updates call it with a pseudonym and names",
    "recommend.build": "wiring from a kit's parts, called once by the facade",
    "recommend.model": "no arguments",
    "recommend.on_events": "an events hook: ingest calls it with stored Events (tests/recommendations)",
    "recommend.on_merge": "a merge hook: the linker calls it with two live pseudonyms",
    "recommend.on_batch_end": "a batch end hook: Hooks.batch calls it (bulk ingest property)",
    "recommend.on_restriction": "a restriction hook: rights calls it with a live pseudonym",
    "recommend.on_lifted": "a restriction lifted hook: rights calls it with a live pseudonym",
    "journeys.reads": "no arguments",
    "analytics.reads": "no arguments",
    "predict.reads": "no arguments",
    "recommend.reads": "no arguments",
}


def test_every_public_method_is_proven_total_or_says_why_not() -> None:
    """A public method of the kit's services is in ENTRIES or in NOT_CALLED with a reason."""
    made, _ = testing.memory_kit()
    with made:
        services = {
            "kit": made,
            "traits": made.traits,
            "identity": made.identity,
            "consent": made.consent,
            "rights": made.rights,
            "requests": made.rights.requests,
            "retention": made.retention,
            "registries.record_kinds": made.registries.record_kinds,
            "registries.segments": made.registries.segments,
            "registries.datasets": made.registries.datasets,
            "registries.hooks": made.registries.hooks,
            "analytics": made.analytics,
            "analytics.ledger": made.analytics.ledger,
            "analytics.plans": made.analytics.plans,
            "predict": made.predict,
            "predict.channels": made.predict.channels,
            "personalization": made.personalization,
            "personalization.rules": made.personalization.rules,
            "personalization.defined": made.personalization.defined,
            "reports": made.reports,
            "journeys": made.journeys,
            "recommend": made.recommend,
        }
        public = {
            f"{prefix}.{name}"
            for prefix, service in services.items()
            for name in dir(type(service))
            if not name.startswith("_") and callable(getattr(service, name, None))
        }
    covered = {entry.name for entry in ENTRIES} | set(NOT_CALLED)
    assert public - covered == set()
