"""The framework-free web core: total on any request input, never trusting a forged value.

Properties: any user / cookie / header value gives a Visit or a typed error; any operation,
method, query, body and content type gives a response below 500, and a 4xx wrote nothing; any
change to a genuine cookie or unsubscribe token is refused; an anonymous visitor asking for
any other subject gets 403 and changes nothing. And the core imports no framework.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personakit import Personakit, testing
from personakit.exceptions import InvalidInput, PersonakitError
from personakit.web import (
    ROUTES,
    SubjectCookies,
    UnsubscribeTokens,
    Visit,
    WebConfig,
    WebFront,
    parse_choices,
)
from test_api_totality import ANYTHING

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01"}
SLOW_OK = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
TEXTISH = st.one_of(st.text(max_size=40), st.binary(max_size=20), ANYTHING)
KEYS = st.one_of(st.text(max_size=20), st.binary(max_size=8), st.integers(), st.none())
OPERATIONS = st.one_of(st.sampled_from([r.operation for r in ROUTES]), TEXTISH)
METHODS = st.one_of(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]), TEXTISH)
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=B",
            "multipart/form-data",
            "text/plain",
        ]
    ),
    TEXTISH,
)
GOOD_CHOICES = st.builds(
    lambda choices, extra: json.dumps({**PRIVACY, "choices": choices, **extra}).encode(),
    st.dictionaries(
        st.sampled_from(["personalization", "analytics", "marketing.email", "nope", ""]),
        st.one_of(st.booleans(), st.none(), st.integers()),
        max_size=3,
    ),
    st.dictionaries(
        st.sampled_from(["language", "extra", "notice"]),
        st.just(None) | st.text(max_size=4) | st.integers(),
        max_size=1,
    ),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
BODIES = st.one_of(
    GOOD_CHOICES,
    st.binary(max_size=60),
    st.just(b"List-Unsubscribe=One-Click"),
    st.just(b"[" * 5000),
    st.builds(lambda v: json.dumps(v).encode(), JSON_VALUES),
    ANYTHING,
)


@pytest.fixture(scope="module")
def kit():
    made, _ = testing.memory_kit()
    with made:
        yield made


@pytest.fixture(scope="module")
def web(kit):
    return WebFront(kit, WebConfig(may_act_for=lambda user, _asked: user == "customer:support"))


def _snapshot(kit: Personakit) -> tuple[dict[str, bytes], dict[str, bytes]]:
    return dict(kit.store.scan("")), dict(kit.key_store.scan(""))


@settings(SLOW_OK, max_examples=150)
@given(
    user=st.one_of(st.none(), st.just("customer:42"), st.just("anon:x"), TEXTISH),
    cookies=st.one_of(st.none(), st.dictionaries(KEYS, TEXTISH, max_size=3), ANYTHING),
    sec_gpc=st.one_of(st.none(), st.sampled_from(["1", " 1 ", "0", "true"]), TEXTISH),
)
def test_visit_takes_any_request_values(web, user: Any, cookies: Any, sec_gpc: Any) -> None:
    """Any user / cookies / Sec-GPC: a Visit, or a typed error for a malformed host user."""
    try:
        visit = web.visit(user=user, cookies=cookies, sec_gpc=sec_gpc)
    except PersonakitError:
        assert user is not None
        return
    assert isinstance(visit, Visit)
    if user is None:
        assert visit.identifier.startswith("anon:")
        assert visit.authenticated is False
    assert visit.gpc == (isinstance(sec_gpc, str) and sec_gpc.strip() == "1")


@settings(SLOW_OK, max_examples=120)
@given(
    operation=OPERATIONS,
    method=METHODS,
    query=st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {}, optional={"subject": TEXTISH, "format": TEXTISH, "token": TEXTISH}
        ),
        ANYTHING,
    ),
    body=BODIES,
    content_type=CONTENT_TYPES,
    form=st.one_of(st.none(), st.just({"List-Unsubscribe": "One-Click"}), ANYTHING),
    logged_in=st.booleans(),
)
def test_privacy_center_answers_any_request_below_500_and_a_4xx_writes_nothing(  # noqa: PLR0917 (hypothesis draws)
    kit, web, operation, method, query, body, content_type, form, logged_in
) -> None:
    """Any operation, method, query, body, content type: a response < 500; 4xx wrote nothing."""
    visit = web.visit(user="customer:shopper" if logged_in else None)
    visit.subject  # noqa: B018 (created first: creating a subject is not the request's write)
    before = _snapshot(kit)
    answer = web.handle(
        operation,
        visit,
        method=method,
        query=query,
        body=body,
        content_type=content_type,
        form=form,
    )
    assert 200 <= answer.status < 500
    if answer.status >= 400:
        assert _snapshot(kit) == before
        assert isinstance(answer.json(), dict)


@settings(max_examples=60)
@given(visit=ANYTHING, operation=OPERATIONS, method=METHODS)
def test_anything_but_a_visit_is_invalid_input(web, visit, operation, method) -> None:
    """The adapter's own bug (no Visit) is a typed error from every entry point, not a crash."""
    for call in (
        lambda: web.handle(operation, visit, method=method),
        lambda: web.bind(visit),
        lambda: web.record(visit),
        lambda: web.center.target(visit, None),
    ):
        try:
            call()
        except PersonakitError:
            continue


