"""``identity reindex`` moves identifiers stored under older rules to today's spelling."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personakit import LocalKeyProvider, Personakit, testing
from personakit.cli import main
from personakit.exceptions import InvalidInput
from personakit.profiles import Identifier, parse_identifier
from personakit.storage import DiskStore
from personakit.workflows import IdentityReindexer

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01"}
CHECKPOINT = "m/identity-reindex"


def legacy(kind: str, value: str) -> Identifier:
    """An identifier as the older rules stored it (taken as is, never re-normalized)."""
    return Identifier(kind=kind, value=value)


def person_spellings(n: int) -> list[Identifier]:
    """What the older rules stored for person ``n``: two e-mail and two phone spellings.

    They lower-cased the whole address but left an IDNA domain as typed, and only stripped
    separators from a phone number, keeping a (0) trunk prefix.
    """
    return [
        legacy("email", f"p{n}@xn--bcher-kva.de"),  # stale: today's domain form is Unicode
        legacy("email", f"p{n}@bücher.de"),  # already today's spelling
        legacy("phone", f"+44020794600{n:02d}"),  # stale: "+44 (0)20 7946 00nn"
        legacy("phone", f"+4420794600{n:02d}"),  # today's spelling
    ]


def plant(kit: Personakit, spellings: list[Identifier]) -> str:
    """A subject created under the older rules, holding ``spellings``."""
    subject = kit.identity.resolve(spellings[0], create=True)
    for ident in spellings[1:]:
        kit.identity.attach(subject, ident)
    return subject


def reindex(kit: Personakit, **options) -> dict:
    return IdentityReindexer(linker=kit.linker).run(**options).to_json()


def test_a_stale_spelling_is_rewritten_and_found_by_any_spelling(memory_kit, snapshot):
    """A subject stored under alice@xn--bcher-kva.de is found as Alice@Bücher.de after reindex."""
    subject = plant(memory_kit, [legacy("email", "alice@xn--bcher-kva.de")])
    assert memory_kit.identity.lookup("email:Alice@Bücher.de") is None  # before: a miss
    before = snapshot(memory_kit)
    dry = reindex(memory_kit, dry_run=True)
    assert snapshot(memory_kit) == before  # a dry run writes nothing
    done = reindex(memory_kit)
    assert {**dry, "dry_run": False} == done
    assert (done["rewritten"], done["merged"]) == (1, 0)
    assert memory_kit.identity.lookup("email:Alice@Bücher.de") == subject
    assert memory_kit.identity.lookup("email:alice@xn--bcher-kva.de") == subject
    assert memory_kit.identity.identifiers(subject) == [legacy("email", "alice@bücher.de")]
    assert memory_kit.identity.lookup(legacy("email", "alice@xn--bcher-kva.de")) is None
    assert memory_kit.store.get(CHECKPOINT) is None
    assert reindex(memory_kit)["rewritten"] == 0  # a second run finds nothing to do


def test_two_subjects_of_one_person_merge_and_a_refusal_survives(memory_kit):
    """Old +4402079460018 and new +44 20 7946 0018 merge; the later refusal is kept."""
    old = plant(memory_kit, [legacy("phone", "+4402079460018"), legacy("customer", "7")])
    memory_kit.consent.grant(old, "personalization", source="web", **NOTICE)
    memory_kit.track("customer:7", "product_view", channel="web", properties={"item": "tart"})
    new = memory_kit.identity.resolve("phone:+44 (0)20 7946 0018", create=True)
    memory_kit.consent.refuse(new, "personalization", source="web", **NOTICE)
    done = reindex(memory_kit, actor="ops")
    assert (done["merged"], done["subjects"]) == (1, 2)
    survivor = memory_kit.identity.lookup("customer:7")
    assert survivor == memory_kit.identity.lookup("phone:+44 20 7946 0018")
    assert survivor in {old, new}
    gone = old if survivor == new else new
    assert not memory_kit.keyring.has_subject_key(gone)
    assert memory_kit.vault.count(gone) == {}
    # The merged ledger refuses personalization, the only purpose the view was kept for: it
    # goes, as on a refusal (it used to survive the merge with its purpose refused).
    assert memory_kit.events.read(survivor) == []
    assert not memory_kit.consent.allowed(survivor, "personalization")
    actions = [entry.action for entry in memory_kit.audit.entries()]
    assert actions[-2:] == ["identity.linked", "identity.reindexed"]
    assert memory_kit.audit.verify().ok


@settings(max_examples=50, deadline=None)
@given(
    batch=st.one_of(st.integers(), st.booleans(), st.text(max_size=5), st.floats(), st.none()),
    actor=st.one_of(
        st.just("ops"), st.just("ops@example.com"), st.text(max_size=70), st.integers(), st.none()
    ),
)
def test_bad_options_are_invalid_input_before_anything_is_written(batch, actor):
    """A bad batch size or actor gets InvalidInput and leaves the stale spelling untouched."""
    kit, _ = testing.memory_kit()
    with kit:
        subject = plant(kit, [legacy("email", "alice@xn--bcher-kva.de")])
        valid = (
            type(batch) is int
            and 1 <= batch <= 10_000
            and isinstance(actor, str)
            and re.fullmatch(r"[a-z][a-z0-9_.:-]{0,63}", actor) is not None
        )
        try:
            report = IdentityReindexer(linker=kit.linker).run(batch=batch, actor=actor)
        except InvalidInput:
            assert not valid
            assert kit.identity.lookup("email:alice@bücher.de") is None
            return
        assert valid  # an actor goes into audit entries: never an e-mail address, never junk
        assert report.rewritten == 1
        assert kit.identity.lookup("email:alice@bücher.de") == subject


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    holdings=st.lists(
        st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=3),
        min_size=1,
        max_size=8,
    ),
    batch=st.integers(1, 4),
)
def test_reindex_leaves_one_subject_per_connected_person(holdings, batch):
    """Subjects sharing an identifier once normalized become one; everything else is kept.

    ``holdings`` is a list of subjects, each holding (person, spelling) pairs as stored by the
    older rules. Afterwards every identifier resolves by today's spelling to one subject, the
    subjects are the connected groups (subjects sharing an identifier), no stale spelling or
    index entry is left, and the dry run predicted the report.
    """
    kit, _ = testing.memory_kit()
    with kit:
        subjects: list[str] = []
        for held in holdings:
            idents = list(dict.fromkeys(person_spellings(p)[s] for p, s in held))
            # An identifier belongs to one subject: skip those an earlier subject took.
            idents = [i for i in idents if kit.identity.lookup(i) is None]
            if idents:
                subjects.append(plant(kit, idents))
        groups = _connected(kit, subjects)
        dry = reindex(kit, dry_run=True, batch=batch)
        done = reindex(kit, batch=batch)
        assert {**dry, "dry_run": False} == done
        live = {s for s in subjects if kit.identity.exists(s)}
        assert len(live) == len(groups)
        assert kit.keyring.subject_count() == len(live)
        for group in groups:
            owners = {kit.identity.lookup(parse_identifier(str(i))) for i in group}
            assert len(owners) == 1
            assert owners <= live
        index_entries = sorted(k for k, _ in kit.store.scan("i/"))
        held = sorted(kit.identity.index_key(i) for s in live for i in kit.identity.identifiers(s))
        assert index_entries == held  # no stale entry, no entry without its record
        for s in live:
            for ident in kit.identity.identifiers(s):
                assert parse_identifier(str(ident)) == ident
        assert kit.audit.verify().ok


def _connected(kit: Personakit, subjects: list[str]) -> list[set[Identifier]]:
    """The normalized identifiers of each group of subjects that share one (union-find)."""
    parent = {s: s for s in subjects}

    def root(s: str) -> str:
        while parent[s] != s:
            s = parent[s]
        return s

    holder: dict[Identifier, str] = {}
    for s in subjects:
        for ident in kit.identity.identifiers(s):
            normal = parse_identifier(str(ident))
            if normal in holder:
                parent[root(s)] = root(holder[normal])
            else:
                holder[normal] = s
    groups: dict[str, set[Identifier]] = {}
    for normal, s in holder.items():
        groups.setdefault(root(s), set()).add(normal)
    return list(groups.values())


def _plant_people(kit: Personakit, people: int) -> None:
    """Three subjects per person, linked only through today's spellings (two commits)."""
    with kit.store.transaction(), kit.key_store.transaction():
        for n in range(people):
            stale_email, email, stale_phone, phone = person_spellings(n)
            plant(kit, [stale_email, legacy("customer", f"c{n}")])
            plant(kit, [email, stale_phone])
            plant(kit, [phone])


