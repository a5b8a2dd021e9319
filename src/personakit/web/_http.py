"""What the web core answers with, and how personakit errors become HTTP statuses.

The core never sees a framework: it returns a :class:`WebResponse` (status, headers, bytes)
that each adapter copies into its own response type. Every error a request can cause maps to
a 4xx with the problems as JSON (locations and rules, never the offending values); only a
failing backend (:class:`~personakit.exceptions.StorageError`) or a bug reaches the framework's
500 handler.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from attrs import field, frozen

from personakit.exceptions import (
    ConsentRequired,
    InvalidInput,
    PersonakitError,
    Problem,
    SubjectNotFound,
)

__all__ = ["AccessDenied", "MalformedRequest", "WebResponse", "error_response", "json_response"]

_JSON: Final = "application/json"


class AccessDenied(PersonakitError, PermissionError):
    """The visitor may not act on that subject (HTTP 403); nothing was read or changed."""

    def __init__(self, what: str = "not allowed to act for this subject") -> None:
        """Say what was refused (never who)."""
        super().__init__(what)


class MalformedRequest(InvalidInput):
    """The request itself is malformed: not JSON, wrong content type, missing form (HTTP 400)."""


@frozen(kw_only=True)
class WebResponse:
    """A framework-free HTTP response: status, headers (name, value pairs), body bytes."""

    status: int
    body: bytes = b""
    content_type: str = _JSON
    headers: tuple[tuple[str, str], ...] = field(default=())

    def json(self) -> Any:
        """The body decoded as JSON (tests and adapters that re-wrap it)."""
        return json.loads(self.body)


def json_response(
    status: int, payload: object, headers: Mapping[str, str] | None = None
) -> WebResponse:
    """A JSON response (UTF-8, keys as given)."""
    # ASCII: a lone surrogate a client sent (and a problem names) must not fail the encoding.
    body = json.dumps(payload, separators=(",", ":")).encode("ascii")
    return WebResponse(status=status, body=body, headers=tuple((headers or {}).items()))


def _problems(problems: tuple[Problem, ...]) -> list[dict[str, str]]:
    return [{"where": p.where, "what": p.what} for p in problems]


def error_response(exc: PersonakitError) -> WebResponse:
    """The 4xx for a personakit error caused by the request.

    400 malformed request, 422 invalid content (with every problem), 403 access denied or
    consent required, 404 no such subject. Anything else is not the request's fault and is
    re-raised for the framework to report.
    """
    if isinstance(exc, MalformedRequest):
        return json_response(400, {"error": "bad_request", "problems": _problems(exc.problems)})
    if isinstance(exc, InvalidInput):
        return json_response(422, {"error": "invalid", "problems": _problems(exc.problems)})
    if isinstance(exc, AccessDenied):
        return json_response(403, {"error": "forbidden", "detail": str(exc)})
    if isinstance(exc, ConsentRequired):
        return json_response(403, {"error": "consent_required", "purpose": exc.purpose})
    if isinstance(exc, SubjectNotFound):
        return json_response(404, {"error": "not_found"})
    raise exc
