"""Keyring: sealing binds context, tampering is detected, shredding works, rotation resumes."""

from __future__ import annotations

import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personakit import (
    ConfigurationError,
    IntegrityError,
    LocalKeyProvider,
    MasterKeyMismatch,
    SubjectNotFound,
    generate_master_key,
)
from personakit.crypto import Keyring
from personakit.storage import MemoryStore

SUBJECT = "sub_aaaaaaaaaaaaaaaaaaaaaaaaaa"
OTHER = "sub_bbbbbbbbbbbbbbbbbbbbbbbbbb"


@pytest.fixture
def keyring(master_key: str) -> Keyring:
    return Keyring(MemoryStore(), LocalKeyProvider(master_key))


def test_seal_open_round_trip(keyring: Keyring) -> None:
    """A sealed record opens to the same bytes, and the ciphertext does not contain them."""
    sealed = keyring.seal(SUBJECT, "traits", "main", b"alice@example.com")
    assert b"alice" not in sealed
    assert keyring.open(SUBJECT, "traits", "main", sealed) == b"alice@example.com"


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_bit_flip_is_an_integrity_error(position: int, bit: int) -> None:
    """Flipping any single bit of a sealed record raises IntegrityError, never wrong data."""
    ring = Keyring(MemoryStore(), LocalKeyProvider(generate_master_key()))
    sealed = bytearray(ring.seal(SUBJECT, "traits", "main", b"x" * 300))
    sealed[position % len(sealed)] ^= 1 << bit
    with pytest.raises(IntegrityError):
        ring.open(SUBJECT, "traits", "main", bytes(sealed))


def test_swapped_ciphertexts_fail(keyring: Keyring) -> None:
    """A record moved to another subject, kind or name does not open (associated data binds it)."""
    sealed = keyring.seal(SUBJECT, "traits", "main", b"secret")
    keyring.seal(OTHER, "traits", "main", b"other")
    for subject, kind, name in (
        (OTHER, "traits", "main"),
        (SUBJECT, "events", "main"),
        (SUBJECT, "traits", "other"),
    ):
        with pytest.raises(IntegrityError):
            keyring.open(subject, kind, name, sealed)


def test_other_tenant_cannot_open(master_key: str) -> None:
    """The same master key under another tenant name does not open a record (tenant is bound)."""
    store = MemoryStore()
    sealed = Keyring(store, LocalKeyProvider(master_key), tenant="shop-a").seal(
        SUBJECT, "t", "n", b"v"
    )
    other = Keyring(MemoryStore(), LocalKeyProvider(master_key), tenant="shop-b")
    other.create_subject_key(SUBJECT)
    with pytest.raises(IntegrityError):
        other.open(SUBJECT, "t", "n", sealed)


def test_truncated_and_garbage_records_fail(keyring: Keyring) -> None:
    """Empty, short, wrong-version and random blobs are integrity errors."""
    keyring.create_subject_key(SUBJECT)
    sealed = keyring.seal(SUBJECT, "t", "n", b"v")
    for blob in (b"", b"\x01", sealed[:-1], b"\x02" + sealed[1:], os.urandom(64)):
        with pytest.raises(IntegrityError):
            keyring.open(SUBJECT, "t", "n", blob)


def test_shredded_subject_cannot_be_opened(keyring: Keyring) -> None:
    """After shred(), the subject's records raise SubjectNotFound, even in this process."""
    sealed = keyring.seal(SUBJECT, "t", "n", b"v")
    assert keyring.shred(SUBJECT) is True
    with pytest.raises(SubjectNotFound):
        keyring.open(SUBJECT, "t", "n", sealed)
    assert keyring.shred(SUBJECT) is False


def test_shred_is_seen_by_a_second_keyring_without_cache(master_key: str) -> None:
    """Another keyring on the same key store (another process) cannot open after a shred."""
    store = MemoryStore()
    first = Keyring(store, LocalKeyProvider(master_key))
    sealed = first.seal(SUBJECT, "t", "n", b"v")
    first.shred(SUBJECT)
    with pytest.raises(SubjectNotFound):
        Keyring(store, LocalKeyProvider(master_key)).open(SUBJECT, "t", "n", sealed)