@pytest.mark.slow
def test_reindex_killed_with_sigkill_finishes_when_run_again(tmp_path: Path, master_key: str):
    """SIGKILL mid-run (after some batches committed), then the CLI again: a complete index."""
    store, key_file = tmp_path / "store", tmp_path / "master.key"
    key_file.write_text(master_key)
    people = 60
    with Personakit.open(store, keys=LocalKeyProvider(master_key)) as kit:
        _plant_people(kit, people)
    command = [sys.executable, "-m", "personakit.cli", "--store", str(store)]
    command += ["--key-file", str(key_file), "identity", "reindex", "--batch", "1"]
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    data = DiskStore(store / "data")
    try:
        deadline = time.monotonic() + 60
        while data.get(CHECKPOINT) is None:
            assert worker.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
        worker.communicate()
        assert worker.returncode == -signal.SIGKILL
        assert data.get(CHECKPOINT) is not None  # killed mid-run, with a checkpoint
        assert data.integrity_check() == []
    finally:
        data.close()
    assert main(["--store", str(store), "--key-file", str(key_file), "identity", "reindex"]) == 0
    with Personakit.open(store, keys=LocalKeyProvider(master_key)) as kit:
        assert kit.store.get(CHECKPOINT) is None
        assert kit.keyring.subject_count() == people  # three subjects per person became one
        for n in range(people):
            subject = kit.identity.lookup(f"customer:c{n}")
            assert subject is not None
            for ident in person_spellings(n):
                assert kit.identity.lookup(parse_identifier(str(ident))) == subject
        assert len(list(kit.store.scan("i/"))) == 3 * people  # customer, email, phone
        assert kit.audit.verify().ok
