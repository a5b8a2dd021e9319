"""The privacy-center views: one per :data:`personakit.web.ROUTES` entry."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from personakit.web import WebResponse
from personakit_django.apps import front

__all__ = ["privacy_view"]


def _to_django(answer: WebResponse) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in answer.headers:
        response[name] = value
    return response


def privacy_view(operation: str) -> Callable[[HttpRequest], HttpResponse]:
    """The view for ``operation``: CSRF-protected, except RFC 8058's one-click unsubscribe.

    A mail provider posts the unsubscribe without a browser session; its signed token is the
    authority there. Everything a browser posts goes through Django's CSRF check.
    """

    def view(request: HttpRequest) -> HttpResponse:
        answer = front().handle(
            operation,
            request.personakit.visit,
            method=request.method or "GET",
            query=request.GET.dict(),
            body=request.body,
            content_type=request.META.get("CONTENT_TYPE"),  # with its parameters (boundary)
        )
        return _to_django(answer)

    view.__name__ = f"privacy_{operation}"
    return csrf_exempt(view) if operation == "unsubscribe" else csrf_protect(view)
