"""kit.personalization.decide: the two halves joined, over real aggregates of a real kit.

Properties: a subject without a current personalization consent, or restricted, is decided
exactly like an identifier nobody has (and says why); a rule on a real aggregate decides what
the ingested events say; every decision carries the digest of the loaded, audit-logged set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from _facts_double import HOME_RULES
from _shared import PRIVACY
from personakit import FixedClock, LocalKeyProvider, Personakit, generate_master_key
from personakit.exceptions import InvalidInput
from personakit.personalization import PersonalizationConfig

START: Final = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

ENDINGS: Final = ("never", "refuse", "withdraw", "restrict", "restrict_after_withdraw")


@pytest.fixture(scope="module")
def kit() -> Iterator[tuple[Personakit, FixedClock]]:
    """One kit for every example (each example uses fresh identifiers)."""
    clock = FixedClock(START)
    made = Personakit.open(
        "memory:",
        keys=LocalKeyProvider(generate_master_key()),
        clock=clock,
        personalization=PersonalizationConfig(),
    )
    with made:
        made.personalization.load_rules(HOME_RULES, actor="tests")
        yield made, clock


_SERIAL = iter(range(10**9))


def _customer(made: Personakit, *, consent: bool = True) -> tuple[str, str]:
    who = f"customer:d{next(_SERIAL)}"
    subject = made.identity.resolve(who, create=True)
    if consent:
        made.consent.grant(subject, ["personalization"], **PRIVACY)
    return who, subject


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ending=st.sampled_from(ENDINGS),
    history=st.lists(
        st.sampled_from(["product_view", "add_to_cart", "purchase"]), min_size=0, max_size=5
    ),
    placement=st.sampled_from(["home", "footer"]),
    explain=st.booleans(),
    channel=st.sampled_from([None, "web", "app"]),
)
def test_without_a_usable_consent_decide_answers_as_for_an_unknown_subject(  # noqa: PLR0917
    kit: tuple[Personakit, FixedClock],
    ending: str,
    history: list[str],
    placement: str,
    explain: bool,
    channel: str | None,
) -> None:
    """Any history then no current consent, or restricted: the unknown subject's decision."""
    made, clock = kit
    who, subject = _customer(made, consent=ending not in {"never", "refuse"})
    for kind in history:
        made.track(who, kind, channel="web", properties={"item": "rye", "category": "bread"})
    if ending == "refuse":
        made.consent.refuse(subject, "personalization", **PRIVACY)
    elif ending in {"withdraw", "restrict_after_withdraw"}:
        made.consent.withdraw(subject, "personalization", source="web")
    if ending.startswith("restrict"):
        made.rights.restrict(subject)
    context = None if channel is None else {"channel": channel}
    now = clock.now() + timedelta(hours=1)
    service = made.personalization
    nobody = f"customer:nobody{next(_SERIAL)}"
    unknown = service.decide(nobody, placement, context, explain=explain, now=now)
    for ident in (who, subject):
        decision = service.decide(ident, placement, context, explain=explain, now=now)
        assert decision == unknown
        assert decision.reasons == ("personalization_off",)
        assert decision.rule is None
        assert decision.content == HOME_RULES["placements"][placement]["default"]["content"]
        assert decision.rules_sha256 == service.rules.current.sha256  # type: ignore[union-attr]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    purchases=st.lists(st.sampled_from(["bread", "cake", "coffee"]), min_size=0, max_size=5),
    in_cart=st.integers(min_value=0, max_value=2),
    channel=st.sampled_from(["web", "app"]),
)
def test_rules_on_real_aggregates_decide_what_the_events_say(
    kit: tuple[Personakit, FixedClock], purchases: list[str], in_cart: int, channel: str
) -> None:
    """order_count >= 3, top category bread, an open cart on the web: computed independently."""
    counts = Counter(purchases)
    ranked = counts.most_common()
    # Purchases at the same moment weigh the same: the top category is the most bought one.
    assume(len(ranked) < 2 or ranked[0][1] != ranked[1][1])
    made, _ = kit
    who, _ = _customer(made)
    for number, category in enumerate(purchases):
        made.track(
            who,
            "purchase",
            channel="web",
            properties={"item": f"i{number}", "category": category, "value_cents": 300},
            at=START - timedelta(hours=2),
        )
    for number in range(in_cart):
        made.track(
            who,
            "add_to_cart",
            channel="web",
            properties={"item": f"c{number}", "quantity": 1, "price_cents": 200},
            at=START - timedelta(hours=1),  # after the purchases: an open cart
        )
    decision = made.personalization.decide(who, "home", {"channel": channel}, explain=True)
    if len(purchases) >= 3:
        expected = ("regulars", "loyalty-card")
    elif ranked and ranked[0][0] == "bread":
        expected = ("bread-lovers", "bread-banner")
    elif in_cart and channel == "web":
        expected = ("basket", "basket-reminder")
    else:
        expected = (None, "favourites")
    assert (decision.rule, decision.content) == expected
    assert decision.reasons == (("rule_matched",) if expected[0] else ("no_rule_matched",))
    assert decision.trace is not None
    assert decision.rules_sha256 == made.personalization.rules.current.sha256  # type: ignore[union-attr]


