"""``bound.decide(placement, context)`` through each adapter's test client.

The request's subject is decided by ``kit.personalization.decide``: a logged-in regular with
a current consent gets the rule's content; a new anonymous visitor (no subject, no consent)
gets the unknown subject's decision, and deciding creates no subject for them.
"""

from __future__ import annotations

import pytest

from _facts_double import HOME_RULES
from _shared import PRIVACY
from _web_drivers import DRIVERS
from personakit import testing

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("adapter", sorted(DRIVERS))
def test_bound_decide_answers_the_requests_subject(adapter: str) -> None:
    kit, _ = testing.memory_kit()
    with kit:
        driver = DRIVERS[adapter](kit)
        kit.personalization.load_rules(HOME_RULES, actor="tests")
        regular = kit.identity.resolve("customer:7", create=True)
        kit.consent.grant(regular, ["personalization"], **PRIVACY)
        for number in range(3):
            kit.track("customer:7", "purchase", channel="web", properties={"item": f"i{number}"})
        answer = driver.request("GET", "/banner", headers={"X-User": "customer:7"})
        assert answer.status == 200
        assert (answer.json()["rule"], answer.json()["content"]) == ("regulars", "loyalty-card")
        before = set(kit.retention.subjects())
        anonymous = driver.request("GET", "/banner")
        assert anonymous.status == 200
        assert anonymous.json()["reasons"] == ["personalization_off"]
        assert anonymous.json()["content"] == "favourites"
        assert anonymous.json()["rules_sha256"] == answer.json()["rules_sha256"]
        assert set(kit.retention.subjects()) == before
        getattr(driver, "close", lambda: None)()
