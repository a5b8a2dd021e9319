"""The privacy center: what a visitor can see and do about their own data, over HTTP.

Each operation takes the request's :class:`Visit` and returns a :class:`WebResponse`; the
adapters only route URLs here. The rule for every operation: a visitor acts on their own
subject; acting on another (``?subject=…``) needs a logged-in user *and* the host's
``may_act_for`` check, else 403 before anything is read. Posts that change something must be
``application/json`` (a cross-site HTML form cannot send that without a CORS preflight), on
top of the framework's own CSRF protection where it has one. The one-click unsubscribe is the
exception: RFC 8058 mail clients post a form, and its signed token is the authority.
"""

from __future__ import annotations

import email.policy
import json
from collections.abc import Callable, Mapping
from email.parser import BytesParser
from typing import Any, Final
from urllib.parse import parse_qsl

from attrs import evolve, frozen

from personakit.consent import ConsentContext, ConsentManager
from personakit.exceptions import InvalidInput, PersonakitError, Problem
from personakit.journeys import InvalidToken, Journeys
from personakit.rights import Rights, VerificationResult
from personakit.web._engagement import OPERATIONS as ENGAGEMENT
from personakit.web._engagement import EngagementEndpoints
from personakit.web._http import AccessDenied, MalformedRequest, WebResponse, error_response
from personakit.web._http import json_response as _json
from personakit.web._tokens import UnsubscribeTokens
from personakit.web._visit import Visit, WebConfig

__all__ = ["ROUTES", "Choices", "PrivacyCenter", "Route", "parse_choices"]

_MAX_BODY: Final = 64 * 1024
_CHOICE_KEYS: Final = frozenset({"notice", "notice_version", "language", "choices"})


@frozen(kw_only=True)
class Route:
    """One privacy-center endpoint: its operation name, path, methods and description."""

    operation: str
    path: str
    methods: tuple[str, ...]
    summary: str


#: The endpoints every adapter mounts (paths relative to the adapter's prefix).
ROUTES: Final = (
    Route(operation="data", path="data", methods=("GET",), summary="Everything held about me"),
    Route(
        operation="export",
        path="export",
        methods=("GET",),
        summary="Download my data (?format=json or csv)",
    ),
    Route(
        operation="erasure",
        path="erasure",
        methods=("POST",),
        summary="Ask for my data to be erased (opens a verified erasure request)",
    ),
    Route(
        operation="consent",
        path="consent",
        methods=("GET", "POST"),
        summary="My consent choices and their history; POST changes them",
    ),
    Route(
        operation="unsubscribe",
        path="unsubscribe",
        methods=("POST",),
        summary="RFC 8058 one-click unsubscribe (?token=…, form List-Unsubscribe=One-Click)",
    ),
    Route(operation="open", path="open", methods=("GET",), summary="E-mail open pixel (?t=…)"),
    Route(
        operation="click",
        path="click",
        methods=("GET",),
        summary="E-mail click redirect to the message's own link (?t=…)",
    ),
)


def _is_json(content_type: object) -> bool:
    if not isinstance(content_type, str):
        return False
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _json_object(body: object, content_type: object) -> dict[str, Any]:
    """The request body as a JSON object, or :class:`MalformedRequest` saying why not."""
    if not _is_json(content_type):
        raise MalformedRequest(
            "bad request", [Problem(where="content-type", what="must be application/json")]
        )
    if not isinstance(body, bytes) or len(body) > _MAX_BODY:
        raise MalformedRequest(
            "bad request", [Problem(where="body", what=f"must be at most {_MAX_BODY} bytes")]
        )
    try:
        parsed = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise MalformedRequest("bad request", [Problem(where="body", what="must be a JSON object")])
    return parsed


@frozen(kw_only=True)
class Choices:
    """A validated consent post: the notice shown and purpose -> given (True) or not."""

    notice: str
    notice_version: str
    language: str | None
    given: tuple[str, ...]
    declined: tuple[str, ...]


