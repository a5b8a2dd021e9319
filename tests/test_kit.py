"""The facade: opening, closing, separation of keys and data, no plaintext on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from personakit import (
    ConfigurationError,
    LocalKeyProvider,
    MasterKeyMismatch,
    Personakit,
    generate_master_key,
)
from personakit.storage import MemoryStore
from personakit.testing import find_bytes

CANARY_EMAIL = "canary.7c1e@example.org"
CANARY_NAME = "Zyxwvutsrq"


def test_canary_email_is_in_no_file_under_the_store(tmp_path: Path, master_key: str) -> None:
    """An e-mail written as identifier and as a record value appears in no file, WAL included."""
    root = tmp_path / "store"
    with Personakit.open(root, keys=LocalKeyProvider(master_key)) as kit:
        subject = kit.identity.resolve(f"email:{CANARY_EMAIL}", create=True)
        kit.vault.put_json(
            subject, "traits", "main", {"email": CANARY_EMAIL, "first_name": CANARY_NAME}
        )
        kit.audit.append(
            "traits.updated", subject=kit.subject_ref(subject), data={"fields": ["email"]}
        )
        assert kit.vault.get_json(subject, "traits", "main")["email"] == CANARY_EMAIL
        # Before close too: the WAL is where a fresh write lives.
        for needle in (CANARY_EMAIL, CANARY_EMAIL.upper(), CANARY_NAME):
            assert find_bytes(root, needle.encode()) == []
    for needle in (CANARY_EMAIL, CANARY_NAME, master_key):
        assert find_bytes(root, needle.encode()) == []
    assert {p.name for p in root.iterdir()} == {"data", "keys"}


def test_data_backup_alone_holds_no_keys(tmp_path: Path, master_key: str) -> None:
    """The data directory holds no key material: keys live in the separate key store."""
    with Personakit.open(tmp_path / "s", keys=LocalKeyProvider(master_key)) as kit:
        subject = kit.identity.resolve("customer:42", create=True)
        kit.vault.put(subject, "traits", "main", b"v")
        wrapped = kit.key_store.get(f"k/s/{subject}")
        assert wrapped is not None
    assert find_bytes(tmp_path / "s" / "data", wrapped) == []


def test_reopen_with_the_same_key_reads_back(tmp_path: Path, master_key: str) -> None:
    """Data written, closed and reopened with the same key reads back equal."""
    with Personakit.open(tmp_path, keys=LocalKeyProvider(master_key)) as kit:
        subject = kit.identity.resolve("customer:42", create=True)
        kit.vault.put_json(subject, "traits", "main", {"city": "Lyon"})
    with Personakit.open(tmp_path, keys=LocalKeyProvider(master_key)) as kit:
        assert kit.identity.resolve("customer:42") == subject
        assert kit.vault.get_json(subject, "traits", "main") == {"city": "Lyon"}


def test_reopen_with_another_key_is_refused(tmp_path: Path, master_key: str) -> None:
    """Another master key is refused at open, before any data is touched."""
    Personakit.open(tmp_path, keys=LocalKeyProvider(master_key)).close()
    with pytest.raises(MasterKeyMismatch):
        Personakit.open(tmp_path, keys=LocalKeyProvider(generate_master_key()))


def test_key_store_must_be_separate(master_key: str) -> None:
    """Passing the data store as key store is a configuration error."""
    store = MemoryStore()
    with pytest.raises(ConfigurationError, match="separate"):
        Personakit(store=store, key_store=store, keys=LocalKeyProvider(master_key))


def test_open_on_a_file_is_a_configuration_error(tmp_path: Path, master_key: str) -> None:
    """A store path that is a regular file is refused with a typed error."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigurationError):
        Personakit.open(tmp_path / "f", keys=LocalKeyProvider(master_key))


def test_close_is_idempotent(master_key: str) -> None:
    """close() twice is fine."""
    kit = Personakit.open("memory:", keys=LocalKeyProvider(master_key))
    kit.close()
    kit.close()