@settings(SLOW_OK, max_examples=100)
@given(asked=st.one_of(st.text(min_size=1, max_size=40), st.sampled_from(["customer:victim"])))
def test_an_anonymous_visitor_never_acts_for_another_subject(kit, web, asked: str) -> None:
    """Whatever it names, an anonymous visitor gets 403 for anyone else, and nothing changes."""
    victim = kit.identity.resolve("customer:victim", create=True)
    visit = web.visit()
    own = {"", visit.identifier, visit.subject}
    for name in (asked, victim):
        if name in own:
            continue
        before = _snapshot(kit)
        for operation, method, body in [
            ("data", "GET", b""),
            ("consent", "POST", json.dumps({**PRIVACY, "choices": {"analytics": True}}).encode()),
            ("erasure", "POST", b"{}"),
        ]:
            answer = web.handle(
                operation,
                visit,
                method=method,
                query={"subject": name},
                body=body,
                content_type="application/json",
            )
            assert answer.status == 403
        assert _snapshot(kit) == before


@settings(max_examples=200)
@given(value=TEXTISH)
def test_cookie_and_token_readers_take_any_value(kit, value: Any) -> None:
    """Any value at all is either a genuine cookie / token or None: never an exception."""
    assert SubjectCookies(kit.keyring).token(value) is None
    assert UnsubscribeTokens(kit.keyring).read(value) is None


@settings(max_examples=200)
@given(data=st.data())
def test_any_change_to_a_genuine_cookie_or_token_is_refused(kit, data) -> None:
    """Flip, drop or insert any character of a genuine value: it no longer verifies."""
    cookies = SubjectCookies(kit.keyring)
    token, cookie = cookies.issue()
    assert cookies.token(cookie.value) == token
    unsubscribe = UnsubscribeTokens(kit.keyring)
    link = unsubscribe.make("sub_" + "a" * 26, "marketing.email")
    assert unsubscribe.read(link) == ("sub_" + "a" * 26, "marketing.email")
    for genuine, read in ((cookie.value, cookies.token), (link, unsubscribe.read)):
        at = data.draw(st.integers(0, len(genuine) - 1))
        char = data.draw(st.sampled_from("AQgw_-0.9Zz"))
        kind = data.draw(st.sampled_from(["replace", "drop", "insert"]))
        if kind == "replace":
            changed = genuine[:at] + char + genuine[at + 1 :]
        elif kind == "drop":
            changed = genuine[:at] + genuine[at + 1 :]
        else:
            changed = genuine[:at] + char + genuine[at:]
        if changed != genuine:
            assert read(changed) is None


def test_the_cookie_key_comes_from_the_keyring_not_the_framework() -> None:
    """Another kit (another master key) rejects the cookie; the same keyring accepts it."""
    kit, _ = testing.memory_kit()
    other, _ = testing.memory_kit()
    with kit, other:
        token, cookie = SubjectCookies(kit.keyring).issue()
        assert SubjectCookies(kit.keyring).token(cookie.value) == token
        assert SubjectCookies(other.keyring).token(cookie.value) is None
        assert cookie.header().endswith("; Secure; HttpOnly; SameSite=Lax")


@settings(max_examples=100, deadline=None)
@given(document=st.dictionaries(KEYS, st.one_of(JSON_VALUES, ANYTHING), max_size=5))
def test_parse_choices_takes_any_document(document: Any) -> None:
    """Any mapping: Choices, or InvalidInput listing the problems."""
    problems: tuple[object, ...] = ("accepted",)
    try:
        parse_choices(document)
    except InvalidInput as exc:
        problems = exc.problems
    assert problems


def test_a_tampered_tc_cookie_is_reported_and_ignored(web) -> None:
    visit = web.visit(cookies={"euconsent-v2": "not-a-tc-string"})
    assert visit.problems
    assert all("not-a-tc-string" not in p.what for p in visit.problems)


def test_the_core_imports_no_web_framework() -> None:
    """``import personakit, personakit.web`` with flask/django/fastapi/starlette blocked."""
    script = textwrap.dedent(
        """
        import sys
        BLOCKED = {"flask", "django", "fastapi", "starlette", "werkzeug", "pydantic"}

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked: {name}")
                return None

        sys.meta_path.insert(0, Block())
        import personakit, personakit.web
        from personakit import testing
        kit, _ = testing.memory_kit()
        web = personakit.web.WebFront(kit)
        visit = web.visit(sec_gpc="1")
        assert web.handle("consent", visit).status == 200
        print(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("adapter", ["personakit_flask", "personakit_fastapi", "personakit_django"])
def test_a_missing_framework_is_a_one_line_error(adapter: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {{"flask", "django", "fastapi", "starlette", "click"}}:
                    raise ImportError(name)
                return None

        sys.meta_path.insert(0, Block())
        try:
            import {adapter}
        except ImportError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.strip().splitlines()
    assert line.startswith(f"{adapter} needs ")
    assert "pip install 'personakit[" in line
