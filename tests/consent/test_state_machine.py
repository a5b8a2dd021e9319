"""A hypothesis state machine: the consent ledger agrees with a small reference model.

The model includes restriction of processing (GDPR Art 18): while a subject is restricted every
consent and legitimate-interest guard denies, the ledger is unchanged, and lifting restores the
ledger's answer. A merge carries a restriction into the known subject.
"""

from __future__ import annotations

from datetime import timedelta

from attrs import frozen
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from personakit import Personakit
from personakit.consent import Manifest
from personakit.consent._records import to_micros
from personakit.testing import memory_kit

NOTICE_OF = {
    "personalization": "privacy_notice",
    "analytics": "privacy_notice",
    "marketing.email": "marketing_notice",
    "product_research": "privacy_notice",
}
CONSENT = ("personalization", "analytics", "marketing.email")
OBJECTABLE = "product_research"
MAX_AGE_US = 395 * 86_400 * 1_000_000
NEGATIVE = {"refused", "withdrawn", "expired", "objected"}
STEPS = st.sampled_from(
    [
        timedelta(0),
        timedelta(seconds=1),
        timedelta(days=1),
        timedelta(days=200),
        timedelta(days=396),
    ]
)


@frozen
class Rec:
    """A model ledger record."""

    purpose: str
    status: str
    occ: int
    exp: int | None
    notice: str
    version: str


def decider(ledger: list[Rec], purpose: str) -> Rec | None:
    """The deciding record: greatest (occurred, negative), ties to the later append."""
    best: Rec | None = None
    for rec in ledger:
        if rec.purpose == purpose and (
            best is None or (rec.occ, rec.status in NEGATIVE) >= (best.occ, best.status in NEGATIVE)
        ):
            best = rec
    return best


def research_manifest_doc() -> dict:
    doc = Manifest.default().to_json()
    research = dict(doc["purposes"][2])  # analytics as a template
    research.update(
        id="product_research", name="Product research", lawful_basis="legitimate_interest"
    )
    research.pop("tcf_purposes", None)
    research.pop("consent_mode", None)
    doc["purposes"].append(research)
    return doc


