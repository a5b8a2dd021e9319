"""personakit for FastAPI: a pure ASGI middleware, dependencies and a privacy-center router.

::

    from personakit_fastapi import PersonakitMiddleware, current_subject, privacy_router

    front = WebFront(Personakit.open("/var/lib/shop/personakit"))
    app.add_middleware(PersonakitMiddleware, front=front, user=user_from_scope)
    app.include_router(privacy_router(), prefix="/privacy")

    @app.get("/offers")
    async def offers(bound: BoundSubject = Depends(require_consent("personalization"))): ...

The kit is synchronous (SQLite underneath): every kit call an ``async`` endpoint makes here
runs in the thread pool (:func:`starlette.concurrency.run_in_threadpool`), never on the event
loop. The adapter only translates; the logic is :mod:`personakit.web`'s.
"""

from __future__ import annotations

try:
    from fastapi import APIRouter, Depends, HTTPException, Request
    from fastapi.responses import Response
    from pydantic import BaseModel, Field
    from starlette.concurrency import run_in_threadpool
except ImportError:  # pragma: no cover (exercised by the packaging test with FastAPI absent)
    raise ImportError(
        "personakit_fastapi needs FastAPI: pip install 'personakit[fastapi]'"
    ) from None

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from personakit.web import ROUTES, BoundSubject, Login, WebFront, WebResponse

__all__ = [
    "SCOPE_KEY",
    "ConsentChoices",
    "ConsentView",
    "ErasureAccepted",
    "PersonakitMiddleware",
    "Problem",
    "ProblemReport",
    "UnsubscribeResult",
    "current_subject",
    "login",
    "privacy_router",
    "require_consent",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Where the middleware puts the bound subject in the ASGI scope (and ``scope["state"]``).
SCOPE_KEY: Final = "personakit"
_FRONT_KEY: Final = "personakit.front"


def _cookies(raw: str) -> dict[str, str]:
    """The ``Cookie`` header's pairs as browsers send them (RFC 6265 5.4): first name wins.

    A split, not :class:`http.cookies.SimpleCookie`: that parser (built for ``Set-Cookie``)
    was the largest cost of the middleware on a request. Malformed pairs are skipped; a
    value's surrounding double quotes are dropped; nothing else is decoded (the subject cookie
    is base64url, and a TC string is too).
    """
    jar: dict[str, str] = {}
    for chunk in raw.split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':  # noqa: PLR2004 (the two quotes)
            value = value[1:-1]
        jar.setdefault(name, value)
    return jar


class PersonakitMiddleware:
    """Pure ASGI middleware: resolves the subject, honours GPC, sets the subject cookie.

    ``user`` is the host's resolver: given the ASGI scope (after the host's own auth
    middleware), it returns the logged-in user's identifier (``customer:42``) or None.
    The bound subject goes to ``scope["personakit"]`` and ``scope["state"]["personakit"]``
    (``request.state.personakit``); ``scope["personakit.gpc"]`` says whether GPC was sent.
    """

    def __init__(
        self, app: ASGIApp, *, front: WebFront, user: Callable[[Scope], str | None] | None = None
    ) -> None:
        """Wrap ``app``."""
        self.app = app
        self.front = front
        self.user = user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection; non-HTTP scopes pass through untouched."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie_header, gpc = "", None
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookie_header += ";" + value.decode("latin-1")
            elif name == b"sec-gpc":
                gpc = value.decode("latin-1")
        user = self.user(scope) if self.user is not None else None
        # Identifying is CPU only (a MAC check); recording GPC / TCF hits the store, so only
        # a request that carries a signal pays a trip to the thread pool here.
        visit = self.front.identify(user=user, cookies=_cookies(cookie_header), sec_gpc=gpc)
        if visit.pending:
            await run_in_threadpool(self.front.record, visit)
        bound = self.front.bind(visit)
        scope[SCOPE_KEY] = bound
        scope[_FRONT_KEY] = self.front
        scope["personakit.gpc"] = visit.gpc
        scope.setdefault("state", {})[SCOPE_KEY] = bound

        async def send_with_cookie(message: Message) -> None:
            # Read at send time: a login during the request rebinds the scope to a new visit.
            current = scope.get(SCOPE_KEY)
            cookie = current.visit.set_cookie if isinstance(current, BoundSubject) else None
            if message["type"] == "http.response.start" and cookie is not None:
                headers = list(message.get("headers", ()))
                headers.append((b"set-cookie", cookie.header().encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def current_subject(request: Request) -> BoundSubject:
    """Dependency: the kit bound to this request's subject (needs :class:`PersonakitMiddleware`)."""
    bound = request.scope.get(SCOPE_KEY)
    if not isinstance(bound, BoundSubject):
        raise RuntimeError("personakit_fastapi: add PersonakitMiddleware to the app")  # noqa: TRY004 (a setup mistake)
    return bound


async def login(request: Request, user: str) -> Login:
    """Link this request's anonymous visitor to the account ``user``, after the host's login.

    Runs in the thread pool. The request is bound to the account from here on
    (``request.state.personakit``), and the response carries a fresh subject cookie (the old
    value names nobody any more); see :meth:`WebFront.login`.
    """
    bound = current_subject(request)
    rebound, done = await run_in_threadpool(bound.login, user)
    request.scope[SCOPE_KEY] = rebound
    request.scope.setdefault("state", {})[SCOPE_KEY] = rebound
    return done


def require_consent(purpose: str) -> Callable[..., Awaitable[BoundSubject]]:
    """Dependency factory: the bound subject, or 403 unless ``purpose`` is allowed now."""

    async def dependency(bound: BoundSubject = Depends(current_subject)) -> BoundSubject:  # noqa: B008 (FastAPI's idiom)
        if not await run_in_threadpool(bound.allowed, purpose):
            raise HTTPException(403, {"error": "consent_required", "purpose": purpose})
        return bound

    return dependency


class Problem(BaseModel):
    """One thing wrong with a request: where, and which rule failed."""

    where: str
    what: str


class ProblemReport(BaseModel):
    """A 400 / 422 answer: every problem found."""

    error: str
    problems: list[Problem]


class ConsentChoices(BaseModel):
    """A consent post (``application/json``): the notice shown, and each purpose's choice."""

    notice: str = Field(description="the notice shown, e.g. privacy_notice")
    notice_version: str = Field(description="its version, e.g. 2026-01")
    language: str | None = Field(default=None, description="its language, if several")
    choices: dict[str, bool] = Field(description="purpose -> given (true) or declined (false)")


class ConsentView(BaseModel):
    """The visitor's consent: the state of each purpose, and the ledger's history."""

    states: dict[str, dict[str, Any]] = Field(description="purpose -> current state")
    history: list[dict[str, Any]] = Field(description="every consent record, oldest first")


class ErasureAccepted(BaseModel):
    """An erasure request was opened and verified; it is carried out by its deadline."""

    request_id: str
    state: str
    due_at: str


class UnsubscribeResult(BaseModel):
    """The one-click unsubscribe's outcome (``changed``: false if already unsubscribed)."""

    unsubscribed: bool
    changed: bool


_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: {"model": ProblemReport, "description": "Malformed request"},
    403: {"description": "Not allowed to act for that subject"},
    422: {"model": ProblemReport, "description": "Invalid content"},
}
_MODELS: Final[dict[str, type[BaseModel] | None]] = {
    "data": None,
    "export": None,
    "erasure": ErasureAccepted,
    "consent": ConsentView,
    "unsubscribe": UnsubscribeResult,
}
_SUBJECT_DOC: Final = (
    "Optional: another subject (pseudonym or identifier). Only a logged-in user the host "
    "allows may ask; anyone else gets 403."
)


_CONSENT_POST: Final = ("consent", "POST")
_CHOICES_BODY: Final = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ConsentChoices.model_json_schema()}},
    }
}


