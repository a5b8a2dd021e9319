"""The Rules component on a real kit: audited loads, consent, experiments and their exposures."""

from __future__ import annotations

import copy
import hashlib
import hmac
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _facts_double import BAKERY_RULES, NOW, UNKNOWN, StaticFacts, facts_from_kit
from _shared import PRIVACY
from personakit import LocalKeyProvider, Personakit, generate_master_key, testing
from personakit._codec import canonical_json
from personakit.exceptions import InvalidInput
from personakit.personalization import Experiment, Rules, bucket
from personakit.personalization._experiments import Arm

_BREAD: Final = {"category": ["bread"]}


def rules_for(kit: Personakit) -> Rules:
    """The component the kit wires (``kit.personalization.rules``)."""
    return kit.personalization.rules


@pytest.fixture
def disk_kit(tmp_path: Path) -> Iterator[tuple[Personakit, Rules]]:
    with Personakit.open(tmp_path, keys=LocalKeyProvider(generate_master_key())) as kit:
        yield kit, rules_for(kit)


def test_loading_audit_logs_the_digest_and_nothing_personal(
    disk_kit: tuple[Personakit, Rules],
) -> None:
    """One audit entry per load, with the digest; an invalid set logs nothing and loads nothing."""
    kit, rules = disk_kit
    loaded = rules.load(BAKERY_RULES, actor="ops")
    entry = list(kit.audit.entries())[-1]
    assert entry.action == "personalization.rules_loaded"
    assert entry.data == loaded.summary()
    assert (
        entry.data["sha256"] == loaded.sha256 == rules.decide(UNKNOWN, "home_banner").rules_sha256
    )
    assert entry.subject is None
    before = kit.audit.head()
    broken = copy.deepcopy(BAKERY_RULES)
    broken["rules"][0]["placement"] = "nowhere"
    with pytest.raises(InvalidInput):
        rules.load(broken)
    assert kit.audit.head() == before
    assert rules.current is loaded
    assert kit.audit.verify().ok


def test_decide_refuses_what_it_cannot_answer(disk_kit: tuple[Personakit, Rules]) -> None:
    """No rule set, an unknown placement, an unknown context field: InvalidInput, no guess."""
    _, rules = disk_kit
    with pytest.raises(InvalidInput):
        rules.decide(StaticFacts(), "home_banner")
    rules.load(BAKERY_RULES)
    for placement, context in (("sidebar", None), ("home_banner", {"mood": "happy"})):
        with pytest.raises(InvalidInput):
            rules.decide(StaticFacts(), placement, context)
    with pytest.raises(InvalidInput):
        rules.decide(object(), "home_banner")  # type: ignore[arg-type]


_STATES: Final = st.lists(
    st.sampled_from(["grant", "withdraw", "restrict", "grant_other"]), max_size=4
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=_STATES, placement=st.sampled_from(["home_banner", "checkout_offer"]))
def test_without_a_current_personalization_consent_decide_answers_as_for_an_unknown_subject(
    steps: list[str], placement: str
) -> None:
    """Any consent history: no current consent or restricted -> the unknown subject's answer."""
    kit, _ = testing.memory_kit()
    with kit:
        rules = rules_for(kit)
        rules.load(BAKERY_RULES)
        subject = kit.identity.resolve("customer:42", create=True)
        kit.traits.update(subject, {"city": "Lyon"})
        for step in steps:
            if step == "grant":
                kit.consent.grant(subject, "personalization", **PRIVACY)
            elif step == "withdraw":
                kit.consent.withdraw(subject, "personalization", source="web")
            elif step == "restrict":
                kit.consent.restrict(subject, source="web")
            else:
                kit.consent.grant(subject, "analytics", **PRIVACY)
        facts = facts_from_kit(kit, subject)
        decision = rules.decide(facts, placement, subject=subject, explain=True)
        unknown = rules.decide(UNKNOWN, placement, explain=True)
        if not kit.consent.allowed(subject, "personalization"):
            assert decision == unknown
            assert decision.reasons == ("personalization_off",)
        elif placement == "checkout_offer":
            assert decision.rule == "lyon"  # the city trait, read through the facts


def _fixed_mac(data: bytes) -> bytes:
    return hmac.new(b"k" * 32, data, hashlib.sha256).digest()


#: Upper quantiles of chi-square at 1 - 1e-6, by degrees of freedom (scipy.stats.chi2.ppf).
_CHI2_1E6: Final = {1: 23.928, 2: 27.631, 3: 30.664, 4: 33.377, 5: 35.888}


@settings(max_examples=12, deadline=None)
@given(
    weights=st.lists(st.integers(1, 20), min_size=1, max_size=4),
    holdout=st.sampled_from([0.0, 0.05, 0.1, 0.5]),
    salt=st.sampled_from(["", "v2"]),
)
def test_bucketing_is_deterministic_and_follows_the_weights_at_a_strict_alpha(
    weights: list[int], holdout: float, salt: str
) -> None:
    """6,000 units: the same arms twice, and chi-square below its 1 - 1e-6 quantile."""
    experiment = Experiment(
        id="weights",
        holdout=holdout,
        salt=salt,
        arms=tuple(Arm(name=f"arm{i}", weight=w) for i, w in enumerate(weights)),
    )
    units = [f"unit-{i}" for i in range(6000)]
    drawn = [bucket(_fixed_mac, experiment, unit) for unit in units]
    assert drawn[:100] == [bucket(_fixed_mac, experiment, unit) for unit in units[:100]]
    counts = Counter(arm.name if arm is not None else "holdout" for arm in drawn)
    total = sum(weights)
    expected = {f"arm{i}": len(units) * (1 - holdout) * w / total for i, w in enumerate(weights)}
    if holdout:
        expected["holdout"] = len(units) * holdout
    if len(expected) == 1:
        assert set(counts) == set(expected)
        return
    chi2 = sum((counts[name] - want) ** 2 / want for name, want in expected.items())
    assert chi2 < _CHI2_1E6[len(expected) - 1]


