"""Property: nothing is held for a purpose that has lost its lawful basis (withdrawal cascade)."""

from __future__ import annotations

import contextlib

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from _shared import PRIVACY
from personakit import ConsentRequired
from personakit.testing import memory_kit

MARKETING = {"notice": "marketing_notice", "notice_version": "2026-01", "source": "web"}
CONSENT_PURPOSES = ["personalization", "analytics", "marketing.email", "marketing.sms"]
KINDS = {
    "product_view": {"item": "a"},
    "purchase": {"item": "a"},
    "email_open": {"campaign": "spring"},
    "store_visit": {"store_id": "s1"},
    "add_to_cart": {"item": "a"},
}
TRAITS = {
    "birthday": "1990-02-03",
    "timezone": "Europe/Paris",
    "preferred_channel": "email",
    "email": "a@example.com",
    "city": "Lyon",
}


class WithdrawalCascade(RuleBasedStateMachine):
    """Grants, withdrawals, refusals, events and traits in random order."""

    def __init__(self) -> None:
        super().__init__()
        self.kit, self.clock = memory_kit()
        self.subject = self.kit.identity.resolve("customer:1", create=True)

    def _notice(self, purpose: str) -> dict[str, str]:
        return MARKETING if purpose.startswith("marketing") else PRIVACY

    @rule(purpose=st.sampled_from(CONSENT_PURPOSES))
    def grant(self, purpose: str) -> None:
        self.clock.advance(seconds=1)
        self.kit.consent.grant(self.subject, purpose, **self._notice(purpose))

    @rule(purpose=st.sampled_from([*CONSENT_PURPOSES, "all"]))
    def withdraw(self, purpose: str) -> None:
        self.clock.advance(seconds=1)
        self.kit.consent.withdraw(self.subject, purpose, source="web")

    @rule(purpose=st.sampled_from(CONSENT_PURPOSES))
    def refuse(self, purpose: str) -> None:
        self.clock.advance(seconds=1)
        self.kit.consent.refuse(self.subject, purpose, **self._notice(purpose))

    @rule(kind=st.sampled_from(sorted(KINDS)))
    def track(self, kind: str) -> None:
        self.kit.track("customer:1", kind, channel="web", properties=KINDS[kind])

    @rule(name=st.sampled_from(sorted(TRAITS)))
    def set_trait(self, name: str) -> None:
        # No basis for that category right now: refused, as it should be.
        with contextlib.suppress(ConsentRequired):
            self.kit.traits.update(self.subject, {name: TRAITS[name]})

    @invariant()
    def every_event_purpose_has_a_basis(self) -> None:
        for event in self.kit.events.read(self.subject, compact=False):
            assert event.purposes, "an event with no purpose left was kept"
            for purpose in event.purposes:
                assert self.kit.consent.allowed(self.subject, purpose), (event.kind, purpose)

    @invariant()
    def every_trait_category_has_a_basis(self) -> None:
        manifest = self.kit.manifest
        for name in self.kit.traits.get(self.subject):
            category = self.kit.traits.declarations[name].category
            using = [p.id for p in manifest.purposes if category in p.data_categories]
            assert any(self.kit.consent.allowed(self.subject, p) for p in using), name


WithdrawalCascade.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None
)
TestWithdrawalCascade = WithdrawalCascade.TestCase
