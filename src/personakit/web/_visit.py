"""Who is asking: the subject of a web request, and the privacy signals it carries.

:meth:`WebFront.visit` turns what an adapter read from a request (the host's user identifier,
the cookies, the ``Sec-GPC`` header) into a :class:`Visit`. A logged-in user is the host's
identifier (``customer:42``); anyone else is ``anon:<token>``, the token carried by a random,
signed subject cookie. A missing, forged or tampered cookie is never trusted: the visitor gets a
fresh token and a new cookie. The subject is created on first use, so a visitor that only reads
pages costs no write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Final

from attrs import define, field, frozen

from personakit.consent import ConsentManager
from personakit.exceptions import InvalidInput, Problem
from personakit.profiles import IdentityIndex, parse_identifier
from personakit.web._tokens import UNSUBSCRIBE_TTL, SetCookie, SubjectCookies

__all__ = ["Visit", "VisitResolver", "WebConfig"]

_ANON: Final = "anon:"


@frozen(kw_only=True)
class WebConfig:
    """How the web front behaves; adapters build it from their framework's settings.

    Attributes:
        cookie_name: The subject cookie's name.
        tcf_cookie: The cookie a TCF CMP writes its TC string into (None: ignore TCF).
        jurisdiction: The law erasure requests opened from the privacy center follow
            (``gdpr``, ``uk_gdpr`` or ``ccpa``).
        may_act_for: The host's check that an authenticated user (its identifier) may act on
            another subject (the identifier or pseudonym asked for), such as a support agent.
            None: nobody may; an anonymous visitor never may.
        actor: The audit actor of changes made through the web front.
        unsubscribe_ttl: How long a one-click unsubscribe link works after it was made.
    """

    cookie_name: str = "pk_subject"
    tcf_cookie: str | None = "euconsent-v2"
    jurisdiction: str = "gdpr"
    may_act_for: Callable[[str, str], bool] | None = None
    actor: str = "web"
    unsubscribe_ttl: timedelta = UNSUBSCRIBE_TTL


@define
class Visit:
    """One request's subject and signals; the subject is created when first needed.

    Attributes:
        identifier: ``customer:…`` (the host's user) or ``anon:<token>`` (the cookie's).
        authenticated: Whether the host's resolver named a logged-in user.
        gpc: Whether the request carried ``Sec-GPC: 1`` (then the opt-out is recorded).
        set_cookie: The subject cookie to set on the response, if a new one was issued.
        problems: Signals that were ignored because malformed (a bad TC string), as problems.
        tc_string: The TCF CMP's cookie value, if the request carried one.
    """

    identifier: str = field(repr=False)  # a host identifier or a cookie token: not for logs
    authenticated: bool
    gpc: bool
    set_cookie: SetCookie | None
    problems: tuple[Problem, ...]
    _identity: IdentityIndex = field(repr=False, alias="identity")
    tc_string: str | None = field(default=None, repr=False)
    _subject: str | None = field(default=None, repr=False, alias="subject")

    @property
    def pending(self) -> bool:
        """Whether signals wait to be recorded (GPC, a TC string): then recording hits the store."""
        return self.gpc or self.tc_string is not None

    @property
    def subject(self) -> str:
        """The visitor's pseudonym (``sub_…``), created on first use."""
        if self._subject is None:
            self._subject = self._identity.resolve(self.identifier, create=True)
        return self._subject

    def existing_subject(self) -> str | None:
        """The visitor's pseudonym if the subject exists already (never creates one)."""
        if self._subject is None:
            self._subject = self._identity.lookup(self.identifier)
        return self._subject


def _header(value: object) -> str | None:
    return value if isinstance(value, str) else None


class VisitResolver:
    """Builds :class:`Visit` objects: the subject cookie, GPC and TCF handling."""

    def __init__(
        self,
        *,
        identity: IdentityIndex,
        consent: ConsentManager,
        cookies: SubjectCookies,
        config: WebConfig,
    ) -> None:
        """Wire to the kit's identity index and consent manager."""
        self.identity = identity
        self.consent = consent
        self.cookies = cookies
        self.config = config

    def visit(
        self,
        *,
        user: str | None = None,
        cookies: Mapping[str, str] | None = None,
        sec_gpc: str | None = None,
    ) -> Visit:
        """The visit for a request, its signals recorded: :meth:`identify`, then :meth:`record`.

        ``user`` is what the host's resolver returned: a host identifier (``customer:42``) or
        None (anonymous); anything else is :class:`InvalidInput` (a host bug, reported, never
        guessed at). ``cookies`` and ``sec_gpc`` are taken as sent: odd values are ignored.
        """
        visit = self.identify(user=user, cookies=cookies, sec_gpc=sec_gpc)
        self.record(visit)
        return visit

    def identify(
        self,
        *,
        user: str | None = None,
        cookies: Mapping[str, str] | None = None,
        sec_gpc: str | None = None,
    ) -> Visit:
        """Who is asking, without touching the store (CPU only: safe on an event loop).

        Signals to record (GPC, a TC string) are kept on the visit for :meth:`record`;
        ``visit.pending`` says whether there are any.
        """
        jar: Mapping[Any, object] = cookies if isinstance(cookies, Mapping) else {}
        set_cookie: SetCookie | None = None
        if user is None:
            token = self.cookies.token(jar.get(self.config.cookie_name))
            if token is None:
                token, set_cookie = self.cookies.issue()
            identifier = _ANON + token
        elif isinstance(user, str) and not user.startswith(_ANON):
            identifier = user
            parse_identifier(user, where="user")  # a malformed one raises here, before writes
        else:
            raise InvalidInput(
                "invalid user", [Problem(where="user", what="must be a host identifier or None")]
            )
        gpc_value = _header(sec_gpc)
        tc_string = jar.get(self.config.tcf_cookie) if self.config.tcf_cookie else None
        return Visit(
            identifier=identifier,
            authenticated=user is not None,
            gpc=gpc_value is not None and gpc_value.strip() == "1",
            set_cookie=set_cookie,
            problems=(),
            identity=self.identity,
            tc_string=tc_string if isinstance(tc_string, str) and tc_string else None,
        )

    def record(self, visit: Visit) -> None:
        """Record the visit's signals (GPC opt-out, TC string); nothing to do: no store access.

        A malformed TC string is ignored (a broken CMP cookie must not break the page) and
        listed in ``visit.problems``. Call it once per visit: repeats record nothing new.
        """
        if not isinstance(visit, Visit):
            raise InvalidInput("invalid visit", [Problem(where="visit", what="must be a Visit")])
        if visit.gpc:
            self.consent.record_gpc(visit.subject, "1", via="header", actor=self.config.actor)
        if visit.tc_string is not None:
            try:
                self.consent.apply_tc_string(
                    visit.subject, visit.tc_string, actor=self.config.actor
                )
            except InvalidInput as exc:
                visit.problems = (*visit.problems, *exc.problems)