class ConsentMachine(RuleBasedStateMachine):
    """Random grants, refusals, withdrawals, expiry, notice bumps, objections, restrictions
    and links.
    """

    def __init__(self) -> None:
        super().__init__()
        base, self.clock = memory_kit()
        self.doc = research_manifest_doc()
        self.kit = self._kit(base)
        self.known = [self.kit.identity.resolve(f"customer:{i}", create=True) for i in (1, 2)]
        self.anons: list[str] = []
        self.ledgers: dict[str, list[Rec]] = {s: [] for s in self.known}
        self.copied: dict[str, set[tuple[str, int]]] = {s: set() for s in self.known}
        self.versions = {"privacy_notice": ["2026-01"], "marketing_notice": ["2026-01"]}
        self.restricted: set[str] = set()

    def _kit(self, base: Personakit) -> Personakit:
        return Personakit(
            store=base.store,
            key_store=base.key_store,
            keys=base.keyring.provider,
            clock=self.clock,
            manifest=Manifest.from_json(self.doc),
        )

    @property
    def now(self) -> int:
        return to_micros(self.clock.now())

    def subjects(self) -> list[str]:
        return self.known + self.anons

    def _live(self, subject: str, purpose: str, status: str, version: str | None = None) -> None:
        ledger = self.ledgers[subject]
        current = decider(ledger, purpose)
        occ = self.now if current is None else max(self.now, current.occ + 1)
        notice = NOTICE_OF[purpose]
        if status == "withdrawn" and current is not None:
            notice, version = current.notice, current.version
        version = version or self.versions[notice][-1]
        exp = occ + MAX_AGE_US if status == "given" else None
        ledger.append(Rec(purpose, status, occ, exp, notice, version))

    # -- rules ------------------------------------------------------------------------------

    @precondition(lambda self: len(self.anons) < 3)
    @rule()
    def new_anonymous_visitor(self) -> None:
        subject = self.kit.identity.resolve(f"anon:cookie-{len(self.anons)}", create=True)
        self.anons.append(subject)
        self.ledgers[subject] = []

    @rule(data=st.data(), purpose=st.sampled_from(CONSENT))
    def grant(self, data, purpose) -> None:
        subject = data.draw(st.sampled_from(self.subjects()))
        notice = NOTICE_OF[purpose]
        version = data.draw(st.sampled_from(self.versions[notice]))
        self.kit.consent.grant(
            subject, purpose, notice=notice, notice_version=version, source="web"
        )
        self._live(subject, purpose, "given", version)

    @rule(data=st.data(), purpose=st.sampled_from(CONSENT))
    def refuse(self, data, purpose) -> None:
        subject = data.draw(st.sampled_from(self.subjects()))
        notice = NOTICE_OF[purpose]
        self.kit.consent.refuse(
            subject, purpose, notice=notice, notice_version=self.versions[notice][-1], source="web"
        )
        self._live(subject, purpose, "refused")

    @rule(data=st.data(), purpose=st.sampled_from(CONSENT))
    def withdraw(self, data, purpose) -> None:
        subject = data.draw(st.sampled_from(self.subjects()))
        receipt = self.kit.consent.withdraw(subject, purpose, source="web")
        current = decider(self.ledgers[subject], purpose)
        expected = current is not None and current.status == "given"
        assert receipt.changed == expected
        if expected:
            self._live(subject, purpose, "withdrawn")

    @rule(data=st.data())
    def withdraw_all(self, data) -> None:
        subject = data.draw(st.sampled_from(self.subjects()))
        receipt = self.kit.consent.withdraw(subject, "all", source="web")
        expected = set()
        for purpose in CONSENT:
            current = decider(self.ledgers[subject], purpose)
            if current is not None and current.status == "given":
                expected.add(purpose)
                self._live(subject, purpose, "withdrawn")
        assert {r.purpose for r in receipt.records} == expected

    @rule(step=STEPS)
    def time_passes(self, step) -> None:
        self.clock.advance(step)

    @rule(data=st.data())
    def record_expiries(self, data) -> None:
        subject = data.draw(st.sampled_from(self.subjects()))
        self.kit.consent.expire(subject)
        ledger = self.ledgers[subject]
        for purpose in CONSENT:
            current = decider(ledger, purpose)
            if current is None or current.status != "given":
                continue
            expires = min(current.exp or current.occ + MAX_AGE_US, current.occ + MAX_AGE_US)
            if self.now >= expires:
                ledger.append(
                    Rec(purpose, "expired", expires, None, current.notice, current.version)
                )

    @rule(notice=st.sampled_from(["privacy_notice", "marketing_notice"]))
    def bump_notice_version(self, notice) -> None:
        version = f"v{sum(len(v) for v in self.versions.values())}"
        template = next(n for n in self.doc["notices"] if n["id"] == notice)
        self.doc["notices"].append({**template, "version": version})
        self.versions[notice].append(version)
        self.kit = self._kit(self.kit)

    @rule(data=st.data(), lift=st.booleans())
    def objection(self, data, lift) -> None:
        subject = data.draw(st.sampled_from(self.subjects()))
        current = decider(self.ledgers[subject], OBJECTABLE)
        if lift:
            receipt = self.kit.consent.lift_objection(subject, OBJECTABLE, source="web")
            if current is not None and current.status == "objected":
                self._live(subject, OBJECTABLE, "objection_lifted")
            else:
                assert not receipt.changed
        else:
            self.kit.consent.object(subject, OBJECTABLE, source="web")
            self._live(subject, OBJECTABLE, "objected")

    @rule(data=st.data(), lift=st.booleans())
    def restriction(self, data, lift) -> None:
        subject = data.draw(st.sampled_from(self.subjects()))
        if lift:
            change = self.kit.consent.lift_restriction(subject, source="web")
            assert change.changed == (subject in self.restricted)
            self.restricted.discard(subject)
        else:
            self.kit.consent.restrict(subject, source="web")
            self.restricted.add(subject)

    @precondition(lambda self: self.anons)
    @rule(data=st.data())
    def link_anonymous_to_known(self, data) -> None:
        anon = data.draw(st.sampled_from(self.anons))
        known = data.draw(st.sampled_from(self.known))
        receipt = self.kit.consent.merge(anon, known)
        copies = [
            (index, rec)
            for index, rec in enumerate(self.ledgers[anon])
            if (anon, index) not in self.copied[known]
        ]
        for index, rec in copies:
            self.copied[known].add((anon, index))
            self.ledgers[known].append(rec)
        assert len(receipt.records) == len(copies)
        if anon in self.restricted:
            self.restricted.add(known)

    # -- invariants -------------------------------------------------------------------------

    def _model_allows(self, subject: str, purpose: str) -> bool:
        if subject in self.restricted:
            return False
        current = decider(self.ledgers[subject], purpose)
        if purpose == OBJECTABLE:
            return current is None or current.status != "objected"
        return (
            current is not None
            and current.status == "given"
            and self.now < min(current.exp or 0, current.occ + MAX_AGE_US)
            and current.notice == NOTICE_OF[purpose]
            and current.version == self.versions[current.notice][-1]
        )

    @invariant()
    def guard_agrees_with_the_model(self) -> None:
        for subject in self.subjects():
            for purpose in (*CONSENT, OBJECTABLE):
                assert self.kit.consent.allowed(subject, purpose) == self._model_allows(
                    subject, purpose
                ), (subject, purpose)

    @invariant()
    def never_allowed_without_a_current_fresh_grant_in_the_ledger(self) -> None:
        for subject in self.subjects():
            decisions = self.kit.consent.decisions(subject)
            for purpose in CONSENT:
                if not self.kit.consent.allowed(subject, purpose):
                    continue
                record = decisions[purpose]
                assert record.status == "given"
                assert record.expires_at is not None
                assert self.clock.now() < record.expires_at
                assert record.notice_version == self.kit.manifest.current_notice_version(
                    record.notice_id
                )
                assert self.kit.consent.state(subject, purpose).record == record

    @invariant()
    def restriction_matches_the_model(self) -> None:
        for subject in self.subjects():
            assert self.kit.consent.is_restricted(subject) == (subject in self.restricted)
            assert self.kit.consent.allowed(subject, "essential")

    @invariant()
    def ledger_matches_the_model(self) -> None:
        for subject in self.subjects():
            got = [
                (r.purpose, r.status, to_micros(r.occurred_at), r.notice_version)
                for r in self.kit.consent.ledger(subject)
            ]
            want = [(r.purpose, r.status, r.occ, r.version) for r in self.ledgers[subject]]
            assert got == want


ConsentMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestConsentMachine = ConsentMachine.TestCase
TestConsentMachine.__doc__ = "Random consent histories agree with the reference model."
