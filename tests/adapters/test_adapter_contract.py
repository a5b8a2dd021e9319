"""What every web adapter must show, run against each through its framework's test client.

Cookie attributes, a GPC request recording the opt-out, a consent post recording the notice
version, a forged cookie getting a fresh subject, the privacy endpoints refusing another
subject (and changing nothing), and RFC 8058's one-click unsubscribe POST.
"""

from __future__ import annotations

import json

import pytest

from _web_drivers import DRIVERS, Answer
from personakit import Personakit, testing
from personakit.web import WebFront

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01"}
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
ONE_CLICK = b"List-Unsubscribe=One-Click"
# A real TC string (tests/consent/test_signals.py): consents to TCF purposes {1, 3, 9, 10}.
TC_STRING = "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA"


@pytest.fixture(params=sorted(DRIVERS))
def site(request):
    kit, _ = testing.memory_kit()
    with kit:
        driver = DRIVERS[request.param](kit)
        yield kit, driver
        getattr(driver, "close", lambda: None)()


def _cookie(answer: Answer) -> str:
    (header,) = [h for h in answer.header("Set-Cookie") if h.startswith("pk_subject=")]
    return header.split(";", 1)[0]


def _subject(kit: Personakit, cookie: str) -> str | None:
    token = cookie.split("=", 1)[1].split(".")[1]
    return kit.identity.lookup(f"anon:{token}")


def _first_visit(kit, driver, **headers: str) -> tuple[str, str]:
    answer = driver.request("GET", "/privacy/consent", headers=headers)
    assert answer.status == 200
    cookie = _cookie(answer)
    subject = _subject(kit, cookie)
    assert subject is not None
    return cookie, subject


def test_a_new_visitor_gets_a_signed_cookie_httponly_secure_lax(site) -> None:
    _, driver = site
    answer = driver.request("GET", "/hello")
    assert answer.status == 200
    (header,) = [h for h in answer.header("Set-Cookie") if h.startswith("pk_subject=")]
    attributes = {part.strip().split("=")[0].lower(): part for part in header.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "path"} <= set(attributes)
    assert attributes["samesite"].split("=")[1].strip().lower() == "lax"
    assert attributes["path"].split("=")[1].strip() == "/"
    again = driver.request("GET", "/hello", headers={"Cookie": header.split(";")[0]})
    assert again.header("Set-Cookie") == []  # a genuine cookie is kept, not re-issued


def test_sec_gpc_1_records_the_opt_out(site) -> None:
    kit, driver = site
    _, subject = _first_visit(kit, driver, **{"Sec-GPC": "1"})
    ledger = kit.consent.ledger(subject)
    assert [(r.purpose, r.status, r.source) for r in ledger] == [("sale_sharing", "refused", "gpc")]
    assert not kit.consent.allowed(subject, "sale_sharing")


def test_a_tcf_cookie_is_applied_through_the_decoder(site) -> None:
    kit, driver = site
    cookie, subject = _first_visit(kit, driver)
    answer = driver.request(
        "GET", "/hello", headers={"Cookie": f"{cookie}; euconsent-v2={TC_STRING}"}
    )
    assert answer.status == 200
    assert {r.source for r in kit.consent.ledger(subject)} == {"tcf"}
    broken = driver.request("GET", "/hello", headers={"Cookie": f"{cookie}; euconsent-v2=%%%"})
    assert broken.status == 200  # a broken CMP cookie is ignored, never a 500


