"""Properties: no personalization facts without a current consent, and the Facts API is total.

A subject that never consented, refused, withdrew, or is restricted (whatever it did before)
reads exactly like an identifier nobody has: unknown facts, no aggregates, no affinities, no
segments, and it is listed in no segment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _shared import PRIVACY
from personakit import FixedClock, LocalKeyProvider, Personakit, generate_master_key
from personakit.exceptions import InvalidInput, PersonakitError
from personakit.personalization import MISSING, Facts, PersonalizationConfig
from test_api_totality import ANYTHING

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FIELDS = (
    "aggregates.first_seen",
    "aggregates.last_seen",
    "aggregates.order_count",
    "aggregates.monetary_cents",
    "aggregates.last_purchase_at",
    "aggregates.cart_items",
    "aggregates.cart_value_cents",
    "aggregates.cart_updated_at",
    "aggregates.recent_items",
    "aggregates.lifecycle",
    "aggregates.rfm_r",
    "aggregates.affinity.category.bread",
    "traits.birthday",
    "traits.city",
    "context.channel",
)
#: What happens to the subject after its history: none of these leaves a usable consent.
ENDINGS = ("never", "refuse", "withdraw", "restrict", "restrict_after_withdraw")


def _fingerprint(kit: Personakit, who: str, now: datetime) -> dict[str, Any]:
    service = kit.personalization
    facts = service.facts(who, {"channel": "web"}, now)
    return {
        "known": facts.known,
        "fields": {path: facts.field(path) for path in FIELDS},
        "segments": {name: facts.in_segment(name) for name in service.sizes()},
        "top": facts.affinity_top("category", 3),
        "consent": facts.has_consent("personalization"),
        "aggregates": service.aggregates(who, now),
        "affinities": service.affinities(who, "category", 5, now),
        "segments_of": service.segments_of(who, now),
    }


@pytest.fixture(scope="module")
def kit() -> Iterator[tuple[Personakit, FixedClock]]:
    """One kit for every example (each example uses fresh identifiers)."""
    clock = FixedClock(START)
    config = PersonalizationConfig(enthusiast_categories=("bread",), enthusiast_min_score=1.0)
    made = Personakit.open(
        "memory:", keys=LocalKeyProvider(generate_master_key()), clock=clock, personalization=config
    )
    with made:
        yield made, clock


_SERIAL = iter(range(10**9))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ending=st.sampled_from(ENDINGS),
    history=st.lists(
        st.sampled_from(["product_view", "add_to_cart", "purchase"]), min_size=0, max_size=4
    ),
    birthday=st.booleans(),
)
def test_without_a_usable_consent_a_subject_reads_as_unknown(
    kit: tuple[Personakit, FixedClock], ending: str, history: list[str], birthday: bool
) -> None:
    """Facts, aggregates, affinities, segments: identical to an identifier nobody has."""
    made, clock = kit
    who = f"customer:f{next(_SERIAL)}"
    subject = made.identity.resolve(who, create=True)
    if ending not in {"never", "refuse"}:
        made.consent.grant(subject, ["personalization"], **PRIVACY)
        if birthday:  # a trait of a personalization category needs its basis
            made.traits.update(subject, {"birthday": f"1990-{START.month:02d}-02", "city": "Lyon"})
    for kind in history:
        made.track(who, kind, channel="web", properties={"item": "rye", "category": "bread"})
    if ending == "refuse":
        made.consent.refuse(subject, "personalization", **PRIVACY)
    elif ending in {"withdraw", "restrict_after_withdraw"}:
        made.consent.withdraw(subject, "personalization", source="web")
    if ending.startswith("restrict"):
        made.rights.restrict(subject)
    now = clock.now() + timedelta(hours=2)
    nobody = f"customer:nobody{next(_SERIAL)}"
    assert _fingerprint(made, who, now) == _fingerprint(made, nobody, now)
    assert _fingerprint(made, subject, now)["known"] is False
    made.personalization.refresh(now)
    assert all(
        subject not in made.personalization.members(name) for name in made.personalization.sizes()
    )


def test_a_consenting_subject_is_known_and_reads_its_own_data(
    kit: tuple[Personakit, FixedClock],
) -> None:
    """The positive case: the same history with a current grant is visible."""
    made, clock = kit
    who = f"customer:f{next(_SERIAL)}"
    subject = made.identity.resolve(who, create=True)
    made.consent.grant(subject, ["personalization"], **PRIVACY)
    made.traits.update(subject, {"birthday": "1990-01-02", "email": "x@shop.example"})
    made.track(who, "purchase", channel="web", properties={"item": "rye", "category": "bread"})
    facts = made.personalization.facts(who, {"channel": "app"})
    assert isinstance(facts, Facts)
    assert facts.known
    assert facts.field("aggregates.order_count") == 1
    assert facts.field("traits.birthday") == "1990-01-02"
    assert (
        facts.field("traits.email") is MISSING
    )  # contact details are not a personalization category
    assert facts.field("context.channel") == "app"
    assert facts.in_segment("birthday_this_month")
    assert facts.in_segment("enthusiast.bread")
    assert facts.affinity_top("category", 2) == ("bread",)
    assert facts.has_consent("personalization")
    assert not facts.has_consent("marketing.email")
    assert clock.now().month == 1


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["field", "in_segment", "affinity_top", "has_consent"]), data=st.data()
)
def test_the_facts_methods_are_total(
    kit: tuple[Personakit, FixedClock], method: str, data: Any
) -> None:
    """Any argument: an answer or a PersonakitError, for a known and an unknown subject."""
    made, _ = kit
    who = f"customer:f{next(_SERIAL)}"
    subject = made.identity.resolve(who, create=True)
    made.consent.grant(subject, ["personalization"], **PRIVACY)
    made.track(who, "purchase", channel="web", properties={"item": "rye", "category": "bread"})
    valid = {
        "field": ("aggregates.order_count",),
        "in_segment": ("lifecycle.new",),
        "affinity_top": ("category", 3),
        "has_consent": ("personalization",),
    }[method]
    args = [data.draw(st.one_of(st.just(value), ANYTHING)) for value in valid]
    for target in (who, "customer:nobody"):
        facts = made.personalization.facts(target)
        with contextlib.suppress(PersonakitError):
            getattr(facts, method)(*args)


_CONFIG_FIELDS = (
    "enabled",
    "half_life_days",
    "weights",
    "dimensions",
    "recent_items",
    "max_affinity_values",
    "max_cart_changes",
    "lifecycle",
    "rfm",
    "cart_abandoned_after",
    "enthusiast_categories",
    "enthusiast_min_score",
)


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(_CONFIG_FIELDS), value=st.one_of(ANYTHING, st.just(10**400)))
def test_any_configuration_opens_a_kit_or_is_invalid_input(field: str, value: Any) -> None:
    """A configuration field holding anything: the kit opens, or InvalidInput lists why."""
    config = PersonalizationConfig(**{field: value})
    if config.problems():
        with pytest.raises(InvalidInput, match="invalid personalization configuration"):
            Personakit.open(
                "memory:", keys=LocalKeyProvider(generate_master_key()), personalization=config
            )
    else:
        Personakit.open(
            "memory:", keys=LocalKeyProvider(generate_master_key()), personalization=config
        ).close()
