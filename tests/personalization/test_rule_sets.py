"""Rule sets: all-or-nothing loading with every problem, decisions, reasons, special categories."""

from __future__ import annotations

import copy
import json
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _facts_double import BAKERY_RULES, NOW, UNKNOWN, StaticFacts
from personakit.consent import Manifest
from personakit.exceptions import InvalidInput, InvalidManifest
from personakit.personalization import Vocabulary, compile_rule_set
from personakit.personalization._decision import OFF_SENTENCE, decide_with
from personakit.personalization._rules import RuleSet

VOCAB: Final = Vocabulary.from_manifest(Manifest.default(), segments={"vip": ["purchases"]})


def _mac(data: bytes) -> bytes:
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(b"test-key" + data).digest()


def decide(rules: RuleSet, facts: StaticFacts, placement: str, *, explain: bool = False) -> Any:
    return decide_with(
        rules, facts, placement, mac=_mac, unit="unit-1", expose=None, explain=explain
    )


def special_manifest(*, explicit: bool = True, never: dict[str, Any] | None = None) -> Manifest:
    doc = Manifest.default().to_json()
    doc["data_categories"].append({"id": "health", "name": "Diet (health)", "special": True})
    doc["data_categories"].append({"id": "faith", "name": "Faith", "never_personalize": True})
    doc["traits"]["diet"] = {"schema": {"type": "string"}, "category": "health", "personal": True}
    doc["traits"]["faith"] = {"schema": {"type": "string"}, "category": "faith", "personal": True}
    doc["purposes"].append(
        {
            "id": "diet_personalization",
            "name": "Suggestions for your diet",
            "lawful_basis": "consent",
            "data_categories": ["health"],
            "retention": {"days": 365},
            "notice": "privacy_notice",
            "explicit_consent": explicit,
        }
    )
    if never is not None:
        doc["never_personalize"] = never
    return Manifest.from_json(doc)


def test_the_bakery_rule_set_decides_by_priority_and_says_why() -> None:
    """Highest priority first; the end-user sentence names what the person did."""
    rules = compile_rule_set(BAKERY_RULES, VOCAB)
    basket = StaticFacts(
        fields={"aggregates.cart_items": 2, "context.channel": "web"},
        affinities={"category": ["bread"]},
    )
    decision = decide(rules, basket, "home_banner", explain=True)
    assert (decision.rule, decision.content) == ("basket-reminder", "banner-basket")
    assert decision.sentence == "Because of what is in your basket"
    assert decision.rules_sha256 == rules.sha256
    assert decision.trace is not None
    assert [step["rule"] for step in decision.trace] == ["basket-reminder"]
    nothing = decide(rules, StaticFacts(), "checkout_offer", explain=True)
    assert (nothing.rule, nothing.content, nothing.reasons) == (
        None,
        "offer-none",
        ("no_rule_matched",),
    )
    assert nothing.trace is not None
    assert [(s["rule"], s["matched"]) for s in nothing.trace] == [
        ("regulars", False),
        ("lyon", False),
    ]
    assert nothing.trace[0]["condition"]["children"][0]["why"] == "missing"


def test_a_digest_is_the_sha256_of_the_canonical_document() -> None:
    """Key order and spacing do not change the digest; any content change does."""
    shuffled = json.loads(json.dumps(BAKERY_RULES, sort_keys=True, indent=3))
    assert compile_rule_set(shuffled, VOCAB).sha256 == compile_rule_set(BAKERY_RULES, VOCAB).sha256
    changed = copy.deepcopy(BAKERY_RULES)
    changed["rules"][0]["priority"] = 11
    assert compile_rule_set(changed, VOCAB).sha256 != compile_rule_set(BAKERY_RULES, VOCAB).sha256


def test_an_invalid_rule_set_lists_every_problem_of_every_rule() -> None:
    """A schema problem in one rule does not hide the semantic problems of the others."""
    document = copy.deepcopy(BAKERY_RULES)
    document["rules"] += [
        {
            "id": "a",
            "placement": "nowhere",
            "when": {"segment": "ghosts"},
            "then": {"content": "x"},
        },
        {
            "id": "b",
            "placement": "home_banner",
            "when": {"field": "aggregates.last_seen", "gt": 3},
            "then": {"content": "x"},
        },
        {
            "id": "c",
            "placement": "home_banner",
            "when": {"all": []},
            "then": {"content": "x"},
            "experiment": "nope",
        },
        {
            "id": "regulars",
            "placement": "home_banner",
            "when": {"all": []},
            "then": {"content": "x"},
        },
        {"id": 7, "placement": "home_banner", "when": {}, "then": {}},
    ]
    with pytest.raises(InvalidInput) as caught:
        compile_rule_set(document, VOCAB)
    wheres = sorted(p.where for p in caught.value.problems)
    assert "$.rules[4].placement" in wheres
    assert "$.rules[4].when.segment" in wheres
    assert "$.rules[5].when.gt" in wheres
    assert "$.rules[6].experiment" in wheres
    assert "$.rules[7].id" in wheres
    assert any(w.startswith("$.rules[8]") for w in wheres)


def test_an_unknown_placement_is_not_guessed() -> None:
    """decide on a placement the set does not declare raises through the component only."""
    rules = compile_rule_set(BAKERY_RULES, VOCAB)
    assert "sidebar" not in rules.placements


