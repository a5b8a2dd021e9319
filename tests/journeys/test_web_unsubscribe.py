"""The web core's one-click unsubscribe endpoint also redeems journeys' expiring tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from _journey_kit import customer
from personakit import testing
from personakit._clock import FixedClock
from personakit.web import WebFront

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def test_a_journeys_token_unsubscribes_through_the_privacy_center() -> None:
    kit, clock = testing.memory_kit(clock=FixedClock(datetime(2026, 3, 2, 10, tzinfo=UTC)))
    with kit:
        kit.journeys.enable_builtin(["welcome"])
        subject = customer(kit, "web")
        kit.track("customer:web", "page_view", channel="web")
        kit.journeys.run_due()
        (action,) = kit.journeys.pending()
        web = WebFront(kit)
        visit = web.visit()
        query = {"token": action.unsubscribe_token}
        forged = {"token": action.unsubscribe_token[:-2] + "zz"}
        assert (
            web.handle("unsubscribe", visit, method="POST", query=forged, form=ONE_CLICK).status
            == 403
        )
        assert kit.consent.allowed(subject, "marketing.email")
        answer = web.handle("unsubscribe", visit, method="POST", query=query, form=ONE_CLICK)
        assert answer.status == 200
        assert not kit.consent.allowed(subject, "marketing.email")
        assert kit.journeys.is_suppressed("email", "web@shop.example")
        clock.advance(days=61)  # journeys tokens expire
        late = web.handle("unsubscribe", visit, method="POST", query=query, form=ONE_CLICK)
        assert late.status == 403