def parse_choices(document: Mapping[str, Any]) -> Choices:
    """Check the shape of a consent post; :class:`InvalidInput` lists every problem."""
    problems = [
        Problem(where=f"$.{key}" if isinstance(key, str) else "$", what="unknown field")
        for key in document
        if key not in _CHOICE_KEYS
    ]
    fields: dict[str, str | None] = {}
    for key in ("notice", "notice_version", "language"):
        value = document.get(key)
        if (value is not None or key != "language") and not isinstance(value, str):
            problems.append(Problem(where=f"$.{key}", what="must be a string"))
        fields[key] = value if isinstance(value, str) else None
    choices = document.get("choices")
    given: list[str] = []
    declined: list[str] = []
    if not isinstance(choices, dict) or not choices:
        problems.append(Problem(where="$.choices", what="must map purposes to true or false"))
    else:
        for purpose, choice in choices.items():
            if not isinstance(choice, bool):
                problems.append(Problem(where="$.choices", what="each value must be true or false"))
            else:
                (given if choice else declined).append(purpose)
    if problems:
        raise InvalidInput("invalid consent choices", problems)
    return Choices(
        notice=fields["notice"] or "",
        notice_version=fields["notice_version"] or "",
        language=fields["language"],
        given=tuple(given),
        declined=tuple(declined),
    )