def test_arms_are_stable_across_a_restart_and_keyed_by_the_kit(tmp_path: Path) -> None:
    """The same units land in the same arms after reopening; another keyring draws anew."""
    key = generate_master_key()
    units = [f"cookie-{i}" for i in range(64)]

    def arms(kit: Personakit) -> list[str | None]:
        rules = rules_for(kit)
        rules.load(BAKERY_RULES)
        facts = StaticFacts(affinities=_BREAD)
        return [rules.decide(facts, "home_banner", unit=u).arm for u in units]

    with Personakit.open(tmp_path / "a", keys=LocalKeyProvider(key)) as kit:
        first = arms(kit)
    with Personakit.open(tmp_path / "a", keys=LocalKeyProvider(key)) as kit:
        assert arms(kit) == first
    with Personakit.open(tmp_path / "b", keys=LocalKeyProvider(generate_master_key())) as kit:
        assert arms(kit) != first
    assert {"control", "photo", "holdout"} >= set(first)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    priorities=st.lists(st.integers(-5, 5), min_size=4, max_size=4),
    content=st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True),
)
def test_decisions_carry_the_digest_the_audit_entry_recorded(
    priorities: list[int], content: str
) -> None:
    """Any rule set: digest = SHA-256 of its canonical JSON = the audit entry's = each decision's."""
    document = copy.deepcopy(BAKERY_RULES)
    for rule, priority in zip(document["rules"], priorities, strict=True):
        rule["priority"] = priority
    document["placements"]["home_banner"]["default"]["content"] = content
    kit, _ = testing.memory_kit()
    with kit:
        rules = rules_for(kit)
        loaded = rules.load(document)
        digest = hashlib.sha256(canonical_json(document)).hexdigest()
        entry = list(kit.audit.entries())[-1]
        assert loaded.sha256 == digest == entry.data["sha256"]
        for facts in (UNKNOWN, StaticFacts(affinities=_BREAD), StaticFacts()):
            for placement in ("home_banner", "checkout_offer"):
                assert rules.decide(facts, placement, unit="u").rules_sha256 == digest


def test_exposures_are_sealed_exported_withdrawn_erased_and_offered_to_analytics(
    tmp_path: Path,
) -> None:
    """The arm a subject saw: in its export, gone on withdrawal and erasure, no plaintext on disk."""
    with Personakit.open(tmp_path, keys=LocalKeyProvider(generate_master_key())) as kit:
        rules = rules_for(kit)
        rules.load(BAKERY_RULES)
        subjects = [kit.identity.resolve(f"customer:{i}", create=True) for i in range(3)]
        for subject in subjects:
            kit.consent.grant(subject, ["personalization", "analytics"], **PRIVACY)
            facts = StaticFacts(affinities=_BREAD)
            decision = rules.decide(facts, "home_banner", subject=subject)
            assert decision.experiment == "bread-banner-test"
        assert testing.find_bytes(tmp_path, b"bread-banner-test") == []
        exported: Any = kit.rights.export(subjects[0])
        rows = exported["derived_data"]["experiment_exposures"]
        assert [r["experiment"] for r in rows] == ["bread-banner-test"]
        kit.consent.withdraw(subjects[1], "analytics", source="web")
        dataset = list(kit.registries.datasets.rows("personalization.exposures", "analytics"))
        assert sorted(s for s, _ in dataset) == sorted([subjects[0], subjects[2]])
        kit.consent.withdraw(subjects[0], "personalization", source="web")
        assert rules.exposures.of(subjects[0]) == []
        kit.rights.erase(subjects[2])
        assert not kit.store.get(kit.vault.key(subjects[2], "experiment_exposures", "all"))
        dataset = list(kit.registries.datasets.rows("personalization.exposures", "analytics"))
        assert dataset == []


def test_the_same_facts_decide_the_same_way_in_a_second_process_view(tmp_path: Path) -> None:
    """Two components over the same store and keys: same digest, same arm, same content."""
    key = generate_master_key()
    with Personakit.open(tmp_path, keys=LocalKeyProvider(key)) as kit:
        one = rules_for(kit)
        one.load(BAKERY_RULES)
        first = one.decide(StaticFacts(now=NOW, affinities=_BREAD), "home_banner", unit="u-7")
    with Personakit.open(tmp_path, keys=LocalKeyProvider(key)) as kit:
        two = rules_for(kit)
        two.load(BAKERY_RULES)
        assert (
            two.decide(StaticFacts(now=NOW, affinities=_BREAD), "home_banner", unit="u-7") == first
        )
