"""Where the CLI opens a kit: a directory, a postgresql:// URL, and under which tenant.

Tests that need a server are marked ``postgres`` and skipped unless
PERSONAKIT_TEST_POSTGRES_DSN is set; each uses a tenant (a namespace of the default table) of
its own, emptied afterwards.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from personakit import LocalKeyProvider, MasterKeyMismatch, Personakit
from personakit.cli import main
from personakit.crypto import Keyring
from personakit.storage import MemoryStore

DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")

needs_postgres = pytest.mark.skipif(
    not DSN, reason="PERSONAKIT_TEST_POSTGRES_DSN is not set: no PostgreSQL server to test against"
)


@pytest.fixture
def key_env(master_key: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PERSONAKIT_MASTER_KEY", master_key)
    for name in ("PERSONAKIT_MASTER_KEY_FILE", "PERSONAKIT_STORE", "PERSONAKIT_TENANT"):
        monkeypatch.delenv(name, raising=False)
    return master_key


@pytest.fixture
def tenant() -> Iterator[str]:
    """A tenant of its own: a namespace of the default table, emptied afterwards."""
    name = f"cli-test-{uuid.uuid4().hex}"
    yield name
    if DSN:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute("DELETE FROM personakit_kv WHERE namespace = %s", (name,))


@pytest.mark.postgres
@needs_postgres
@pytest.mark.parametrize("create", [[], ["--create"]])
def test_a_postgresql_store_opens_with_and_without_create(
    key_env: str,
    tenant: str,
    tmp_path: Path,
    create: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--store postgresql://… needs no --create (there is no path to check) and accepts it."""
    keys = tmp_path / "keys"
    with Personakit.open(DSN, keys=LocalKeyProvider(key_env), key_store=keys, tenant=tenant) as kit:
        kit.audit.append("test.event", data={"i": 1})
    argv = ["--store", DSN, "--keys-dir", str(keys), "--tenant", tenant, *create]
    assert main([*argv, "audit", "verify"]) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["entries"] == 1  # the tenant's own namespace: the entry written above


@pytest.mark.postgres
@needs_postgres
def test_the_tenant_comes_from_the_environment_and_a_wrong_one_is_named(
    key_env: str,
    tenant: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """$PERSONAKIT_TENANT selects the tenant; another tenant on the same keys says so, once."""
    keys = tmp_path / "keys"
    with Personakit.open(DSN, keys=LocalKeyProvider(key_env), key_store=keys, tenant=tenant) as kit:
        kit.audit.append("test.event", data={"i": 1})
    monkeypatch.setenv("PERSONAKIT_TENANT", tenant)
    assert main(["--store", DSN, "--keys-dir", str(keys), "audit", "verify"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 1
    other = f"{tenant}-other"
    try:
        assert (
            main(["--store", DSN, "--keys-dir", str(keys), "--tenant", other, "keys", "status"])
            == 1
        )
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute("DELETE FROM personakit_kv WHERE namespace = %s", (other,))
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "tenant" in err
    assert tenant not in err  # names no tenant: the operator knows which one they passed


def test_a_directory_store_opens_under_the_tenant_given(
    key_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--tenant reaches Personakit.open: a store made for one tenant refuses another, precisely."""
    store = tmp_path / "store"
    with Personakit.open(store, keys=LocalKeyProvider(key_env), tenant="shop-a") as kit:
        kit.audit.append("test.event")
    assert main(["--store", str(store), "--tenant", "shop-a", "keys", "status"]) == 0
    capsys.readouterr()
    assert main(["--store", str(store), "keys", "status"]) == 1  # the default tenant
    err = capsys.readouterr().err
    assert "another tenant" in err
    assert "shop-a" not in err


def test_a_wrong_tenant_is_not_reported_as_a_wrong_key(key_env: str) -> None:
    """Same master key, other tenant: the error says the tenant may differ, not 'key id X vs X'."""
    store = MemoryStore()
    provider = LocalKeyProvider(key_env)
    Keyring(store, provider, tenant="shop-a")
    with pytest.raises(MasterKeyMismatch) as caught:
        Keyring(store, provider, tenant="shop-b")
    message = str(caught.value)
    assert "tenant" in message
    assert message.count(provider.key_id) <= 1
    assert "shop-a" not in message
    assert "shop-b" not in message


_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=80)  # surrogates too


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(tenant=_ANY_TEXT)
@example(tenant="\udcff")  # what a non-UTF-8 byte in argv becomes
def test_any_tenant_opens_or_is_a_one_line_error(
    key_env: str, tenant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever --tenant holds, the command opens (exit 0) or prints one error line (exit 1, 2)."""
    code = main(["--store", "memory:", f"--tenant={tenant}", "keys", "status"])
    err = capsys.readouterr().err
    assert code in {0, 1, 2}
    assert err.count("\n") == (code != 0)


@pytest.mark.postgres
@needs_postgres
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(suffix=_ANY_TEXT)
@example(suffix="\udcff")
def test_any_tenant_on_postgresql_opens_or_is_a_one_line_error(
    key_env: str, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a database URL the tenant is also the namespace: any text opens or is one error line."""
    tenant = f"cli-test-{uuid.uuid4().hex}{suffix}"
    keys = tmp_path / uuid.uuid4().hex
    try:
        code = main(
            ["--store", DSN, "--keys-dir", str(keys), f"--tenant={tenant}", "keys", "status"]
        )
    finally:
        if "\x00" not in tenant and not _has_surrogate(tenant):
            with psycopg.connect(DSN, autocommit=True) as conn:
                conn.execute("DELETE FROM personakit_kv WHERE namespace = %s", (tenant,))
    err = capsys.readouterr().err
    assert code in {0, 1}
    assert err.count("\n") == (code != 0)


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)
