"""Traits: declared, validated all at once, basis-checked, audited, never in clear on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from personakit import ConsentRequired, InvalidInput, LocalKeyProvider, Personakit
from personakit.testing import find_bytes

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01"}


def test_update_reports_every_problem_and_writes_nothing(memory_kit: Personakit) -> None:
    """Unknown trait, bad e-mail and bad phone are reported together; no trait is written."""
    subject = memory_kit.identity.resolve("customer:1", create=True)
    with pytest.raises(InvalidInput) as caught:
        memory_kit.traits.update(
            subject, {"email": "not-an-email", "phone": "0612", "shoe_size": 42, "city": "Lyon"}
        )
    assert len(caught.value.problems) == 3
    assert "not-an-email" not in str(caught.value)
    assert memory_kit.traits.get(subject) == {}


def test_rectification_is_audited_without_values(memory_kit: Personakit) -> None:
    """A rectification updates the value and appends 'traits.rectified' naming fields only."""
    subject = memory_kit.identity.resolve("customer:1", create=True)
    memory_kit.traits.update(subject, {"last_name": "Smiht"})
    memory_kit.traits.update(subject, {"last_name": "Smith"}, rectification=True, source="support")
    assert memory_kit.traits.get(subject) == {"last_name": "Smith"}
    entry = list(memory_kit.audit.entries())[-1]
    assert entry.action == "traits.rectified"
    assert entry.data == {"set": ["last_name"], "removed": [], "source": "support"}
    assert "Smith" not in str(entry.to_json())


def test_trait_without_basis_is_refused(memory_kit: Personakit) -> None:
    """A birthday (used only for personalization) needs personalization consent."""
    subject = memory_kit.identity.resolve("customer:1", create=True)
    with pytest.raises(ConsentRequired):
        memory_kit.traits.update(subject, {"birthday": "1990-02-03"})
    memory_kit.consent.grant(subject, "personalization", source="web", **NOTICE)
    memory_kit.traits.update(subject, {"birthday": "1990-02-03"})
    assert memory_kit.traits.get(subject)["birthday"] == "1990-02-03"


def test_none_removes_a_trait(memory_kit: Personakit) -> None:
    """Setting a trait to None removes it."""
    subject = memory_kit.identity.resolve("customer:1", create=True)
    memory_kit.traits.update(subject, {"city": "Lyon", "first_name": "Ann"})
    update = memory_kit.traits.update(subject, {"city": None})
    assert update.removed == ("city",)
    assert memory_kit.traits.get(subject) == {"first_name": "Ann"}


def test_personal_traits_never_reach_disk_in_clear(tmp_path: Path, master_key: str) -> None:
    """Name, phone and address written as traits appear in no file under the store."""
    values = {"first_name": "Quixotina", "phone": "+33612345678", "address": "17 rue Zyzzyva"}
    with Personakit.open(tmp_path, keys=LocalKeyProvider(master_key)) as kit:
        subject = kit.identity.resolve("customer:1", create=True)
        kit.traits.update(subject, values)
        for value in values.values():
            assert find_bytes(tmp_path, value.encode()) == []


@pytest.mark.parametrize("bad", ["abc", 5, None, [("city", "Lyon")], {}])
def test_non_object_updates_are_typed_errors(memory_kit: Personakit, bad: object) -> None:
    """Anything but a non-empty mapping is an InvalidInput, never a raw TypeError/ValueError."""
    subject = memory_kit.identity.resolve("customer:1", create=True)
    with pytest.raises(InvalidInput):
        memory_kit.traits.update(subject, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("actor", ["Bob Smith", "bob@example.com", "", 5])
def test_actor_that_could_be_a_name_is_refused(memory_kit: Personakit, actor: object) -> None:
    """The actor is audited in clear, so only short lower-case tokens are accepted."""
    subject = memory_kit.identity.resolve("customer:1", create=True)
    with pytest.raises(InvalidInput):
        memory_kit.traits.update(subject, {"city": "Lyon"}, actor=actor)  # type: ignore[arg-type]
    assert memory_kit.traits.get(subject) == {}
