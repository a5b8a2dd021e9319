"""Linking an anonymous visitor to a customer merges histories atomically and safely."""

from __future__ import annotations

import pytest

from personakit import Personakit, SubjectNotFound

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01"}


def test_link_cases(memory_kit: Personakit) -> None:
    """New+new creates, known+new attaches, same subject is a no-op."""
    created = memory_kit.link("anon:a1", "customer:1")
    assert created.outcome == "created"
    assert memory_kit.identity.resolve("anon:a1") == created.subject
    attached = memory_kit.link("anon:a2", "customer:1")
    assert (attached.outcome, attached.subject) == ("attached", created.subject)
    assert memory_kit.link("anon:a2", "customer:1").outcome == "already_linked"


def test_merge_moves_history_and_erases_the_source(memory_kit: Personakit) -> None:
    """Events, traits and identifiers move to the customer; the anonymous subject is gone."""
    anon = memory_kit.identity.resolve("anon:a1", create=True)
    memory_kit.consent.grant(anon, "personalization", source="web", **NOTICE)
    memory_kit.track("anon:a1", "product_view", channel="web", properties={"item": "tart"})
    memory_kit.traits.update(anon, {"timezone": "Europe/Paris"})
    customer = memory_kit.identity.resolve("customer:1", create=True)
    memory_kit.track("customer:1", "purchase", channel="store", properties={"item": "bread"})
    result = memory_kit.link("anon:a1", "customer:1")
    assert (result.outcome, result.events_moved, result.traits_moved) == ("merged", 1, 1)
    assert memory_kit.identity.resolve("anon:a1") == customer
    assert sorted(e.kind for e in memory_kit.events.read(customer)) == ["product_view", "purchase"]
    assert memory_kit.traits.get(customer) == {"timezone": "Europe/Paris"}
    assert memory_kit.consent.allowed(customer, "personalization")
    assert not memory_kit.keyring.has_subject_key(anon)
    assert memory_kit.vault.count(anon) == {}
    with pytest.raises(SubjectNotFound):
        memory_kit.identity.resolve(anon)
    assert memory_kit.audit.verify().ok


def test_an_older_grant_never_overrides_a_refusal_on_merge(memory_kit: Personakit) -> None:
    """The customer's later refusal survives the anonymous visitor's earlier grant."""
    anon = memory_kit.identity.resolve("anon:a1", create=True)
    memory_kit.consent.grant(anon, "personalization", source="web", **NOTICE)
    customer = memory_kit.identity.resolve("customer:1", create=True)
    memory_kit.consent.refuse(customer, "personalization", source="web", **NOTICE)
    memory_kit.link("anon:a1", "customer:1")
    assert not memory_kit.consent.allowed(customer, "personalization")


def test_failed_merge_changes_nothing(
    memory_kit: Personakit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a merge step fails, the transaction rolls back and the source keeps its key."""
    anon = memory_kit.identity.resolve("anon:a1", create=True)
    memory_kit.identity.resolve("customer:1", create=True)

    def boom(source: str, target: str) -> None:
        raise RuntimeError("merger failed")

    memory_kit.linker.register("broken", boom)
    with pytest.raises(RuntimeError, match="merger failed"):
        memory_kit.link("anon:a1", "customer:1")
    assert memory_kit.identity.resolve("anon:a1") == anon
    assert memory_kit.keyring.has_subject_key(anon)


def test_merge_into_a_restricted_customer_keeps_its_granted_history(
    memory_kit: Personakit,
) -> None:
    """Restriction stops processing, it never erases: a merge keeps what the grants allow."""
    anon = memory_kit.identity.resolve("anon:a1", create=True)
    memory_kit.consent.grant(anon, "personalization", source="web", **NOTICE)
    memory_kit.track("anon:a1", "product_view", channel="web", properties={"item": "tart"})
    customer = memory_kit.identity.resolve("customer:1", create=True)
    memory_kit.consent.grant(customer, "personalization", source="web", **NOTICE)
    memory_kit.track("customer:1", "product_view", channel="web", properties={"item": "pie"})
    memory_kit.consent.restrict(customer, source="api")
    memory_kit.link("anon:a1", "customer:1")
    assert memory_kit.events.count(customer) == 2
    memory_kit.consent.lift_restriction(customer, source="api")
    assert memory_kit.consent.allowed(customer, "personalization")