def _to_response(answer: WebResponse) -> Response:
    return Response(
        content=answer.body,
        status_code=answer.status,
        media_type=answer.content_type,
        headers=dict(answer.headers),
    )


def privacy_router() -> APIRouter:
    """The privacy center as an ``APIRouter`` (mount it with a prefix, e.g. ``/privacy``)."""
    router = APIRouter(tags=["privacy"])

    def endpoint(operation: str) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            bound = current_subject(request)
            front: WebFront = request.scope[_FRONT_KEY]
            answer = await run_in_threadpool(
                front.handle,
                operation,
                bound.visit,
                method=request.method,
                query=dict(request.query_params),
                body=await request.body(),
                content_type=request.headers.get("content-type"),
            )
            return _to_response(answer)

        run.__name__ = f"privacy_{operation}"
        return run

    for route in ROUTES:
        for method in route.methods:
            model = _MODELS.get(route.operation)
            router.add_api_route(
                f"/{route.path}",
                endpoint(route.operation),
                methods=[method],
                name=f"personakit_{route.operation}_{method.lower()}",
                summary=route.summary,
                description=f"{route.summary}. {_SUBJECT_DOC}"
                if route.operation != "unsubscribe"
                else route.summary,
                responses={200: {"model": model}, **_ERRORS} if model else dict(_ERRORS),
                openapi_extra=_CHOICES_BODY if (route.operation, method) == _CONSENT_POST else None,
            )
    return router
