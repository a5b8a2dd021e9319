"""Logging a visitor in: the anonymous cookie subject joins the account it logs in to.

:meth:`WebFront.login` is what the host calls right after its own authentication succeeded.
It links the request's anonymous identifier (``anon:<token>``) to the account's identifier
through the workflows' link (:meth:`~personakit.workflows.IdentityLinker.link`): events and
traits move to the account, registered derived data merges, and the consent ledgers merge by
the ledger's own rule. It then detaches the anonymous identifier and issues a fresh anonymous
cookie, so the old cookie value names nobody any more: a copy of it (a shared computer, a
leaked log) cannot reach the account after the login.

Consent: per purpose the latest act wins, and a refusal, withdrawal or objection beats a grant
of the same instant. So an older anonymous grant never overrides the account's refusal, and
an anonymous refusal narrows the account at once; a grant the visitor gave anonymously
*after* the account's last choice on that purpose does count (it is the same person's later,
explicit act, recorded with its notice version). That widening is never silent: every copied
record is in the account's ledger (method ``merge``, ``origin`` naming the copied record),
the link is in the audit log, and :attr:`Login.widened` names the purposes the account allows
now and did not before, for the host to show.
"""

from __future__ import annotations

from attrs import frozen

from personakit._kit import Personakit
from personakit.exceptions import InvalidInput, Problem
from personakit.profiles import IDENTIFIER_KINDS, parse_identifier
from personakit.web._visit import Visit, VisitResolver
from personakit.workflows import LinkResult

__all__ = ["Login", "login"]

_ANON = "anon:"


@frozen(kw_only=True)
class Login:
    """What :meth:`WebFront.login` did.

    Attributes:
        visit: The request's new visit: the account, authenticated, with a fresh anonymous
            cookie to set (for after a logout) in ``visit.set_cookie``.
        linked: The link's result; None when there was nothing to carry over (the anonymous
            visitor had no subject yet, or the request was already logged in).
        widened: Purposes the account allows now and did not allow before the link: grants
            the visitor gave anonymously, later than the account's own choice.
    """

    visit: Visit
    linked: LinkResult | None
    widened: tuple[str, ...]


def _check(visit: object, user: object) -> tuple[Visit, str]:
    problems: list[Problem] = []
    if not isinstance(visit, Visit):
        problems.append(Problem(where="visit", what="must be a Visit"))
    if not isinstance(user, str) or user.startswith(_ANON):
        problems.append(Problem(where="user", what="must be a host identifier (customer:…)"))
    if problems:
        raise InvalidInput("invalid login", problems)
    assert isinstance(visit, Visit)
    assert isinstance(user, str)
    parse_identifier(user, where="user")  # a malformed one raises here, before any write
    return visit, user


def _allowed(kit: Personakit, subject: str | None) -> set[str]:
    if subject is None:
        return set()
    # Only consent can widen: other bases (contract, legitimate interest) hold either way.
    purposes = [p.id for p in kit.consent.manifest.purposes if p.lawful_basis == "consent"]
    return {p for p, ok in kit.consent.allowed_many(subject, purposes).items() if ok}


def _other_account(kit: Personakit, subject: str, account: str) -> bool:
    """Whether ``subject`` holds a personal identifier (an account's) other than ``account``."""
    mine = parse_identifier(account, where="user")
    held = kit.identity.identifiers(subject)
    return any(IDENTIFIER_KINDS.get(i.kind, True) and i != mine for i in held)


def login(
    kit: Personakit, resolver: VisitResolver, visit: object, user: object, *, actor: str
) -> Login:
    """Log ``visit`` in as ``user``; see the module docstring (and :meth:`WebFront.login`)."""
    checked, account = _check(visit, user)
    _, cookie = resolver.cookies.issue()
    after = Visit(
        identifier=account,
        authenticated=True,
        gpc=checked.gpc,
        set_cookie=cookie,
        problems=checked.problems,
        identity=kit.identity,
    )
    anonymous = None if checked.authenticated else checked.existing_subject()
    if anonymous is None:  # already logged in, or an anonymous visitor that left no trace
        return Login(visit=after, linked=None, widened=())
    if _other_account(kit, anonymous, account):
        # The cookie's subject is another account's (its identifier was linked to it without
        # a login reissuing the cookie: a shared browser). Nothing of it may reach ``user``:
        # the old cookie only stops leading to it.
        kit.identity.detach(anonymous, checked.identifier)
        return Login(visit=after, linked=None, widened=())
    before = _allowed(kit, kit.identity.lookup(account))
    with kit.store.transaction():
        linked = kit.linker.link(checked.identifier, account, actor=actor, shred_now=False)
        # The old cookie must not lead to the account: its identifier leaves the subject.
        kit.identity.detach(linked.subject, checked.identifier)
    kit.linker.finish(linked)  # after the commit: shred the merged-away subject's key
    widened = tuple(sorted(_allowed(kit, linked.subject) - before))
    return Login(visit=after, linked=linked, widened=widened)