class PrivacyCenter:
    """The privacy-center operations over a kit's rights and consent components."""

    def __init__(
        self,
        *,
        rights: Rights,
        consent: ConsentManager,
        tokens: UnsubscribeTokens,
        config: WebConfig,
        journeys: Journeys | None = None,
    ) -> None:
        """Wire to the kit's components (``journeys`` also redeems its expiring tokens)."""
        self.rights = rights
        self.consent = consent
        self.tokens = tokens
        self.config = config
        self.journeys = journeys
        self._operations: dict[tuple[str, str], Callable[..., WebResponse]] = {
            ("data", "GET"): self._data,
            ("export", "GET"): self._export,
            ("erasure", "POST"): self._erasure,
            ("consent", "GET"): self._consent_history,
            ("consent", "POST"): self._change_choices,
        }
        self._known = frozenset(operation for operation, _ in self._operations)

    def __repr__(self) -> str:
        """Render with the configuration."""
        return f"PrivacyCenter({self.config!r})"

    def handle(
        self,
        operation: str,
        visit: Visit,
        *,
        method: str = "GET",
        query: Mapping[str, str] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        form: Mapping[str, str] | None = None,
    ) -> WebResponse:
        """Run one privacy-center operation (see :data:`ROUTES`) for ``visit``.

        Every answer carries ``Cache-Control: no-store``: it is one person's data.

        ``form`` is the parsed form of a form post, if the adapter parsed it (multipart);
        otherwise an urlencoded ``body`` is parsed here. Returns the response, a 4xx for
        anything wrong with the request (405 for a method the operation does not take, 404
        for an unknown operation).
        """
        answer = self._handle(operation, visit, method, query, body, content_type, form)
        if any(name.lower() == "cache-control" for name, _ in answer.headers):
            return answer
        return evolve(answer, headers=(*answer.headers, ("Cache-Control", "no-store")))

    def _handle(  # noqa: PLR0917 (handle's arguments, passed on)
        self,
        operation: str,
        visit: Visit,
        method: str,
        query: Mapping[str, str] | None,
        body: bytes,
        content_type: str | None,
        form: Mapping[str, str] | None,
    ) -> WebResponse:
        # Request values arrive as the framework parsed them; anything odd is the request's
        # fault (a 4xx), never an exception out of here. A non-Visit is the caller's bug.
        _check_visit(visit)
        queried = _text_fields(query)
        given_type: object = content_type  # callers without a type checker send anything
        given_body: object = body
        content_type = given_type if isinstance(given_type, str) else None
        body = given_body if isinstance(given_body, bytes) else b""
        if isinstance(operation, str) and operation in ENGAGEMENT:
            return EngagementEndpoints(self.journeys).handle(operation, method, queried.get("t"))
        if operation == "unsubscribe":
            fields = _text_fields(form) if form is not None else _form(body, content_type)
            return self.unsubscribe(queried.get("token"), fields, method=method)
        if not isinstance(operation, str) or operation not in self._known:
            return _json(404, {"error": "not_found"})
        run = self._operations.get((operation, method)) if isinstance(method, str) else None
        if run is None:
            return _json(405, {"error": "method_not_allowed"})
        try:
            subject = self.target(visit, queried.get("subject"))
            return run(visit, subject, queried, body, content_type)
        except PersonakitError as exc:
            return error_response(exc)

    def target(self, visit: Visit, asked: object) -> str:
        """The subject an operation acts on: the visitor's own unless allowed otherwise.

        Raises :class:`AccessDenied` when ``asked`` names someone else and the visitor is not
        a logged-in user the host's ``may_act_for`` lets act for them.
        """
        _check_visit(visit)
        if asked is None or asked == "":
            return visit.subject
        if not isinstance(asked, str):
            raise AccessDenied
        if asked == visit.identifier:
            return visit.subject
        if visit.existing_subject() == asked:
            return asked
        check = self.config.may_act_for
        if not visit.authenticated or check is None or check(visit.identifier, asked) is not True:
            raise AccessDenied
        return self.rights.subject(asked)

    # -- operations ---------------------------------------------------------------------------

    def _data(self, _visit: Visit, subject: str, *_: object) -> WebResponse:
        return _json(200, self.rights.export(subject, actor=self.config.actor))

    def _export(
        self, _visit: Visit, subject: str, query: Mapping[str, str], *_: object
    ) -> WebResponse:
        fmt = query.get("format", "json")
        if fmt == "csv":
            body = self.rights.export_csv(subject, actor=self.config.actor)
            kind, name = "application/zip", "personakit-export.zip"
        elif fmt == "json":
            document = self.rights.export(subject, actor=self.config.actor)
            body = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
            kind, name = "application/json", "personakit-export.json"
        else:
            raise InvalidInput("invalid export", [Problem(where="format", what="json or csv")])
        disposition = f'attachment; filename="{name}"'
        return WebResponse(
            status=200,
            body=body,
            content_type=kind,
            headers=(("Content-Disposition", disposition), ("Cache-Control", "no-store")),
        )

    def _erasure(
        self, visit: Visit, subject: str, _query: object, body: bytes, content_type: str | None
    ) -> WebResponse:
        _json_object(body, content_type)  # the JSON requirement is the CSRF guard
        own = subject == visit.existing_subject()
        identifier = visit.identifier if own else _identifier_of(self.rights, subject)
        book = self.rights.requests
        request = book.open(
            "erasure",
            [identifier],
            jurisdiction=self.config.jurisdiction,
            channel="web",
            actor=self.config.actor,
        )
        method = "web_session" if visit.authenticated else "web_cookie"
        verifier = _Verified(method)
        request = book.verify(request.id, verifier=verifier, actor=self.config.actor)
        return _json(
            202,
            {
                "request_id": request.id,
                "state": request.state.value,
                "due_at": request.due_at.isoformat(),
            },
        )

    def _consent_history(self, _visit: Visit, subject: str, *_: object) -> WebResponse:
        states = self.consent.states(subject)
        return _json(
            200,
            {
                "states": {purpose: state.to_json() for purpose, state in states.items()},
                "history": [record.to_json() for record in self.consent.ledger(subject)],
            },
        )

    def _change_choices(
        self, _visit: Visit, subject: str, _query: object, body: bytes, content_type: str | None
    ) -> WebResponse:
        choices = parse_choices(_json_object(body, content_type))
        context = ConsentContext(source="web", actor=self.config.actor)
        notice, version, language = choices.notice, choices.notice_version, choices.language
        # Check both halves before recording either, so a bad post changes nothing.
        for status, purposes in (("given", choices.given), ("refused", choices.declined)):
            if purposes:
                self.consent.validate_decision(
                    status,  # type: ignore[arg-type]  # the two literals of the loop
                    purposes,
                    notice=notice,
                    notice_version=version,
                    language=language,
                    context=context,
                )
        receipts = []
        if choices.given:
            receipts.append(
                self.consent.grant(
                    subject,
                    choices.given,
                    notice=notice,
                    notice_version=version,
                    language=language,
                    context=context,
                )
            )
        granted = sorted(p for p in choices.declined if self.consent.state(subject, p).allowed)
        if granted:
            receipts.append(
                self.consent.withdraw(
                    subject,
                    granted,
                    notice=notice,
                    notice_version=version,
                    language=language,
                    context=context,
                )
            )
        others = [p for p in choices.declined if p not in granted]
        if others:
            receipts.append(
                self.consent.refuse(
                    subject,
                    others,
                    notice=notice,
                    notice_version=version,
                    language=language,
                    context=context,
                )
            )
        return _json(200, {"receipts": [receipt.to_json() for receipt in receipts]})

    # -- one-click unsubscribe ----------------------------------------------------------------

    def unsubscribe_token(self, subject: str, purpose: str) -> str:
        """A signed token for the ``List-Unsubscribe`` URL of a mail to ``subject``.

        ``purpose`` must be a consent purpose of the manifest (``marketing.email``).
        """
        problems: list[Problem] = []
        if not isinstance(subject, str) or not self.rights.identity.exists(subject):
            problems.append(Problem(where="subject", what="must be a live subject pseudonym"))
        if not isinstance(purpose, str) or purpose not in {
            p.id for p in self.consent.manifest.consent_purposes()
        }:
            problems.append(Problem(where="purpose", what="must be a consent purpose"))
        if problems:
            raise InvalidInput("invalid unsubscribe token request", problems)
        return self.tokens.make(subject, purpose)

    def unsubscribe(
        self, token: object, form: Mapping[str, str] | None, *, method: str = "POST"
    ) -> WebResponse:
        """RFC 8058 one-click unsubscribe: withdraw the token's purpose.

        Only a POST with the form field ``List-Unsubscribe=One-Click`` acts (a GET, as link
        scanners send, changes nothing: 405); a forged, altered or expired token gets the same
        403, whichever kind of token it claims to be.
        """
        if method != "POST":
            return _json(405, {"error": "method_not_allowed"})
        if not isinstance(form, Mapping) or form.get("List-Unsubscribe") != "One-Click":
            problem = Problem(where="form", what="must hold List-Unsubscribe=One-Click")
            return error_response(MalformedRequest("bad request", [problem]))
        found = self.tokens.read(token)
        if found is None:
            return self._journeys_unsubscribe(token)
        subject, purpose = found
        if not self.rights.identity.exists(subject):
            return _json(200, {"unsubscribed": True, "changed": False})  # erased: nothing held
        receipt = self.consent.withdraw(
            subject, purpose, source="email_link", method="one_click", actor=self.config.actor
        )
        return _json(200, {"unsubscribed": True, "changed": receipt.changed})

    def _journeys_unsubscribe(self, token: object) -> WebResponse:
        # A journeys action's token (expiring, one channel): journeys withdraws the channel's
        # consent and suppresses the address. Any bad token gets the same 403.
        if self.journeys is None:
            return error_response(AccessDenied("invalid unsubscribe link"))
        try:
            redeemed = self.journeys.redeem(token)
        except InvalidToken:
            return error_response(AccessDenied("invalid unsubscribe link"))
        return _json(200, {"unsubscribed": True, "changed": redeemed.withdrawn})


