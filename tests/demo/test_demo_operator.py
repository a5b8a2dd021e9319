"""The operator page: a password (constant-time check, session cookie), and reading is read-only.

Through Flask's test client on a real embedded store: without the password the page is a
401 login form; a wrong password is refused; with it the page renders and viewing it writes
nothing to the store (no DP release, no outbox re-check); the DP release is an explicit POST;
the audit pack's reports open from the page, read only.
"""

from __future__ import annotations

import pytest

pytest.importorskip("flask")

from personakit import LocalKeyProvider, Personakit, generate_master_key
from personakit.reporting import KINDS
from personakit_demo import PASSWORD_ENV, create_app, operator_password

PASSWORD = "operator-test-password"


@pytest.fixture(scope="module")
def kit_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-operator")
    kit = Personakit.open(root / "store", keys=LocalKeyProvider(generate_master_key()))
    app = create_app(kit, root, operator_password=PASSWORD)
    yield kit, app
    kit.close()


def _client(app):
    return app.test_client()


def _open(client, method, path, **kwargs):
    return client.open(path, method=method, base_url="https://localhost", **kwargs)


def _store(kit):
    return dict(kit.store.scan("")), dict(kit.key_store.scan(""))


def test_the_page_needs_the_password(kit_app):
    _, app = kit_app
    client = _client(app)
    answer = _open(client, "GET", "/operator")
    assert answer.status_code == 401
    assert b'id="operator-login"' in answer.data
    assert b'id="journeys"' not in answer.data
    wrong = _open(client, "POST", "/operator/login", data={"password": PASSWORD[:-1] + "X"})
    assert wrong.status_code == 401
    assert b'id="operator-failed"' in wrong.data
    assert _open(client, "POST", "/operator/release").status_code == 401
    assert _open(client, "GET", "/operator").status_code == 401
    right = _open(client, "POST", "/operator/login", data={"password": PASSWORD})
    assert right.status_code == 303
    assert _open(client, "GET", "/operator").status_code == 200
    _open(client, "POST", "/operator/logout")
    assert _open(client, "GET", "/operator").status_code == 401


def test_viewing_the_page_writes_nothing_and_the_release_is_explicit(kit_app):
    kit, app = kit_app
    client = _client(app)
    _open(client, "POST", "/operator/login", data={"password": PASSWORD})
    before = _store(kit)
    for _ in range(3):
        page = _open(client, "GET", "/operator")
        assert page.status_code == 200
        assert b'id="dp-none"' in page.data or b'id="dp-orders"' in page.data
    assert _store(kit) == before
    released = _open(client, "POST", "/operator/release", follow_redirects=True)
    assert b'id="dp-orders"' in released.data
    assert kit.analytics.budget("orders").releases >= 1


def test_the_audit_pack_reports_open_from_the_page_read_only(kit_app):
    kit, app = kit_app
    client = _client(app)
    assert _open(client, "GET", "/operator/reports/consent").status_code == 401
    _open(client, "POST", "/operator/login", data={"password": PASSWORD})
    page = _open(client, "GET", "/operator")
    assert b'href="/operator/reports/ropa"' in page.data
    before = _store(kit)
    for kind in KINDS:
        report = _open(client, "GET", f"/operator/reports/{kind}")
        assert report.status_code == 200, kind
        assert report.data.startswith(b"<!DOCTYPE html>")
        assert report.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert _store(kit) == before
    assert _open(client, "GET", "/operator/reports/nothing").status_code == 404


def test_the_password_comes_from_the_environment_or_is_random(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "from-the-environment")
    assert operator_password() == "from-the-environment"
    monkeypatch.delenv(PASSWORD_ENV)
    first, second = operator_password(), operator_password()
    assert first != second
    assert len(first) >= 16


def _with_session(app, session):
    client = app.test_client()
    client.set_cookie("session", session.split("=", 1)[1], domain="localhost")
    return client


def test_an_operator_session_ends_with_its_password(kit_app, tmp_path):
    """The session key outlives a run (keyring-derived); the password of a run must not."""
    kit, app = kit_app
    right = _open(_client(app), "POST", "/operator/login", data={"password": PASSWORD})
    assert right.status_code == 303
    session = next(
        value.split(";", 1)[0]
        for name, value in right.headers.items()
        if name == "Set-Cookie" and value.startswith("session=")
    )
    assert _open(_with_session(app, session), "GET", "/operator").status_code == 200
    # The next run of the same store, with a new password: the old session opens nothing.
    later = create_app(kit, tmp_path, seed=False, operator_password="a-new-password")
    assert _open(_with_session(later, session), "GET", "/operator").status_code == 401
    reports = _open(_with_session(later, session), "GET", "/operator/reports/consent")
    assert reports.status_code == 401
    assert _open(_with_session(later, session), "POST", "/operator/release").status_code == 401
