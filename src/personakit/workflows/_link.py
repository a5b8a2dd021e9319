"""Linking identifiers: an anonymous visitor logs in, and their history joins their account.

``link(anonymous, known)`` covers four cases:

* neither identifier is known: one new subject gets both;
* only one is known: the other identifier is attached to that subject;
* both resolve to the same subject: nothing to do;
* both resolve to different subjects: the *anonymous* subject is merged into the known one.
  Events move (re-sealed under the target's key), traits merge (the newer value wins), the
  consent ledger merges by its own rule (a refusal or withdrawal is never overridden by an
  older grant), registered derived data merges, identifiers are re-pointed, and the source
  subject is deleted, all in one transaction; its data key is shredded right after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from attrs import define, frozen

from personakit._args import check_moment, raise_problems
from personakit._ids import check_actor
from personakit._vault import Vault
from personakit.audit import AuditLog
from personakit.consent import ConsentManager
from personakit.crypto import Keyring
from personakit.events import EventLog
from personakit.exceptions import Problem
from personakit.profiles import Identifier, IdentityIndex, TraitStore, parse_identifier
from personakit.workflows._registry import Hooks, MergeHook

__all__ = ["IdentityLinker", "LinkResult"]


@frozen(kw_only=True)
class LinkResult:
    """What :meth:`IdentityLinker.link` did."""

    outcome: Literal["created", "attached", "already_linked", "merged"]
    subject: str
    merged_from: str | None = None
    events_moved: int = 0
    traits_moved: int = 0


@define(kw_only=True, repr=False)
class IdentityLinker:
    """Links identifiers and merges subjects (wired to the components whose data a merge moves)."""

    vault: Vault
    keyring: Keyring
    identity: IdentityIndex
    events: EventLog
    traits: TraitStore
    consent: ConsentManager
    audit: AuditLog
    hooks: Hooks
    subject_ref: Callable[[str], str]

    def __repr__(self) -> str:
        """Render with the hooks that run on a merge."""
        return f"IdentityLinker({self.hooks!r})"

    def register(self, name: str, merger: MergeHook) -> None:
        """Have ``merger(source, target)`` run on every merge: ``hooks.on_merge(name, merger)``."""
        self.hooks.on_merge(name, merger)

    def link(
        self,
        anonymous: str | Identifier,
        known: str | Identifier,
        *,
        at: datetime | None = None,
        actor: str = "system",
        shred_now: bool = True,
    ) -> LinkResult:
        """Link ``anonymous`` to ``known``; see the module docstring for the cases.

        A caller that links inside a transaction of its own passes ``shred_now=False`` and
        calls :meth:`finish` after *its* commit: shredding before the outermost commit would
        leave the source's data, restored by a rollback, sealed under a destroyed key.
        """
        problems: list[Problem] = []
        if at is not None:
            check_moment(at, "at", problems)
        check_actor(actor, problems)
        raise_problems("invalid link", problems)
        anon = (
            anonymous
            if isinstance(anonymous, Identifier)
            else parse_identifier(anonymous, where="anonymous")
        )
        target_ident = (
            known if isinstance(known, Identifier) else parse_identifier(known, where="known")
        )
        with self.vault.store.transaction():
            source = self.identity.lookup(anon)
            target = self.identity.lookup(target_ident)
            if source is None and target is None:
                subject = self.identity.resolve(target_ident, create=True)
                self.identity.attach(subject, anon)
                result = LinkResult(outcome="created", subject=subject)
            elif source is None or target is None:
                owner = target if target is not None else source
                assert owner is not None
                self.identity.attach(owner, anon if source is None else target_ident)
                result = LinkResult(outcome="attached", subject=owner)
            elif source == target:
                return LinkResult(outcome="already_linked", subject=target)
            else:
                result = self._merge(source, target, actor=actor)
            self.audit.append(
                "identity.linked",
                subject=self.subject_ref(result.subject),
                actor=actor,
                data={
                    "outcome": result.outcome,
                    "kinds": sorted({anon.kind, target_ident.kind}),
                    "merged_from": None
                    if result.merged_from is None
                    else self.subject_ref(result.merged_from),
                    "at": (at or self.identity.clock.now()).isoformat(),
                },
            )
        if shred_now:
            self.finish(result)
        return result

    def finish(self, result: LinkResult) -> None:
        """After the commit of a merge: shred the merged source's data key."""
        if result.merged_from is not None:
            self.keyring.shred(result.merged_from)

    def _merge(self, source: str, target: str, *, actor: str) -> LinkResult:
        # Consent first: the merge replays the source's acts on the target's ledger, and a
        # replayed refusal cascades on what the target holds at that moment. Moving the events
        # first let an old refusal delete events the visitor gave later, under a grant.
        self.consent.merge(source, target, actor=actor)
        moved_events = self.events.move(source, target)
        moved_traits = self.traits.merge(source, target)
        self.hooks.merged(source, target)
        # What moved was kept for the source's purposes; where the merged ledger denies one
        # (the target's later refusal won), it goes as a withdrawal's cascade would take it.
        # The ledger's state decides, not the guard: a restriction denies processing but
        # never erases (allowed() is False for every purpose of a restricted target).
        for purpose in self.consent.manifest.consent_purposes():
            if self.consent.state(target, purpose.id).state != "given":
                self.consent.cascade.run(purpose.id, target)
        for ident in self.identity.identifiers(source):
            self.identity.attach(target, ident)
        self.vault.delete_subject(source)
        return LinkResult(
            outcome="merged",
            subject=target,
            merged_from=source,
            events_moved=moved_events,
            traits_moved=moved_traits,
        )
