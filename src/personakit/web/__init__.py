"""The framework-free web core the Django, Flask and FastAPI adapters translate to.

:class:`WebFront` (one per application) turns a request's host user, cookies and ``Sec-GPC``
header into a :class:`Visit`: the subject (the host's logged-in user, else a random signed
cookie: HttpOnly, Secure, SameSite=Lax, its MAC key derived from the keyring), with GPC and a
TCF CMP's ``euconsent-v2`` cookie applied. Its privacy center (:data:`ROUTES`) answers "my
data", the export download, erasure requests, consent history and changes, and RFC 8058
one-click unsubscribe, as :class:`WebResponse` objects. No framework is imported here.
"""

from personakit.web._center import ROUTES, Choices, PrivacyCenter, Route, parse_choices
from personakit.web._front import BoundSubject, WebFront
from personakit.web._http import (
    AccessDenied,
    MalformedRequest,
    WebResponse,
    error_response,
    json_response,
)
from personakit.web._login import Login
from personakit.web._tokens import (
    COOKIE_LABEL,
    UNSUBSCRIBE_LABEL,
    UNSUBSCRIBE_TTL,
    SetCookie,
    SubjectCookies,
    UnsubscribeTokens,
)
from personakit.web._visit import Visit, VisitResolver, WebConfig

__all__ = [
    "COOKIE_LABEL",
    "ROUTES",
    "UNSUBSCRIBE_LABEL",
    "UNSUBSCRIBE_TTL",
    "AccessDenied",
    "BoundSubject",
    "Choices",
    "Login",
    "MalformedRequest",
    "PrivacyCenter",
    "Route",
    "SetCookie",
    "SubjectCookies",
    "UnsubscribeTokens",
    "Visit",
    "VisitResolver",
    "WebConfig",
    "WebFront",
    "WebResponse",
    "error_response",
    "json_response",
    "parse_choices",
]