@frozen
class _Verified:
    """The privacy center's verification: the request comes from the subject's own session."""

    method: str

    def verify(self, request: object) -> VerificationResult:  # noqa: ARG002 (the protocol's)
        return VerificationResult(verified=True, method=self.method)


def _identifier_of(rights: Rights, subject: str) -> str:
    """A host identifier of ``subject`` for a request opened on their behalf."""
    identifiers = rights.identity.identifiers(subject)
    if not identifiers:
        raise InvalidInput(
            "cannot open request", [Problem(where="subject", what="has no identifier")]
        )
    return str(identifiers[0])


def _check_visit(visit: object) -> None:
    if not isinstance(visit, Visit):
        raise InvalidInput("invalid visit", [Problem(where="visit", what="must be a Visit")])


def _text_fields(given: object) -> dict[str, str]:
    """The str-to-str entries of a query or form mapping (anything else is not a field)."""
    if not isinstance(given, Mapping):
        return {}
    return {k: v for k, v in given.items() if isinstance(k, str) and isinstance(v, str)}


def _form(body: object, content_type: object) -> Mapping[str, str] | None:
    """A form post's fields (urlencoded or multipart), or None if the body is not a form.

    RFC 8058 lets the mail client send either encoding. Multipart is read with the standard
    library's MIME parser (text fields only), so no framework's form parser is needed.
    """
    if not isinstance(body, bytes) or len(body) > _MAX_BODY or not isinstance(content_type, str):
        return None
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    if kind != "multipart/form-data" or "\r" in content_type or "\n" in content_type:
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8", "replace").strip()
    return fields
