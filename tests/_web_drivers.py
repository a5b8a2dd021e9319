"""One small driver per web adapter, each over its framework's own test client.

A driver builds an app with the adapter around a given kit, a host user resolver that reads
the ``X-User`` header (the test's stand-in for a login session), and a ``may_act_for`` that
lets only ``customer:support`` act for others; ``request`` returns what the client got.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

import django
import flask
from attrs import frozen
from django.conf import settings
from django.http import JsonResponse
from django.test import Client, override_settings
from django.urls import include, path
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool

from personakit import Personakit
from personakit.web import BoundSubject, Login, WebConfig, WebFront
from personakit_django.middleware import login as django_login
from personakit_fastapi import PersonakitMiddleware, current_subject, privacy_router
from personakit_fastapi import login as fastapi_login
from personakit_flask import PersonakitFlask
from personakit_flask import login as flask_login


@frozen
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def logged_in(done: Login) -> dict[str, object]:
    """What the test apps' ``POST /login`` answers (the host's login is the X-Login header)."""
    return {
        "linked": None if done.linked is None else done.linked.outcome,
        "widened": list(done.widened),
    }


def may_act_for(user: str, asked: str) -> bool:
    return user == "customer:support"


class FlaskDriver:
    name = "flask"

    def __init__(self, kit: Personakit) -> None:
        app = flask.Flask("shop")
        app.config.update(PERSONAKIT_KIT=kit, TESTING=True)
        PersonakitFlask(
            app, user=lambda: flask.request.headers.get("X-User"), may_act_for=may_act_for
        )

        @app.get("/hello")
        def hello() -> dict[str, object]:
            bound = flask.g.personakit
            return {"personalized": bound.allowed("personalization")}

        @app.get("/banner")
        def banner() -> dict[str, object]:
            return dict(flask.g.personakit.decide("home", {"channel": "web"}).to_json())

        @app.post("/login")
        def login() -> dict[str, object]:
            return logged_in(flask_login(flask.request.headers["X-Login"]))

        self.app = app
        self.client = app.test_client(use_cookies=False)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if content_type:
            sent["Content-Type"] = content_type
        response = self.client.open(path, method=method, headers=sent, data=body)
        return Answer(response.status_code, list(response.headers.items()), response.get_data())


class FastAPIDriver:
    name = "fastapi"

    def __init__(self, kit: Personakit) -> None:
        def user(scope: Any) -> str | None:
            found = dict(scope["headers"]).get(b"x-user")
            return None if found is None else found.decode()

        app = FastAPI()
        front = WebFront(kit, WebConfig(may_act_for=may_act_for))
        app.add_middleware(PersonakitMiddleware, front=front, user=user)
        app.include_router(privacy_router(), prefix="/privacy")

        @app.get("/hello")
        async def hello(
            bound: Annotated[BoundSubject, Depends(current_subject)],
        ) -> dict[str, object]:
            return {"personalized": await run_in_threadpool(bound.allowed, "personalization")}

        @app.get("/banner")
        async def banner(
            bound: Annotated[BoundSubject, Depends(current_subject)],
        ) -> dict[str, object]:
            decision = await run_in_threadpool(bound.decide, "home", {"channel": "web"})
            return dict(decision.to_json())

        @app.post("/login")
        async def login(request: Request) -> dict[str, object]:
            return logged_in(await fastapi_login(request, request.headers["X-Login"]))

        self.app = app
        self.client = TestClient(app)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if content_type:
            sent["Content-Type"] = content_type
        self.client.cookies.clear()
        response = self.client.request(method, path, headers=sent, content=body)
        return Answer(response.status_code, list(response.headers.multi_items()), response.content)


def _django_setup() -> None:
    if settings.configured:
        return

    def hello(request: Any) -> Any:
        return JsonResponse({"personalized": request.personakit.allowed("personalization")})

    def banner(request: Any) -> Any:
        return JsonResponse(request.personakit.decide("home", {"channel": "web"}).to_json())

    def login(request: Any) -> Any:
        return JsonResponse(logged_in(django_login(request, request.headers["X-Login"])))

    class Urls:  # a hashable stand-in for a urls module
        urlpatterns: ClassVar = [
            path("login", login),
            path("hello", hello),
            path("banner", banner),
            path("privacy/", include("personakit_django.urls")),
        ]

    settings.configure(
        DEBUG=False,
        SECRET_KEY="test-only-never-used-by-personakit",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["personakit_django"],
        MIDDLEWARE=[
            "django.middleware.csrf.CsrfViewMiddleware",
            "personakit_django.middleware.PersonakitMiddleware",
        ],
        ROOT_URLCONF=Urls,
        PERSONAKIT={},
        USE_TZ=True,
    )
    django.setup()


def django_user(request: Any) -> str | None:
    return request.headers.get("X-User")


class DjangoDriver:
    name = "django"

    def __init__(self, kit: Personakit, *, enforce_csrf_checks: bool = False) -> None:
        _django_setup()
        self.override = override_settings(
            PERSONAKIT={"KIT": kit, "USER": django_user, "MAY_ACT_FOR": may_act_for}
        )
        self.override.enable()
        self.client = Client(enforce_csrf_checks=enforce_csrf_checks)

    def close(self) -> None:
        self.override.disable()

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Answer:
        self.client.cookies.clear()
        response = self.client.generic(
            method,
            path,
            data=body,
            content_type=content_type or "application/octet-stream",
            headers=headers or {},
        )
        found = list(response.items())
        found += [("Set-Cookie", morsel.OutputString()) for morsel in response.cookies.values()]
        return Answer(response.status_code, found, response.content)


DRIVERS: dict[str, Callable[[Personakit], Any]] = {
    "django": DjangoDriver,
    "fastapi": FastAPIDriver,
    "flask": FlaskDriver,
}