def test_a_consent_post_records_the_notice_version(site) -> None:
    kit, driver = site
    cookie, subject = _first_visit(kit, driver)
    body = json.dumps({**PRIVACY, "choices": {"personalization": True, "analytics": False}})
    answer = driver.request(
        "POST",
        "/privacy/consent",
        headers={"Cookie": cookie},
        body=body.encode(),
        content_type=JSON,
    )
    assert answer.status == 200, answer.body
    records = {r.purpose: r for r in kit.consent.ledger(subject)}
    assert records["personalization"].status == "given"
    assert records["personalization"].notice_version == "2026-01"
    assert records["analytics"].status == "refused"
    hello = driver.request("GET", "/hello", headers={"Cookie": cookie})
    assert hello.json() == {"personalized": True}


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"not json", JSON, 400),
        (b"[1, 2]", JSON, 400),
        (json.dumps({**PRIVACY, "choices": {"personalization": "yes"}}).encode(), JSON, 422),
        (json.dumps({**PRIVACY, "choices": {"nope": True}}).encode(), JSON, 422),
        (json.dumps({"notice": "x", "choices": {}, "extra": 1}).encode(), JSON, 422),
        (b"choices=1", FORM, 400),
    ],
)
def test_a_malformed_consent_post_is_4xx_with_problems_and_changes_nothing(
    site, body, content_type, status
) -> None:
    kit, driver = site
    cookie, subject = _first_visit(kit, driver)
    answer = driver.request(
        "POST", "/privacy/consent", headers={"Cookie": cookie}, body=body, content_type=content_type
    )
    assert answer.status == status, answer.body
    assert answer.json()["problems"]
    assert kit.consent.ledger(subject) == []


def test_privacy_endpoints_refuse_another_subject_when_unauthenticated(site) -> None:
    kit, driver = site
    victim = kit.identity.resolve("customer:victim", create=True)
    kit.consent.grant(victim, "personalization", source="web", **PRIVACY)
    before = kit.consent.ledger(victim)
    cookie, _ = _first_visit(kit, driver)
    decline = json.dumps({**PRIVACY, "choices": {"personalization": False}}).encode()
    for asked in (victim, "customer:victim"):
        for method, path, body in [
            ("GET", "data", b""),
            ("GET", "export", b""),
            ("GET", "consent", b""),
            ("POST", "consent", decline),
            ("POST", "erasure", b"{}"),
        ]:
            answer = driver.request(
                method,
                f"/privacy/{path}?subject={asked}",
                headers={"Cookie": cookie},
                body=body,
                content_type=JSON if body else None,
            )
            assert answer.status == 403, (method, path, answer.body)
            assert victim.encode() not in answer.body
    # A logged-in customer is no better placed than an anonymous visitor ...
    answer = driver.request(
        "GET", f"/privacy/data?subject={victim}", headers={"X-User": "customer:mallory"}
    )
    assert answer.status == 403
    assert kit.consent.ledger(victim) == before
    assert kit.rights.requests.list() == []
    # ... while the host's may_act_for lets its support agent through.
    allowed = driver.request(
        "GET", "/privacy/data?subject=customer:victim", headers={"X-User": "customer:support"}
    )
    assert allowed.status == 200
    assert allowed.json()["subject"]["id"] == victim


def test_a_forged_cookie_gets_a_fresh_subject(site) -> None:
    kit, driver = site
    cookie, subject = _first_visit(kit, driver)
    name, value = cookie.split("=", 1)
    version, token, tag = value.split(".")
    forgeries = [
        f"{name}={version}.{token}.{tag[:-1]}{'A' if tag[-1] != 'A' else 'B'}",
        f"{name}={version}.{token[::-1]}.{tag}",
        f"{name}=2.{token}.{tag}",
        f"{name}={token}",
        f"{name}=",
    ]
    for forged in forgeries:
        answer = driver.request("GET", "/privacy/consent", headers={"Cookie": forged})
        assert answer.status == 200
        fresh = _cookie(answer)
        assert fresh != cookie
        assert _subject(kit, fresh) not in {None, subject}


