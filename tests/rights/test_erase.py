"""Erasure (GDPR Art 17, CCPA delete): nothing readable, nothing on disk, replayable, resumable."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _shared import PRIVACY
from personakit import InvalidInput, LocalKeyProvider, Personakit, SubjectNotFound
from personakit.cli import main
from personakit.exceptions import ErasureIncomplete, PersonakitError
from personakit.testing import find_bytes, memory_kit

ALICE = {"email": "canary.alice.q7z@example.com", "first_name": "Zyqxwvalice"}
BOB = {"email": "bob.keeps@example.com", "first_name": "Bobkeeps"}


def _unreadable(kit: Personakit, subject: str, idents: list[str]) -> None:
    """Every API refuses the subject."""
    for ident in idents:
        assert kit.identity.lookup(ident) is None
        with pytest.raises(SubjectNotFound):
            kit.identity.resolve(ident)
        with pytest.raises(SubjectNotFound):
            kit.rights.export(ident)
    assert not kit.identity.exists(subject)
    assert not kit.keyring.has_subject_key(subject)
    assert list(kit.store.scan(f"s/{subject}/")) == []
    with pytest.raises(SubjectNotFound):
        kit.rights.export(subject)
    assert kit.vault.get_json(subject, "meta", "subject") is None
    with pytest.raises(SubjectNotFound):
        kit.consent.grant(subject, "personalization", **PRIVACY)


def _canaries(subject: str) -> list[bytes]:
    return [
        ALICE["email"].encode(),
        ALICE["first_name"].encode(),
        b"Zyqxwvalice-sku-0",
        b"Zyqxwvaliceville",
        b"customer:alice-17",
        subject.encode(),
    ]


@pytest.fixture
def disk_store(tmp_path, master_key, monkeypatch, populate):
    """A DiskStore kit directory with Alice and Bob; returns (root, alice, bob)."""
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    root = tmp_path / "store"
    with Personakit.open(root, keys=LocalKeyProvider(master_key)) as kit:
        alice = populate(kit, "customer:alice-17", **ALICE, events=20)
        bob = populate(kit, "customer:bob-18", **BOB, events=5)
    return root, alice, bob


def test_cli_erase_leaves_nothing_readable_and_nothing_on_disk(disk_store, master_key, capsys):
    """After `subject erase`: unresolvable, unreadable, no canary byte on disk, others intact."""
    root, alice, bob = disk_store
    assert (
        main(
            [
                "--store",
                str(root),
                "subject",
                "erase",
                "customer:alice-17",
                "--reason",
                "dsr request",
            ]
        )
        == 0
    )
    receipt = json.loads(capsys.readouterr().out)
    assert receipt["removed"]["data_key"] == 1
    assert receipt["removed"]["identity_index"] == 2
    assert receipt["removed"]["records"]["ident"] == 2
    assert receipt["removed"]["records"]["consent"] == 4
    assert receipt["scrub"]["status"] == "done"
    with Personakit.open(root, keys=LocalKeyProvider(master_key)) as kit:
        assert receipt["tombstone"] == kit.subject_ref(alice)
        _unreadable(kit, alice, ["customer:alice-17", f"email:{ALICE['email']}"])
        assert kit.audit.verify().ok
        last = list(kit.audit.entries())[-1]
        assert last.action == "rights.erasure"
        assert last.subject == receipt["tombstone"]
        other = kit.rights.export("customer:bob-18")
        assert other["traits"]["first_name"]["value"] == BOB["first_name"]
        assert len(other["events"]) == 5
        assert kit.consent.allowed(bob, "personalization")
    for needle in _canaries(alice):
        assert find_bytes(root, needle) == [], needle


def test_replay_after_restoring_a_data_backup(disk_store, master_key, capsys, tmp_path):
    """Restoring pre-erasure data then `erasure replay` leaves the subject gone again."""
    root, alice, bob = disk_store
    backup = tmp_path / "backup"
    shutil.copytree(root / "data", backup)
    assert main(["--store", str(root), "subject", "erase", "customer:alice-17"]) == 0
    capsys.readouterr()
    shutil.rmtree(root / "data")
    shutil.copytree(backup, root / "data")
    with Personakit.open(root, keys=LocalKeyProvider(master_key)) as kit:
        # the restored data points at the subject again, but its key stayed shredded
        assert kit.identity.lookup("customer:alice-17") == alice
        with pytest.raises(SubjectNotFound):
            kit.vault.get_json(alice, "meta", "subject")
    assert main(["--store", str(root), "erasure", "replay"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["subjects"] == 1
    assert report["index_entries"] == 2
    assert report["records"] >= 10
    assert report["scrub"] == {"data": "done", "keys": "done"}
    with Personakit.open(root, keys=LocalKeyProvider(master_key)) as kit:
        _unreadable(kit, alice, ["customer:alice-17", f"email:{ALICE['email']}"])
        assert kit.audit.verify().ok
        assert [e.action for e in kit.audit.entries()][-1] == "rights.erasure_replayed"
        assert kit.rights.export(bob)["traits"]["email"]["value"] == BOB["email"]
    for needle in _canaries(alice):
        assert find_bytes(root, needle) == [], needle
    assert main(["--store", str(root), "erasure", "replay"]) == 0
    assert json.loads(capsys.readouterr().out)["subjects"] == 0


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=5),
    data=st.data(),
)
def test_erasing_a_random_subset_leaves_the_others_intact(populate, sizes, data) -> None:
    """Random subjects, random subset erased: erased unreadable everywhere, others unchanged."""
    kit, _ = memory_kit()
    with kit:
        subjects = {
            f"customer:s{i}": populate(
                kit, f"customer:s{i}", email=f"s{i}@example.com", first_name=f"Name{i}", events=n
            )
            for i, n in enumerate(sizes)
        }
        before = {ident: kit.rights.export(s) for ident, s in subjects.items()}
        doomed = data.draw(st.sets(st.sampled_from(sorted(subjects))))
        for ident in sorted(doomed):
            kit.rights.erase(ident)
        for ident, subject in subjects.items():
            if ident in doomed:
                _unreadable(kit, subject, [ident, f"email:s{ident[10:]}@example.com"])
            else:
                after = kit.rights.export(ident)
                for section in ("identifiers", "traits", "events", "consent"):
                    assert after[section] == before[ident][section]
        assert kit.audit.verify().ok


def test_a_crash_inside_the_erasure_transaction_rolls_it_back_and_erasing_again_finishes(
    kit_and_clock, populate, monkeypatch
):
    """Deletion failing inside the erasure's transaction undoes it all, key kept; re-run ends it.

    (Before the subject was held across removers, shred and delete, the key was shredded
    before deletion and this test checked the half-erased state that left.)
    """
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    counts = kit.vault.count(subject)
    real = kit.vault.delete_subject
    calls = []

    def crash_once(sub: str) -> int:
        calls.append(sub)
        if len(calls) == 1:
            raise RuntimeError("simulated crash")
        return real(sub)

    monkeypatch.setattr(kit.vault, "delete_subject", crash_once)
    with pytest.raises(RuntimeError, match="simulated crash"):
        kit.rights.erase("customer:c1")
    assert kit.keyring.has_subject_key(subject)
    assert kit.vault.count(subject) == counts  # rolled back whole: nothing half-erased
    assert [e.status for e in kit.rights.erasure_log()] == ["in_progress"]
    receipt = kit.rights.erase(subject)
    assert receipt.recovered
    assert receipt.records == counts
    assert receipt.data_key == 1
    assert receipt.identity_index == 2
    assert receipt.scrub_status == "done"
    _unreadable(kit, subject, ["customer:c1", "email:alice@example.com"])
    assert [e.status for e in kit.rights.erasure_log()] == ["completed"]
    assert kit.audit.verify().ok


def test_a_crash_between_commit_and_shred_is_finished_by_erasing_again(
    kit_and_clock, populate, monkeypatch
):
    """The shred failing after COMMIT leaves only the key; the re-run shreds it."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    counts = kit.vault.count(subject)
    monkeypatch.setattr(kit.keyring, "shred", _raise)
    with pytest.raises(RuntimeError, match="simulated crash"):
        kit.rights.erase(subject)
    monkeypatch.undo()
    assert kit.keyring.has_subject_key(subject)
    assert kit.vault.count(subject) == {}
    assert kit.identity.lookup("customer:c1") is None
    receipt = kit.rights.erase(subject)
    assert receipt.recovered
    assert receipt.records == counts
    assert receipt.data_key == 1
    _unreadable(kit, subject, ["customer:c1", "email:alice@example.com"])
    assert kit.audit.verify().ok


