"""What each adapter adds to the contract: its framework's own hooks.

Flask: state in ``app.extensions``, ``flask personakit``. FastAPI: ``require_consent``, the
OpenAPI document, lifespan scopes passing through. Django: CSRF on browser posts (not on the
one-click unsubscribe), ``manage.py personakit``, the system checks.
"""

from __future__ import annotations

import json
from typing import Annotated

import flask
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from _web_drivers import DjangoDriver, _django_setup
from personakit import LocalKeyProvider, Personakit, generate_master_key, testing
from personakit.web import BoundSubject, WebFront
from personakit_django.apps import check_settings, front
from personakit_fastapi import PersonakitMiddleware, privacy_router, require_consent
from personakit_flask import EXTENSION, PersonakitFlask

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01"}


@pytest.fixture
def kit():
    made, _ = testing.memory_kit()
    with made:
        yield made


@pytest.fixture
def store(tmp_path, monkeypatch):
    key = generate_master_key()
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", key)
    monkeypatch.delenv("PERSONAKIT_STORE", raising=False)
    location = tmp_path / "store"
    with Personakit.open(location, keys=LocalKeyProvider(key)) as made:
        made.identity.resolve("customer:1", create=True)
    return location


# -- Flask ----------------------------------------------------------------------------------


def test_flask_init_app_keeps_its_state_in_app_extensions(kit) -> None:
    ext = PersonakitFlask()
    app = flask.Flask("factory")
    app.config["PERSONAKIT_KIT"] = kit
    ext.init_app(app)
    assert isinstance(app.extensions[EXTENSION], WebFront)
    assert app.extensions[EXTENSION].kit is kit
    assert not hasattr(ext, "app")
    assert app.config["PERSONAKIT_URL_PREFIX"] == "/privacy"


def test_flask_personakit_runs_the_cli_on_the_apps_store(store) -> None:
    app = flask.Flask("shop")
    app.config["PERSONAKIT_STORE"] = str(store)
    PersonakitFlask(app)
    result = app.test_cli_runner().invoke(args=["personakit", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True
    bad = app.test_cli_runner().invoke(args=["personakit", "nonsense"])
    assert bad.exit_code == 2


# -- FastAPI --------------------------------------------------------------------------------


def _fastapi(kit):
    app = FastAPI()
    app.add_middleware(PersonakitMiddleware, front=WebFront(kit))
    app.include_router(privacy_router(), prefix="/privacy")

    @app.get("/offers")
    async def offers(
        bound: Annotated[BoundSubject, Depends(require_consent("personalization"))],
    ) -> dict[str, str]:
        return {"for": bound.visit.identifier[:5]}

    return app


def test_fastapi_require_consent_is_403_until_consent_is_given(kit) -> None:
    with TestClient(_fastapi(kit), base_url="https://shop.test") as client:  # runs the lifespan
        first = client.get("/offers")
        assert first.status_code == 403
        assert first.json()["detail"] == {"error": "consent_required", "purpose": "personalization"}
        body = {**PRIVACY, "choices": {"personalization": True}}
        assert client.post("/privacy/consent", json=body).status_code == 200  # same cookie
        assert client.get("/offers").json() == {"for": "anon:"}


def test_fastapi_openapi_describes_the_privacy_center(kit) -> None:
    with TestClient(_fastapi(kit)) as client:
        spec = client.get("/openapi.json").json()
    consent = spec["paths"]["/privacy/consent"]
    assert consent["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "403" in consent["post"]["responses"]
    assert "ConsentView" in spec["components"]["schemas"]
    assert "summary" in spec["paths"]["/privacy/unsubscribe"]["post"]


# -- Django ---------------------------------------------------------------------------------


def test_django_checks_browser_posts_for_csrf_but_not_the_one_click_unsubscribe(kit) -> None:
    driver = DjangoDriver(kit, enforce_csrf_checks=True)
    try:
        body = json.dumps({**PRIVACY, "choices": {"personalization": True}}).encode()
        refused = driver.request(
            "POST", "/privacy/consent", body=body, content_type="application/json"
        )
        assert refused.status == 403
        subject = kit.identity.resolve("customer:reader", create=True)
        kit.consent.grant(
            subject,
            "marketing.email",
            source="web",
            notice="marketing_notice",
            notice_version="2026-01",
        )
        token = WebFront(kit).unsubscribe_token(subject, "marketing.email")
        done = driver.request(
            "POST",
            f"/privacy/unsubscribe?token={token}",
            body=b"List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert done.status == 200
    finally:
        driver.close()


def test_django_system_checks_name_a_missing_store_and_master_key(monkeypatch) -> None:
    _django_setup()
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY", raising=False)
    monkeypatch.delenv("PERSONAKIT_MASTER_KEY_FILE", raising=False)
    with override_settings(PERSONAKIT={}):
        assert sorted(e.id for e in check_settings()) == ["personakit.E001", "personakit.E002"]
    with override_settings(PERSONAKIT={"STORE": "/srv/store", "MASTER_KEY": "k"}):
        assert check_settings() == []


def test_manage_py_personakit_runs_the_cli_on_the_sites_store(store, capsys) -> None:
    _django_setup()
    with override_settings(PERSONAKIT={"STORE": str(store)}):
        call_command("personakit", "audit", "verify")
        assert json.loads(capsys.readouterr().out)["ok"] is True
        with pytest.raises(CommandError):
            call_command("personakit", "subject", "export", "customer:nobody")


def test_django_without_a_store_is_improperly_configured_in_one_line() -> None:
    _django_setup()
    with override_settings(PERSONAKIT={}), pytest.raises(ImproperlyConfigured, match="STORE"):
        front()