def test_special_categories_need_an_explicit_consent_purpose() -> None:
    """Reading a special category: refused under personalization, allowed under an explicit one."""
    manifest = special_manifest()
    vocab = Vocabulary.from_manifest(manifest)
    rule = {
        "id": "gf",
        "placement": "home_banner",
        "when": {"field": "traits.diet", "eq": "gluten-free"},
        "then": {"content": "banner-gf"},
    }
    base: dict[str, Any] = {"placements": {"home_banner": {"default": {"content": "fav"}}}}
    with pytest.raises(InvalidInput) as caught:
        compile_rule_set({**base, "rules": [rule]}, vocab)
    assert "special category" in caught.value.problems[0].what
    explicit = {**rule, "purpose": "diet_personalization"}
    rules = compile_rule_set({**base, "rules": [explicit]}, vocab)
    facts = StaticFacts(fields={"traits.diet": "gluten-free"})
    assert decide(rules, facts, "home_banner").rule is None  # no explicit consent given
    consented = StaticFacts(
        fields={"traits.diet": "gluten-free"},
        consents=frozenset({"personalization", "diet_personalization"}),
    )
    decision = decide(rules, consented, "home_banner")
    assert decision.rule == "gf"
    assert decision.sentence == "Picked for you"  # the diet is never named back
    not_explicit = Vocabulary.from_manifest(special_manifest(explicit=False))
    with pytest.raises(InvalidInput):
        compile_rule_set({**base, "rules": [explicit]}, not_explicit)


def test_what_the_shop_never_uses_is_refused_whatever_the_purpose() -> None:
    """A never_personalize category, trait or property: refused at load."""
    manifest = special_manifest(never={"traits": ["city"], "properties": ["brand"]})
    vocab = Vocabulary.from_manifest(manifest)
    base: dict[str, Any] = {"placements": {"p": {"default": {"content": "fav"}}}}
    for when in (
        {"field": "traits.faith", "exists": True},
        {"field": "traits.city", "eq": "Lyon"},
        {"affinity_top": {"dimension": "brand", "value": "x"}},
    ):
        rule = {"id": "r", "placement": "p", "when": when, "then": {"content": "x"}}
        with pytest.raises(InvalidInput) as caught:
            compile_rule_set({**base, "rules": [rule]}, vocab)
        assert "never uses" in caught.value.problems[0].what


def test_explicit_consent_needs_a_consent_basis_and_never_personalize_needs_declared_traits() -> (
    None
):
    """The manifest's own checks for the two new settings."""
    doc = Manifest.default().to_json()
    doc["purposes"][0]["explicit_consent"] = True  # essential: contract
    doc["never_personalize"] = {"traits": ["shoe_size"]}
    with pytest.raises(InvalidManifest) as caught:
        Manifest.from_json(doc)
    assert {p.where for p in caught.value.problems} == {
        "$.purposes[0].explicit_consent",
        "$.never_personalize.traits[0]",
    }


_FACTS_VALUES: Final = st.one_of(
    st.none(), st.integers(), st.text(max_size=4), st.floats(), st.booleans()
)


@settings(max_examples=100, deadline=None)
@given(
    fields=st.dictionaries(st.sampled_from(sorted(VOCAB.fields)), _FACTS_VALUES, max_size=5),
    segments=st.frozensets(st.just("vip")),
    placement=st.sampled_from(["home_banner", "checkout_offer"]),
    explain=st.booleans(),
)
def test_facts_that_are_not_known_get_exactly_the_unknown_subject_answer(
    fields: dict[str, Any], segments: frozenset[str], placement: str, explain: bool
) -> None:
    """known=False: whatever else the facts hold, the decision equals the unknown subject's."""
    rules = compile_rule_set(BAKERY_RULES, VOCAB)
    hidden = StaticFacts(known=False, fields=fields, segments=segments, now=NOW)
    decision = decide(rules, hidden, placement, explain=explain)
    assert decision == decide(rules, UNKNOWN, placement, explain=explain)
    assert decision.reasons == ("personalization_off",)
    assert decision.sentence == OFF_SENTENCE
    assert decision.content == BAKERY_RULES["placements"][placement]["default"]["content"]


_ANY_JSON: Final = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=6),
        st.sampled_from(["home_banner", "bread", "traits.city", "aggregates.order_count"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "placements",
                    "rules",
                    "experiments",
                    "default",
                    "content",
                    "id",
                    "placement",
                    "when",
                    "then",
                    "field",
                    "eq",
                    "all",
                    "variants",
                    "name",
                    "weight",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


def _mutations(draw: Any) -> Any:
    document = copy.deepcopy(BAKERY_RULES)
    path: list[Any] = []
    node: Any = document
    for _ in range(draw(st.integers(0, 4))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node:
            key = draw(st.integers(0, len(node) - 1))
        else:
            break
        path.append(key)
        node = node[key]
    if not path:
        return draw(_ANY_JSON)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = draw(_ANY_JSON)
    return document


@settings(max_examples=300, deadline=None)
@given(document=st.one_of(_ANY_JSON, st.composite(_mutations)()))
def test_any_json_document_as_a_rule_set_is_loaded_or_invalid_input(document: Any) -> None:
    """A rule set from any JSON (or a mutated valid one): a RuleSet or InvalidInput, never else."""
    try:
        rules = compile_rule_set(document, VOCAB)
    except InvalidInput as exc:
        problems = exc.problems
    else:
        for placement in rules.placements:
            assert decide(rules, StaticFacts(), placement).rules_sha256 == rules.sha256
        return
    assert problems