def test_the_one_click_unsubscribe_post_withdraws_the_purpose(site) -> None:
    kit, driver = site
    subject = kit.identity.resolve("customer:reader", create=True)
    notice = {"notice": "marketing_notice", "notice_version": "2026-01"}
    kit.consent.grant(subject, "marketing.email", source="web", **notice)
    token = WebFront(kit).unsubscribe_token(subject, "marketing.email")
    url = f"/privacy/unsubscribe?token={token}"
    assert driver.request("GET", url).status == 405  # link scanners' GETs change nothing
    assert driver.request("POST", url, body=b"x=1", content_type=FORM).status == 400
    forged = url[:-2] + ("AA" if not url.endswith("AA") else "BB")
    assert driver.request("POST", forged, body=ONE_CLICK, content_type=FORM).status == 403
    assert kit.consent.allowed(subject, "marketing.email")
    answer = driver.request("POST", url, body=ONE_CLICK, content_type=FORM)
    assert answer.status == 200
    assert answer.json() == {"unsubscribed": True, "changed": True}
    assert not kit.consent.allowed(subject, "marketing.email")
    assert kit.consent.ledger(subject, "marketing.email")[-1].source == "email_link"
    multipart = (
        b'--B\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n'
        b"--B--\r\n"
    )
    again = driver.request(
        "POST", url, body=multipart, content_type="multipart/form-data; boundary=B"
    )
    assert again.json() == {"unsubscribed": True, "changed": False}


def test_my_data_export_and_erasure_request_for_the_visitor_itself(site) -> None:
    kit, driver = site
    cookie, subject = _first_visit(kit, driver)
    data = driver.request("GET", "/privacy/data", headers={"Cookie": cookie})
    assert data.status == 200
    assert data.json()["subject"]["id"] == subject
    assert data.header("Cache-Control") == ["no-store"]  # one person's data: never cached
    download = driver.request("GET", "/privacy/export?format=csv", headers={"Cookie": cookie})
    assert download.status == 200
    assert "attachment" in download.header("Content-Disposition")[0]
    assert download.body.startswith(b"PK")
    bad = driver.request("GET", "/privacy/export?format=xml", headers={"Cookie": cookie})
    assert bad.status == 422
    erasure = driver.request(
        "POST", "/privacy/erasure", headers={"Cookie": cookie}, body=b"{}", content_type=JSON
    )
    assert erasure.status == 202
    (request,) = kit.rights.requests.list()
    assert request.id == erasure.json()["request_id"]
    assert request.state.value == "verified"
    not_json = driver.request(
        "POST", "/privacy/erasure", headers={"Cookie": cookie}, body=b"", content_type=FORM
    )
    assert not_json.status == 400  # a cross-site form cannot post here


def test_login_links_the_cookie_subject_to_the_account_and_reissues_the_cookie(site) -> None:
    """At login the visitor's consent and history join the account; the old cookie dies."""
    kit, driver = site
    cookie, anon = _first_visit(kit, driver)
    body = json.dumps({**PRIVACY, "choices": {"personalization": True, "analytics": True}})
    driver.request(
        "POST",
        "/privacy/consent",
        headers={"Cookie": cookie},
        body=body.encode(),
        content_type=JSON,
    )
    kit.track(
        f"anon:{cookie.split('.')[1]}", "page_view", channel="web", properties={"url": "/bread"}
    )
    answer = driver.request("POST", "/login", headers={"Cookie": cookie, "X-Login": "customer:ada"})
    assert answer.status == 200, answer.body
    assert answer.json() == {"linked": "attached", "widened": ["analytics", "personalization"]}
    fresh = _cookie(answer)
    assert fresh != cookie
    account = kit.identity.lookup("customer:ada")
    assert account == anon  # a new account: the visitor's subject became it
    assert kit.events.count(account) == 1
    assert _subject(kit, cookie) is None  # the old cookie names nobody now
    hello = driver.request("GET", "/hello", headers={"X-User": "customer:ada", "Cookie": fresh})
    assert hello.json() == {"personalized": True}
    # A later anonymous visit that refused: the refusal narrows the account at login.
    other, _ = _first_visit(kit, driver)
    decline = json.dumps({**PRIVACY, "choices": {"personalization": False}})
    driver.request(
        "POST",
        "/privacy/consent",
        headers={"Cookie": other},
        body=decline.encode(),
        content_type=JSON,
    )
    again = driver.request("POST", "/login", headers={"Cookie": other, "X-Login": "customer:ada"})
    assert again.json() == {"linked": "merged", "widened": []}
    assert not kit.consent.allowed(account, "personalization")
    assert kit.consent.allowed(account, "analytics")
