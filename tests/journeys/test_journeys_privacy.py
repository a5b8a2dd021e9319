"""Privacy properties of journeys over random workloads.

Whatever the customers do (carts, purchases, page views, withdrawals, unsubscribes, runs of
``run_due``, hand-outs, erasures): no plaintext personal data is ever in the store (states,
actions and contact history are sealed); the suppression list holds nothing readable; an
erased customer leaves no key naming it (due index, outbox queue, action pointers) and its
pending actions are counted cancelled; the export holds the subject's journey records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _journey_kit import customer
from personakit import testing
from personakit._clock import FixedClock

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NAMES = ["zed", "yul", "xia"]
OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["cart", "purchase", "view", "run", "pending", "withdraw", "unsubscribe", "wait"]
        ),
        st.sampled_from(NAMES),
    ),
    max_size=14,
)


def _plaintexts(name: str) -> list[bytes]:
    return [f"{name}@shop.example".encode(), name.title().encode() + b"zz"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, erase=st.sampled_from(NAMES))
def test_nothing_readable_and_erasure_leaves_no_trace(
    ops: list[tuple[str, str]], erase: str
) -> None:
    kit, clock = testing.memory_kit(clock=FixedClock(START))
    with kit:
        kit.journeys.enable_builtin()
        subjects = {
            name: customer(kit, name, first_name=name.title() + "zz", timezone="Europe/Paris")
            for name in NAMES
        }
        tokens: dict[str, str] = {}
        for op, name in ops:
            ident = f"customer:{name}"
            if op == "cart":
                kit.track(ident, "add_to_cart", channel="web", properties={"item": "p"})
            elif op == "purchase":
                kit.track(ident, "purchase", channel="web", properties={"item": "p"})
            elif op == "view":
                kit.track(ident, "product_view", channel="web", properties={"item": "p"})
            elif op == "run":
                kit.journeys.run_due()
            elif op == "pending":
                for action in kit.journeys.pending():
                    tokens[action.subject] = action.unsubscribe_token
            elif op == "withdraw":
                kit.consent.withdraw(subjects[name], "marketing.email", source="web")
            elif op == "unsubscribe" and subjects[name] in tokens:
                kit.journeys.redeem(tokens[subjects[name]])
            else:
                clock.advance(hours=5)
        values = b"\n".join(v for _, v in kit.store.scan(""))
        for name in NAMES:
            for plain in _plaintexts(name):
                assert plain not in values
        export = kit.rights.export(subjects[erase])
        assert export["other_records"] == []
        section = export["derived_data"].get("journeys", {"states": [], "actions": []})
        assert {"states", "actions"} <= set(section)
        kit.rights.erase(subjects[erase])
        gone = subjects[erase]
        leftovers = [key for key, _ in kit.store.scan("x/") if gone in key]
        assert leftovers == []
        later = kit.journeys.pending(START + timedelta(days=30), limit=1000)
        assert all(a.subject != gone for a in later)
        suppressed = [v for k, v in kit.store.scan("x/journeys/suppress/")]
        assert all(v == b"1" for v in suppressed)
