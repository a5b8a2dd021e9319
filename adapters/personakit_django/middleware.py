"""``PersonakitMiddleware``: ``request.personakit`` and the subject cookie."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from personakit_django.apps import PersonakitConfig

__all__ = ["PersonakitMiddleware"]


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
        cookie = visit.set_cookie
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
