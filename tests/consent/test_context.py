"""ConsentContext: one value object for source, method, jurisdiction and actor."""

from __future__ import annotations

import pytest

from personakit import InvalidInput, Personakit
from personakit.consent import ConsentContext

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01"}
WHO = {"source": "web", "method": "banner", "jurisdiction": "EU", "actor": "ops:jane"}


def _subject(kit: Personakit, ident: str = "customer:42") -> str:
    return kit.identity.resolve(ident, create=True)


def _who(record: object) -> tuple[object, ...]:
    return tuple(getattr(record, name) for name in ("source", "method", "jurisdiction", "actor"))


def test_context_records_exactly_what_the_keywords_record(kit_and_clock) -> None:
    """grant / refuse / withdraw / restrict with context= write the same fields as keywords."""
    kit, _ = kit_and_clock
    by_keywords, by_context = _subject(kit, "customer:1"), _subject(kit, "customer:2")
    context = ConsentContext(**WHO)
    for subject, who in ((by_keywords, {**WHO}), (by_context, {"context": context})):
        kit.consent.grant(subject, "personalization", **PRIVACY, **who)
        kit.consent.withdraw(subject, "personalization", **who)
        kit.consent.refuse(subject, "analytics", **PRIVACY, **who)
        kit.consent.restrict(subject, **who)
    first, second = kit.consent.ledger(by_keywords), kit.consent.ledger(by_context)
    assert [_who(r) for r in first] == [_who(r) for r in second]
    assert [_who(r) for r in second] == [tuple(WHO.values())] * 3
    restriction = kit.consent.restriction(by_context)
    assert restriction is not None
    assert (restriction["source"], restriction["actor"]) == ("web", "ops:jane")


def test_context_defaults_are_the_keyword_defaults() -> None:
    """ConsentContext(source=…) means method explicit, no jurisdiction, actor system."""
    assert ConsentContext(source="api") == ConsentContext(
        source="api", method="explicit", jurisdiction=None, actor="system"
    )


def test_a_keyword_that_disagrees_with_context_is_invalid_input(kit_and_clock, snapshot) -> None:
    """Both given and different: InvalidInput naming each field, and nothing is written."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    before = snapshot(kit)
    context = ConsentContext(source="web", actor="ops:jane")
    with pytest.raises(InvalidInput) as caught:
        kit.consent.grant(
            subject, "personalization", **PRIVACY, source="api", actor="cli", context=context
        )
    assert [p.where for p in caught.value.problems] == ["source", "actor"]
    assert snapshot(kit) == before
    # The same value twice is no conflict.
    kit.consent.grant(subject, "personalization", **PRIVACY, source="web", context=context)
    assert kit.consent.ledger(subject)[0].actor == "ops:jane"


def test_a_bad_context_is_checked_like_the_keywords(kit_and_clock) -> None:
    """A context's fields are checked when used, with the keywords' messages."""
    kit, _ = kit_and_clock
    subject = _subject(kit)
    bad = ConsentContext(source="fax", method="Bad Method", jurisdiction="europe")
    with pytest.raises(InvalidInput) as caught:
        kit.consent.withdraw(subject, context=bad)
    assert [p.where for p in caught.value.problems] == ["source", "method", "jurisdiction"]
    with pytest.raises(InvalidInput) as caught:
        kit.consent.validate_context(context="web")  # type: ignore[arg-type]
    assert [p.where for p in caught.value.problems] == ["context"]