def test_rerun_by_identifier_after_a_crash_scans_the_index(kit_and_clock, populate, monkeypatch):
    """After a crash the identifier still resolves, and erasing by it finishes the job."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    monkeypatch.setattr(kit.vault, "delete_subject", _raise)
    with pytest.raises(RuntimeError, match="simulated crash"):
        kit.rights.erase("email:alice@example.com")
    monkeypatch.undo()
    receipt = kit.rights.erase("email:alice@example.com")
    assert receipt.recovered
    assert receipt.identity_index == 2
    _unreadable(kit, subject, ["customer:c1", "email:alice@example.com"])


def _raise(*_args: object) -> int:
    raise RuntimeError("simulated crash")


def test_contribution_removers_run_once_across_crashes(kit_and_clock, populate, monkeypatch):
    """A remover runs before the shred, once, even when the erasure is re-run after crashes."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    calls: list[tuple[str, int]] = []

    def remover(sub: str) -> int:
        calls.append((sub, len(list(kit.vault.scan(sub, "events")))))  # can still read
        return 7

    kit.rights.registry.register_remover("popularity", remover)
    monkeypatch.setattr(kit.keyring, "shred", _raise)
    with pytest.raises(RuntimeError, match="simulated crash"):
        kit.rights.erase(subject)
    monkeypatch.undo()
    monkeypatch.setattr(kit.vault, "delete_subject", _raise)
    with pytest.raises(RuntimeError, match="simulated crash"):
        kit.rights.erase(subject)
    monkeypatch.undo()
    receipt = kit.rights.erase(subject)
    assert calls == [(subject, 1)]
    # every kit also has personalization's segment index, journeys' due/outbox index and
    # recommendations' item model (nothing of this subject in any)
    expected = {
        "journeys.index": 0,
        "popularity": 7,
        "recommendations.model": 0,
        "segment-index": 0,
    }
    assert receipt.contributions == expected
    assert receipt.to_json()["removed"]["contributions"] == expected


