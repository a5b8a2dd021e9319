"""Property: every kind of record the kit keeps is registered, exported, erased and scrubbed.

A workload of real API calls (traits, events, consent, links, restriction, a data subject
request, and a small capability that keeps derived and shared state through the registries)
writes canary values for random subjects. Then: every record kind found in the store is
registered in ``kit.registries.record_kinds``; each subject's export holds its canaries and
nothing falls back to ``other_records``; after erasure the subject has no record, the shared
state holds nothing of it, and no canary byte is left in any file of either store.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _facts_double import StaticFacts
from personakit import (
    InvalidInput,
    LocalKeyProvider,
    Personakit,
    SubjectNotFound,
    generate_master_key,
)
from personakit.events import Event
from personakit.personalization import Rules
from personakit.testing import find_bytes
from personakit.workflows import ExportRecord, RecordKind

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "web"}
OPERATIONS = (
    "traits",
    "events",
    "consent",
    "link",
    "restrict",
    "request",
    "experiment",
    "withdraw",
    "personalize",
)


class ToyAffinity:
    """A capability in miniature: a derived per-subject record and a shared count per item.

    It registers both with the workflows layer and imports no other capability, as a real
    one (personalization, recommendations) must.
    """

    def __init__(self, kit: Personakit) -> None:
        self.kit = kit
        kinds = kit.registries.record_kinds
        kinds.register(
            RecordKind(
                name="toy-affinity",
                owner="toy",
                description="items the subject viewed, for the toy's recommendations",
                purposes=("personalization",),
                section="toy_affinity",
                exporter=self.export,
                on_withdrawal=self.withdraw,
            )
        )
        kinds.register(
            RecordKind(
                name="toy-popularity",
                owner="toy",
                description="views per item over every subject (shared)",
                purposes=("personalization",),
                shared=True,
                on_erasure=self.remove_contribution,
            )
        )
        kit.registries.hooks.on_events("toy", self.on_events)

    def _counts(self) -> dict[str, int]:
        raw = self.kit.store.get("x/toy/popularity")
        return {} if raw is None else json.loads(raw)

    def _add(self, items: dict[str, int], sign: int) -> None:
        counts = self._counts()
        for item, n in items.items():
            counts[item] = counts.get(item, 0) + sign * n
        self.kit.store.put(
            "x/toy/popularity", json.dumps({k: v for k, v in counts.items() if v}).encode()
        )

    def on_events(self, subject: str, events: Sequence[Event]) -> None:
        if "personalization" not in {p for e in events for p in e.purposes}:
            return
        views = {
            str(e.properties["url"]): 1
            for e in events
            if e.kind == "page_view" and "personalization" in e.purposes
        }
        mine = self.kit.vault.get_json(subject, "toy-affinity", "views") or {}
        for url, n in views.items():
            mine[url] = mine.get(url, 0) + n
        self.kit.vault.put_json(subject, "toy-affinity", "views", mine)
        self._add(views, +1)

    def withdraw(self, subject: str, purpose: str) -> int:
        mine = self.kit.vault.get_json(subject, "toy-affinity", "views")
        if mine is None:
            return 0
        self._add(mine, -1)
        self.kit.vault.delete(subject, "toy-affinity", "views")
        return 1

    def remove_contribution(self, subject: str) -> int:
        mine = self.kit.vault.get_json(subject, "toy-affinity", "views") or {}
        self._add(mine, -1)
        return len(mine)

    def export(self, subject: str, records: Sequence[ExportRecord]) -> Any:
        return {r.name: r.json() for r in records}


def stored_kinds(kit: Personakit) -> set[str]:
    """Every record kind of every subject with a data key."""
    found: set[str] = set()
    for subject in kit.retention.subjects():
        try:
            found |= set(kit.vault.count(subject))
        except SubjectNotFound:
            continue
    return found


def unregistered_kinds(kit: Personakit) -> set[str]:
    """Kinds in the store that no component registered."""
    return stored_kinds(kit) - set(kit.registries.record_kinds.names())


def _canary() -> str:
    return "cnry" + secrets.token_hex(6)


_RULES: dict[int, Rules] = {}


def _expose(kit: Personakit, subject: str, *, keep: bool) -> list[str]:
    """Show the subject an arm of an experiment named by a canary (personalization's exposures)."""
    rules = _RULES.get(id(kit))
    if rules is None:
        rules = _RULES[id(kit)] = Rules(
            manifest=kit.manifest,
            audit=kit.audit,
            keyring=kit.keyring,
            vault=kit.vault,
            allowed=kit.consent.allowed,
            subjects=kit.retention.subjects,
        )
        rules.register(kit.registries)
    experiment = _canary()
    rules.load(
        {
            "placements": {"home": {"default": {"content": "favourites"}}},
            "experiments": [{"id": experiment, "variants": [{"name": "a", "weight": 1}]}],
            "rules": [
                {
                    "id": "everyone",
                    "placement": "home",
                    "when": {"all": []},
                    "then": {"content": "banner"},
                    "experiment": experiment,
                }
            ],
        }
    )
    assert rules.decide(StaticFacts(), "home", subject=subject).experiment == experiment
    return [experiment] if keep else []  # a withdrawal of personalization deletes it


def _run(kit: Personakit, number: int, ops: set[str]) -> tuple[str, list[str]]:
    """Apply ``ops`` for customer ``number``; return its pseudonym and the canaries written."""
    ident = f"customer:c{number}-{secrets.token_hex(3)}"
    canaries: list[str] = []
    kit.track(
        ident, "purchase", channel="web", properties={"item": "sourdough", "value_cents": 450}
    )
    subject = kit.identity.lookup(ident)
    assert subject is not None
    if "consent" in ops or "events" in ops:
        kit.consent.grant(subject, ["personalization", "analytics"], **NOTICE)
    if "traits" in ops:
        name, city = _canary(), _canary()
        kit.traits.update(subject, {"first_name": name, "city": city})
        canaries += [name, city]
    if "events" in ops:
        url = f"https://shop.example/{_canary()}"
        kit.track(ident, "page_view", channel="web", properties={"url": url})
        canaries.append(url)
    if "personalize" in ops:  # personalization's aggregates (per subject) and segment index
        kit.consent.grant(subject, ["personalization"], **NOTICE)
        item, category = _canary(), _canary()
        properties = {"item": item, "category": category, "price_cents": 300}
        kit.track(ident, "add_to_cart", channel="web", properties=properties)
        if "withdraw" not in ops:
            canaries += [item, category]
    if "link" in ops:
        cookie = _canary()
        kit.link(f"anon:{cookie}", ident)
        canaries.append(cookie)
    if "restrict" in ops:
        kit.rights.restrict(subject, reference="r-1")
    if "request" in ops:
        kit.rights.requests.open("access", ident, jurisdiction="gdpr", channel="web")
    if "experiment" in ops:
        canaries += _expose(kit, subject, keep="withdraw" not in ops)
    if "withdraw" in ops:
        kit.consent.withdraw(subject, "personalization", source="web")
    return subject, canaries


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(workload=st.lists(st.sets(st.sampled_from(OPERATIONS)), min_size=1, max_size=3))
def test_every_record_kind_is_registered_exported_and_erased(
    workload: list[set[str]], master_key: bytes
) -> None:
    """Registered, exported in its section, erased, and no byte left on disk."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        with Personakit.open(root, keys=LocalKeyProvider(master_key)) as kit:
            toy = ToyAffinity(kit)
            written = [_run(kit, n, ops) for n, ops in enumerate(workload)]
            assert unregistered_kinds(kit) == set()
            for subject, canaries in written:
                document = kit.rights.export(subject)
                assert document["other_records"] == []
                text = json.dumps(document)
                assert all(c in text for c in canaries)
            for subject, _ in written:
                kit.rights.erase(subject, reason="property test")
                assert kit.identity.identifiers(subject) == []
            assert toy._counts() == {}
            erased = {subject for subject, _ in written}
            index = [key for key, _ in kit.store.scan("x/personalization/segments/")]
            assert [key for key in index if key.rsplit("/", 1)[-1] in erased] == []
            assert stored_kinds(kit) <= {"dsr"}  # requests are kept by their own holder
        for _, canaries in written:
            for canary in canaries:
                assert find_bytes(root, canary.encode()) == [], canary


def test_a_kind_that_skips_registration_is_caught(master_key: bytes) -> None:
    """A record written under an unregistered kind fails the check above."""
    kit = Personakit.open("memory:", keys=LocalKeyProvider(master_key))
    kit.track("customer:x", "purchase", channel="web", properties={"item": "sourdough"})
    subject = kit.identity.lookup("customer:x")
    assert subject is not None
    assert unregistered_kinds(kit) == set()
    kit.vault.put_json(subject, "sneaky", "x", {"a": 1})
    assert unregistered_kinds(kit) == {"sneaky"}


def test_shared_state_without_an_erasure_remover_is_refused(master_key: bytes) -> None:
    """A shared kind must say how an erased subject's contribution leaves it."""
    kit = Personakit.open("memory:", keys=LocalKeyProvider(master_key))
    with pytest.raises(InvalidInput, match="cannot register record kind"):
        kit.registries.record_kinds.register(
            RecordKind(name="counts", owner="toy", description="per item", shared=True)
        )


@pytest.fixture
def master_key() -> bytes:
    return generate_master_key()
