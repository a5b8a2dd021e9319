"""``PersonakitMiddleware``: ``request.personakit`` and the subject cookie."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from personakit.web import BoundSubject, Login
from personakit_django.apps import PersonakitConfig

__all__ = ["PersonakitMiddleware", "login"]


def login(request: HttpRequest, user: str) -> Login:
    """Link this request's anonymous visitor to the account ``user``, after the host's login.

    Call it next to ``django.contrib.auth.login``. ``request.personakit`` is bound to the
    account from here on, and the response carries a fresh subject cookie (the old value names
    nobody any more); see :meth:`personakit.web.WebFront.login`.
    """
    bound: BoundSubject = request.personakit
    request.personakit, done = bound.login(user)
    return done


class PersonakitMiddleware:
    """Resolves the subject (after Django's auth middleware), honours GPC, sets the cookie."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        """Wrap the rest of the stack."""
        from django.apps import apps  # noqa: PLC0415 (the registry is ready by now)

        self.get_response = get_response
        config = apps.get_app_config("personakit")
        assert isinstance(config, PersonakitConfig)
        self.config = config

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        """Bind ``request.personakit``; set the cookie on the response if one was issued."""
        front = self.config.front()
        visit = front.visit(
            user=self.config.user_resolver()(request),
            cookies=request.COOKIES,
            sec_gpc=request.headers.get("Sec-GPC"),
        )
        request.personakit = front.bind(visit)
        response = self.get_response(request)
        # Read after the view: a login during the request rebinds it to a new visit.
        cookie = request.personakit.visit.set_cookie
        if cookie is not None:
            response.set_cookie(
                cookie.name,
                cookie.value,
                max_age=cookie.max_age,
                path=cookie.path,
                secure=cookie.secure,
                httponly=cookie.http_only,
                samesite=cookie.same_site,
            )
        return response