def test_concurrent_erasures_of_one_subject_remove_its_contribution_once(
    kit_and_clock, populate, monkeypatch
) -> None:
    """An erasure that waited for the subject while another erased it does not rerun removers.

    (The other erasure runs whole while this one waits: removers and deletion commit
    together, so there is no state where only the removers ran.)
    """
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:1", email="ann@example.com", first_name="Ann")
    calls: list[str] = []

    def remover(who: str) -> int:
        calls.append(who)
        return 1

    kit.rights.registry.register_remover("shared_counts", remover)
    original = kit.store.transaction
    raced = False

    @contextlib.contextmanager
    def transaction() -> Iterator[None]:
        nonlocal raced
        if not raced:
            # Another process erases the same subject while this one waits for its lock.
            raced = True
            kit.rights.erase(subject)
        with original():
            yield

    monkeypatch.setattr(kit.store, "transaction", transaction)
    receipt = kit.rights.erase(subject)
    assert calls == [subject]
    # other shared kinds every kit registers (personalization's segment index) changed nothing
    assert {name: n for name, n in receipt.contributions.items() if n} == {"shared_counts": 1}
    _unreadable(kit, subject, ["customer:1", "email:ann@example.com"])


def test_anything_left_behind_raises_and_keeps_the_erasure_open(
    kit_and_clock, populate, monkeypatch
):
    """A key that survives the shred makes erase() raise ErasureIncomplete; a re-run finishes."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    monkeypatch.setattr(kit.keyring, "shred", lambda _s: False)
    with pytest.raises(ErasureIncomplete) as caught:
        kit.rights.erase(subject)
    assert caught.value.leftovers == ("data_key",)
    assert isinstance(caught.value, PersonakitError)
    assert [e.status for e in kit.rights.erasure_log()] == ["in_progress"]
    monkeypatch.undo()
    receipt = kit.rights.erase(subject)
    assert receipt.recovered
    assert not kit.keyring.has_subject_key(subject)


def test_unknown_or_already_erased_subjects_and_bad_reasons_are_refused(kit_and_clock, populate):
    """Unknown → SubjectNotFound; erased twice → SubjectNotFound; personal reason → InvalidInput."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    with pytest.raises(SubjectNotFound):
        kit.rights.erase("customer:nobody")
    with pytest.raises(SubjectNotFound):
        kit.rights.erase("sub_" + "b" * 26)
    with pytest.raises(InvalidInput):
        kit.rights.erase(subject, reason="asked by alice@example.com")
    with pytest.raises(InvalidInput):
        kit.rights.erase(subject, reason="call +33 6 12 34 56 78")
    assert kit.keyring.has_subject_key(subject)
    kit.rights.erase(subject, reason="request dsr_abc")
    with pytest.raises(SubjectNotFound):
        kit.rights.erase(subject)
    with pytest.raises(SubjectNotFound):
        kit.rights.erase("customer:c1")


def test_erasure_log_is_in_the_key_store_and_holds_no_pseudonym(kit_and_clock, populate):
    """The tombstone lives in the key store; once complete it names no pseudonym or identifier."""
    kit, _ = kit_and_clock
    subject = populate(kit, "customer:c1", email="alice@example.com", first_name="Alice")
    receipt = kit.rights.erase(subject)
    entries = dict(kit.key_store.scan("e/"))
    assert list(entries) == [f"e/{receipt.tombstone}"]
    raw = entries[f"e/{receipt.tombstone}"]
    assert subject.encode() not in raw
    assert b"alice" not in raw
    assert list(kit.store.scan("e/")) == []
