"""ConsentGate: the one-read verdict is exactly ConsentManager.allowed, and guards the records.

Property: after any history of grants, refusals, withdrawals, objections, restrictions and
their lifting, and clock moves past consent expiry, the gate's verdict for every purpose (consent,
legitimate interest, contract) equals ``allowed``; records come back only when it allows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from hypothesis import given, settings
from hypothesis import strategies as st

from _shared import PRIVACY
from personakit import FixedClock, Personakit
from personakit.consent import ConsentGate, Manifest
from personakit.exceptions import PersonakitError
from personakit.testing import memory_kit

_ACTIONS: Final = st.lists(
    st.one_of(
        st.tuples(st.just("grant"), st.sampled_from(["personalization", "marketing.email"])),
        st.tuples(st.just("refuse"), st.sampled_from(["personalization", "marketing.email"])),
        st.tuples(st.just("withdraw"), st.sampled_from(["personalization", "marketing.email"])),
        st.tuples(st.just("object"), st.just("analytics")),
        st.tuples(st.just("lift_objection"), st.just("analytics")),
        st.tuples(st.just("restrict"), st.none()),
        st.tuples(st.just("lift_restriction"), st.none()),
        st.tuples(st.just("days"), st.integers(1, 800)),
    ),
    max_size=8,
)


def _kit() -> tuple[Personakit, FixedClock]:
    doc = Manifest.default().to_json()
    doc["purposes"][2]["lawful_basis"] = "legitimate_interest"  # analytics
    base, clock = memory_kit()
    kit = Personakit(
        store=base.store,
        key_store=base.key_store,
        keys=base.keyring.provider,
        clock=clock,
        manifest=Manifest.from_json(doc),
    )
    return kit, clock


def _apply(kit: Personakit, clock: FixedClock, subject: str, action: str, arg: Any) -> None:
    consent = kit.consent
    if action == "grant":
        consent.grant(subject, arg, **PRIVACY)
    elif action == "refuse":
        consent.refuse(subject, arg, **PRIVACY)
    elif action == "withdraw":
        consent.withdraw(subject, arg, source="web")
    elif action == "object":
        consent.object(subject, arg, source="web")
    elif action == "lift_objection":
        consent.lift_objection(subject, arg, source="web")
    elif action == "restrict":
        consent.restrict(subject, source="web")
    elif action == "lift_restriction":
        consent.lift_restriction(subject, source="web")
    else:
        clock.advance(timedelta(days=arg))


@settings(max_examples=40, deadline=None)
@given(actions=_ACTIONS)
def test_the_gate_verdict_is_allowed_after_any_history(actions: list[tuple[str, Any]]) -> None:
    """Every purpose, after every step: the gate says what allowed says, and hides records."""
    kit, clock = _kit()
    with kit:
        subject = kit.identity.resolve("customer:g1", create=True)
        kit.traits.update(subject, {"first_name": "Ada"})
        gates = {
            p.id: ConsentGate(vault=kit.vault, manifest=kit.manifest, clock=kit.clock, purpose=p.id)
            for p in kit.manifest.purposes
        }
        meta = kit.identity.meta_key(subject)
        for action, arg in [("none", None), *actions]:
            if action != "none":
                try:
                    _apply(kit, clock, subject, action, arg)
                except PersonakitError:
                    continue  # a refused step (lifting what is not there): the state stands
            for purpose, gate in gates.items():
                read = gate.read(subject, [("traits", "current")], (meta,))
                assert read.allowed == kit.consent.allowed(subject, purpose), purpose
                assert meta in read.plain
                assert bool(read.records) == read.allowed