def test_wrong_master_key_is_refused_at_open(master_key: str) -> None:
    """Opening a keyring with another master key fails at once with a clear error."""
    store = MemoryStore()
    Keyring(store, LocalKeyProvider(master_key))
    with pytest.raises(MasterKeyMismatch, match="key id"):
        Keyring(store, LocalKeyProvider(generate_master_key()))


@pytest.mark.parametrize("bad", ["", "short", "!" * 43, generate_master_key()[:-2]])
def test_bad_master_key_text_says_what_a_good_one_looks_like(bad: str) -> None:
    """A malformed key is a ConfigurationError that explains the format and how to make one."""
    with pytest.raises(ConfigurationError, match="personakit keygen") as caught:
        LocalKeyProvider(bad)
    assert bad not in str(caught.value) or not bad


def test_missing_env_key_is_a_configuration_error() -> None:
    """No key in the environment: the message names both variables."""
    with pytest.raises(ConfigurationError, match="PERSONAKIT_MASTER_KEY"):
        LocalKeyProvider.from_env({})


def test_provider_repr_shows_no_key_material(master_key: str) -> None:
    """repr() of a provider shows key ids only."""
    assert master_key not in repr(LocalKeyProvider(master_key))


def test_blind_index_is_keyed_and_stable(master_key: str) -> None:
    """Equal identifiers give equal indexes per keyring; another keyring gives another index."""
    store = MemoryStore()
    ring = Keyring(store, LocalKeyProvider(master_key))
    assert ring.blind_index("email", "a@b.c") == Keyring(
        store, LocalKeyProvider(master_key)
    ).blind_index("email", "a@b.c")
    assert ring.blind_index("email", "a@b.c") != ring.blind_index("phone", "a@b.c")
    other = Keyring(MemoryStore(), LocalKeyProvider(master_key))
    assert other.blind_index("email", "a@b.c") != ring.blind_index("email", "a@b.c")


def test_concurrent_key_creation_yields_one_key(master_key: str) -> None:
    """Threads sealing for a new subject at once all use one data key (no lost records)."""
    store = MemoryStore()
    rings = [Keyring(store, LocalKeyProvider(master_key)) for _ in range(8)]
    sealed: list[bytes] = []
    lock = threading.Lock()

    def seal(ring: Keyring) -> None:
        blob = ring.seal(SUBJECT, "t", "n", b"v")
        with lock:
            sealed.append(blob)

    threads = [threading.Thread(target=seal, args=(ring,)) for ring in rings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fresh = Keyring(store, LocalKeyProvider(master_key))
    assert all(fresh.open(SUBJECT, "t", "n", blob) == b"v" for blob in sealed)


class _CrashAfter(LocalKeyProvider):
    """A provider that dies after n wraps, like a process killed mid-rotation."""

    def __init__(self, active: str, *, previous: list[str], n: int) -> None:
        super().__init__(active, previous=previous)
        self.left = n

    def wrap(self, secret: bytes, context: bytes) -> bytes:
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return super().wrap(secret, context)


def test_rotation_is_resumable_after_a_crash(master_key: str) -> None:
    """A rotation interrupted half-way is finished by running it again; all data still opens."""
    store = MemoryStore()
    old = Keyring(store, LocalKeyProvider(master_key))
    subjects = [f"sub_{chr(97 + i) * 26}" for i in range(10)]
    sealed = {s: old.seal(s, "t", "n", s.encode()) for s in subjects}
    index_before = old.blind_index("email", "a@b.c")
    new_key = generate_master_key()

    crashing = Keyring(store, _CrashAfter(new_key, previous=[master_key], n=4))
    with pytest.raises(KeyboardInterrupt):
        crashing.rotate()
    resumed = Keyring(store, LocalKeyProvider(new_key, previous=[master_key]))
    assert resumed.rotation_pending() == resumed.provider.key_id
    report = resumed.rotate()
    assert (report.rewrapped, report.already_current) == (6, 4)
    assert resumed.rotation_pending() is None

    only_new = Keyring(store, LocalKeyProvider(new_key))
    assert all(only_new.open(s, "t", "n", blob) == s.encode() for s, blob in sealed.items())
    assert only_new.blind_index("email", "a@b.c") == index_before
    with pytest.raises(MasterKeyMismatch):
        Keyring(store, LocalKeyProvider(master_key))
