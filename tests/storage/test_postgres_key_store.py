"""A key store in PostgreSQL of its own: another schema, owned by another role.

Keys must never sit where the data's credentials can read them (one leaked or subpoenaed
database would then hold both). On a single PostgreSQL server that means a schema owned by a
role of its own, and a data role with no privilege on it (and the other way round). These tests
create both roles and schemas on the test server (trust auth) and drop them afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from personakit import LocalKeyProvider, Personakit, StorageError
from personakit.storage import PostgresStore

DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not DSN, reason="PERSONAKIT_TEST_POSTGRES_DSN is not set"),
]


@pytest.fixture
def roles() -> Iterator[tuple[str, str]]:
    """(data role, key role), each owning a schema of the same name; dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    data, keys = f"pk_data_{suffix}", f"pk_keys_{suffix}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        for role in (data, keys):
            conn.execute(f"CREATE ROLE {role} LOGIN")
            conn.execute(f"CREATE SCHEMA {role} AUTHORIZATION {role}")
            # No PUBLIC access to the schema: only its owner can even look inside.
            conn.execute(f"REVOKE ALL ON SCHEMA {role} FROM PUBLIC")
    try:
        yield data, keys
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            for role in (data, keys):
                conn.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
                conn.execute(f"DROP OWNED BY {role}")
                conn.execute(f"DROP ROLE IF EXISTS {role}")


def _as(role: str) -> str:
    return make_conninfo(DSN, user=role)


def test_a_kit_with_its_key_store_in_another_schema_and_role_round_trips(
    roles: tuple[str, str], master_key: str
) -> None:
    """Data and keys in two schemas of two roles: the kit works, and neither role reads the
    other's table."""
    data_role, key_role = roles
    data = PostgresStore(_as(data_role), table=f"{data_role}.personakit_kv", namespace="shop")
    keys = PostgresStore(_as(key_role), table=f"{key_role}.personakit_keys", namespace="shop")
    kit = Personakit(store=data, key_store=keys, keys=LocalKeyProvider(master_key), tenant="shop")
    with kit:
        subject = kit.identity.resolve("email:keys.elsewhere@example.org", create=True)
        kit.vault.put_json(subject, "traits", "main", {"tier": "gold"})
        assert kit.vault.get_json(subject, "traits", "main") == {"tier": "gold"}
        assert kit.audit.verify().ok
        assert any(key.startswith("k/") for key, _ in keys.scan(""))
        assert not any(key.startswith("k/") for key, _ in data.scan(""))
    # Each role is refused the other's table: a leaked data credential reads no key.
    for role, table in (
        (data_role, f"{key_role}.personakit_keys"),
        (key_role, f"{data_role}.personakit_kv"),
    ):
        with pytest.raises(StorageError, match="InsufficientPrivilege"):
            PostgresStore(_as(role), table=table, namespace="shop")
