"""The web front of one kit: what every adapter holds, one per application."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from personakit._kit import Personakit
from personakit.exceptions import InvalidInput, Problem
from personakit.personalization import Decision
from personakit.web._center import PrivacyCenter
from personakit.web._http import WebResponse
from personakit.web._login import Login, login
from personakit.web._tokens import SubjectCookies, UnsubscribeTokens
from personakit.web._visit import Visit, VisitResolver, WebConfig

__all__ = ["BoundSubject", "WebFront"]


@frozen
class BoundSubject:
    """The kit bound to one request's subject: what ``request.personakit`` / ``g`` hold.

    ``kit`` is the shared kit, for calls not bound here. :meth:`decide` is
    ``kit.personalization.decide`` for this request's subject.
    """

    kit: Personakit
    visit: Visit
    front: WebFront | None = field(default=None, repr=False)

    @property
    def subject(self) -> str:
        """The subject's pseudonym (created on first use)."""
        return self.visit.subject

    @property
    def identifier(self) -> str:
        """``customer:…`` for a logged-in user, ``anon:<token>`` otherwise."""
        return self.visit.identifier

    def allowed(self, purpose: str) -> bool:
        """Whether processing for ``purpose`` is allowed for this subject now."""
        return self.kit.consent.allowed(self.visit.subject, purpose)

    def require(self, purpose: str) -> None:
        """Raise :class:`~personakit.exceptions.ConsentRequired` unless ``purpose`` is allowed."""
        self.kit.consent.require(self.visit.subject, purpose)

    def decide(
        self,
        placement: str,
        context: Mapping[str, Any] | None = None,
        *,
        unit: str | None = None,
        explain: bool = False,
    ) -> Decision:
        """Decide ``placement`` for this subject; see ``kit.personalization.decide``.

        Reads only: a visitor the kit has no subject for yet is not created, and gets the
        unknown subject's decision (as one without consent does).
        """
        return self.kit.personalization.decide(
            self.visit.identifier, placement, context, unit=unit, explain=explain
        )

    def track(
        self, name: str, *, channel: str = "web", properties: Mapping[str, Any] | None = None
    ) -> object:
        """Record an event for this subject; see :meth:`Personakit.track`."""
        self.visit.subject  # noqa: B018 (creates the subject the identifier names)
        return self.kit.track(self.visit.identifier, name, channel=channel, properties=properties)

    def login(self, user: str) -> tuple[BoundSubject, Login]:
        """Log this visitor in as ``user`` (after the host's own authentication succeeded).

        Returns the kit bound to the account (its visit carries the fresh cookie to set) and
        what the login did; see :meth:`WebFront.login`.
        """
        if self.front is None:
            raise InvalidInput(
                "unbound subject", [Problem(where="front", what="bind through WebFront.bind")]
            )
        done = self.front.login(self.visit, user)
        return BoundSubject(self.kit, done.visit, self.front), done


class WebFront:
    """Subject resolution, privacy signals and the privacy center for one kit.

    Safe to share between threads (it holds no per-request state; the kit's stores are
    thread-safe). Adapters build one per application and call :meth:`visit` per request.
    """

    def __init__(self, kit: Personakit, config: WebConfig | None = None) -> None:
        """Wire to ``kit``; the cookie and unsubscribe MAC keys come from its keyring."""
        self.kit = kit
        self.config = config if config is not None else WebConfig()
        self.resolver = VisitResolver(
            identity=kit.identity,
            consent=kit.consent,
            cookies=SubjectCookies(kit.keyring, name=self.config.cookie_name),
            config=self.config,
        )
        self.center = PrivacyCenter(
            rights=kit.rights,
            consent=kit.consent,
            tokens=UnsubscribeTokens(kit.keyring, clock=kit.clock, ttl=self.config.unsubscribe_ttl),
            config=self.config,
            journeys=kit.journeys,
        )

    def __repr__(self) -> str:
        """Render with the kit and configuration."""
        return f"WebFront({self.kit!r}, {self.config!r})"

    def visit(
        self,
        *,
        user: str | None = None,
        cookies: Mapping[str, str] | None = None,
        sec_gpc: str | None = None,
    ) -> Visit:
        """The visit for a request; see :meth:`VisitResolver.visit`."""
        return self.resolver.visit(user=user, cookies=cookies, sec_gpc=sec_gpc)

    def identify(
        self,
        *,
        user: str | None = None,
        cookies: Mapping[str, str] | None = None,
        sec_gpc: str | None = None,
    ) -> Visit:
        """Who is asking, without store access; see :meth:`VisitResolver.identify`."""
        return self.resolver.identify(user=user, cookies=cookies, sec_gpc=sec_gpc)

    def record(self, visit: Visit) -> None:
        """Record a visit's pending signals; see :meth:`VisitResolver.record`."""
        self.resolver.record(visit)

    def bind(self, visit: Visit) -> BoundSubject:
        """The kit bound to ``visit``'s subject."""
        given: object = visit
        if not isinstance(given, Visit):
            raise InvalidInput("invalid visit", [Problem(where="visit", what="must be a Visit")])
        return BoundSubject(self.kit, visit, self)

    def login(self, visit: Visit, user: str) -> Login:
        """Link ``visit``'s anonymous subject to the account ``user`` and reissue the cookie.

        Call it right after the host authenticated ``user`` (``customer:42``). The anonymous
        visitor's events, traits, derived data and consent join the account through the
        workflows' link (consent merges by the ledger's rule: see :mod:`personakit.web._login`
        and :attr:`Login.widened`); the old cookie value then names nobody, and
        ``login.visit.set_cookie`` is a fresh anonymous cookie the adapter sets on the
        response. A visit already logged in, or one whose visitor left no data, links nothing.
        """
        return login(self.kit, self.resolver, visit, user, actor=self.config.actor)

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
        """Run a privacy-center operation; see :meth:`PrivacyCenter.handle`."""
        return self.center.handle(
            operation,
            visit,
            method=method,
            query=query,
            body=body,
            content_type=content_type,
            form=form,
        )

    def unsubscribe_token(self, subject: str, purpose: str) -> str:
        """A signed one-click unsubscribe token; see :meth:`PrivacyCenter.unsubscribe_token`."""
        return self.center.unsubscribe_token(subject, purpose)