def test_the_decision_carries_the_digest_of_the_audit_logged_set(
    kit: tuple[Personakit, FixedClock],
) -> None:
    """Loading through the kit logs the digest; the next decisions carry the new one."""
    made, _ = kit
    changed = {**HOME_RULES, "rules": HOME_RULES["rules"][1:]}
    try:
        loaded = made.personalization.load_rules(changed, actor="ops")
        entry = list(made.audit.entries())[-1]
        assert entry.action == "personalization.rules_loaded"
        assert entry.data["sha256"] == loaded.sha256
        who, _ = _customer(made)
        assert made.personalization.decide(who, "home").rules_sha256 == loaded.sha256
    finally:
        made.personalization.load_rules(HOME_RULES, actor="tests")


def test_rules_name_every_offered_segment_and_refuse_unknown_ones(
    kit: tuple[Personakit, FixedClock],
) -> None:
    """Built-ins and another capability's segments load; an unknown one is refused, nothing lost."""
    made, _ = kit
    assert "predictive.at_risk" in made.registries.segments.names()
    before = made.personalization.rules.current
    broken = {
        **HOME_RULES,
        "rules": [
            {
                "id": "x",
                "placement": "home",
                "when": {"segment": "no.such.segment"},
                "then": {"content": "x"},
            }
        ],
    }
    with pytest.raises(InvalidInput):
        made.personalization.load_rules(broken)
    assert made.personalization.rules.current is before
    with pytest.raises(InvalidInput):
        made.personalization.decide("customer:anyone", "sidebar")


def test_json_segments_are_defined_all_or_none_and_usable_in_rules(
    kit: tuple[Personakit, FixedClock],
) -> None:
    """define_segments: every problem at once and nothing defined; then a working segment."""
    made, _ = kit
    good = {
        "name": "json.big-spenders",
        "description": "spent 10 euros or more",
        "condition": {"field": "aggregates.monetary_cents", "gte": 1000},
    }
    bad = [good, {"name": "json.broken", "condition": {"field": "aggregates.nope", "eq": 1}}]
    with pytest.raises(InvalidInput) as caught:
        made.personalization.define_segments([*bad, {"name": "Not A Name"}])
    assert len(caught.value.problems) >= 2
    assert "json.big-spenders" not in made.registries.segments
    with pytest.raises(InvalidInput):
        made.personalization.define_segments([good, good])  # the same name twice
    assert "json.big-spenders" not in made.registries.segments
    (defined,) = made.personalization.define_segments([good])
    assert defined.name in made.registries.segments
    who, subject = _customer(made)
    made.track(who, "purchase", channel="web", properties={"item": "cake", "value_cents": 1500})
    assert made.personalization.members("json.big-spenders") == [subject]
    rules = {
        "placements": {"home": {"default": {"content": "favourites"}}},
        "rules": [
            {
                "id": "big",
                "placement": "home",
                "when": {"segment": "json.big-spenders"},
                "then": {"content": "thank-you"},
            }
        ],
    }
    try:
        made.personalization.load_rules(rules)
        assert made.personalization.decide(who, "home").content == "thank-you"
    finally:
        made.personalization.load_rules(HOME_RULES, actor="tests")
