"""PostgresStore: the store contract on PostgreSQL, plus locking, layout, scrub and errors.

Tests that need a server are marked ``postgres`` and skipped unless
PERSONAKIT_TEST_POSTGRES_DSN is set (CI sets it). Each run uses its own table, dropped at the
end, and each test its own namespace.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import attrs
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from personakit import ConfigurationError, LocalKeyProvider, Personakit, StorageError
from personakit.storage import DiskStore, PostgresStore, Store
from personakit.storage._postgres_schema import subject_of as _subject_of
from personakit.storage._postgres_schema import subject_of_prefix as _subject_of_prefix
from personakit.testing import StoreContract

DSN = os.environ.get("PERSONAKIT_TEST_POSTGRES_DSN", "")
TABLE = f"personakit_test_{uuid.uuid4().hex[:12]}"
PASSWORD = "hunter2-do-not-print"

_T = TypeVar("_T")


def needs_postgres(test: _T) -> _T:
    """Mark a test (or class) as needing the PostgreSQL server, skipped when none is set."""
    skip = pytest.mark.skipif(
        not DSN,
        reason="PERSONAKIT_TEST_POSTGRES_DSN is not set: no PostgreSQL server to test against "
        "(CI sets it to postgresql://postgres@127.0.0.1:5432/test)",
    )
    return pytest.mark.postgres(skip(test))


@pytest.fixture(scope="module", autouse=True)
def _drop_test_table() -> Iterator[None]:
    yield
    if DSN:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
            conn.execute(
                "DELETE FROM personakit_migrations WHERE table_name = %s", (f"public.{TABLE}",)
            )


def _namespace() -> str:
    return f"test-{uuid.uuid4().hex}"


def _open(namespace: str | None = None, **options: float) -> PostgresStore:
    return PostgresStore(DSN, table=TABLE, namespace=namespace or _namespace(), **options)


@pytest.fixture
def store() -> Iterator[PostgresStore]:
    """A store in a fresh namespace of this run's table."""
    opened = _open()
    try:
        yield opened
    finally:
        opened.close()


@needs_postgres
class TestPostgresStore(StoreContract):
    def make_store(self, tmp_path: Path) -> Store:
        return _open()


# -- serialisation of writers -----------------------------------------------------------------


def _increment(store: PostgresStore, rounds: int) -> None:
    for _ in range(rounds):
        with store.transaction():
            value = int(store.get("counter") or b"0")
            time.sleep(0.002)  # widen the read-modify-write window so a race would show
            store.put("counter", str(value + 1).encode())


def _run_threads(target: Callable[[], None], count: int) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@needs_postgres
def test_threads_in_transactions_lose_no_counter_update(store: PostgresStore) -> None:
    """Four threads incrementing one counter in transactions: every increment survives."""
    _run_threads(lambda: _increment(store, 25), count=4)
    assert store.get("counter") == b"100"


@needs_postgres
def test_without_the_advisory_lock_the_same_workload_loses_updates(
    store: PostgresStore,
) -> None:
    """Control: with the key locks stripped out, the counter workload above loses updates."""
    store._sql = attrs.evolve(store._sql, lock=b"SELECT %s::bigint[]")
    _run_threads(lambda: _increment(store, 25), count=4)
    assert int(store.get("counter") or b"0") < 100


_COUNTER_CHILD = """
import sys, time
from personakit.storage import PostgresStore
dsn, table, namespace, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = PostgresStore(dsn, table=table, namespace=namespace)
print("ready", flush=True)
sys.stdin.readline()
for _ in range(rounds):
    with store.transaction():
        value = int(store.get("counter") or b"0")
        time.sleep(0.002)
        store.put("counter", str(value + 1).encode())
store.close()
"""


@needs_postgres
def test_processes_in_transactions_lose_no_counter_update() -> None:
    """Two processes incrementing one counter in transactions: every increment survives."""
    namespace = _namespace()
    command = [sys.executable, "-c", _COUNTER_CHILD, DSN, TABLE, namespace, "40"]
    with contextlib.ExitStack() as stack:
        children = [
            stack.enter_context(
                subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            )
            for _ in range(2)
        ]
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        for child in children:  # release both at once, so their transactions interleave
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.close()
        assert [child.wait(timeout=120) for child in children] == [0, 0]
    reader = _open(namespace)
    try:
        assert reader.get("counter") == b"80"
    finally:
        reader.close()


@needs_postgres
def test_a_write_outside_a_transaction_waits_for_an_open_one(store: PostgresStore) -> None:
    """A single put does not slip between a transaction's read and write: it lands after."""
    read = threading.Event()

    def transact() -> None:
        with store.transaction():
            value = store.get("k") or b""
            read.set()
            time.sleep(0.3)
            store.put("k", value + b"+tx")

    thread = threading.Thread(target=transact)
    thread.start()
    assert read.wait(10)
    started = time.monotonic()
    store.put("k", b"blind")
    waited = time.monotonic() - started
    thread.join()
    assert waited > 0.1
    assert store.get("k") == b"blind"


@needs_postgres
def test_transaction_writes_are_invisible_to_other_threads_until_commit(
    store: PostgresStore,
) -> None:
    """Another thread reads the committed state, not a transaction's pending writes."""
    written, checked = threading.Event(), threading.Event()

    def transact() -> None:
        with store.transaction():
            store.put("k", b"pending")
            written.set()
            checked.wait(10)

    thread = threading.Thread(target=transact)
    thread.start()
    assert written.wait(10)
    seen_during = store.get("k")
    checked.set()
    thread.join()
    assert seen_during is None
    assert store.get("k") == b"pending"


# -- transactions -------------------------------------------------------------------------


@needs_postgres
def test_exception_rolls_back_every_write_as_seen_by_another_connection(
    store: PostgresStore,
) -> None:
    """After an exception, another connection sees none of the transaction's writes."""
    store.put("s/sub_a/kept", b"old")

    class Boom(Exception):
        pass

    def write_then_fail() -> None:
        with store.transaction():
            store.put("s/sub_a/kept", b"new")
            with store.transaction():
                store.put("s/sub_a/added", b"x")
                store.delete_prefix("s/sub_a/")
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    other = _open(store.namespace)
    try:
        assert dict(other.scan("")) == {"s/sub_a/kept": b"old"}
    finally:
        other.close()
    store.put("after", b"ok")  # the connection is usable again, outside any transaction
    assert store.get("after") == b"ok"


@needs_postgres
def test_a_caught_statement_failure_cannot_commit_the_rest(store: PostgresStore) -> None:
    """If a statement fails inside a transaction and the caller swallows it, nothing commits.

    Nor when a write sent with COMMIT fails: the transaction's other writes are not kept.
    """
    store.put("locked", b"v")
    impatient = _open(store.namespace, timeout=0.2)
    with psycopg.connect(DSN) as holder:  # not autocommit: holds the row lock until rollback
        holder.execute(
            f"SELECT 1 FROM {TABLE} WHERE namespace = %s AND key = 'locked' FOR UPDATE",
            (store.namespace,),
        )

        def swallow_a_failure() -> None:
            with impatient.transaction():
                impatient.put("first", b"written before the failure")
                with pytest.raises(StorageError, match="LockNotAvailable"):
                    impatient.delete("locked")  # runs at once (puts wait for COMMIT)

        def fail_at_commit() -> None:
            with impatient.transaction():
                impatient.put("first", b"written before the failure")
                impatient.put("locked", b"w")  # sent with COMMIT, which fails whole

        with pytest.raises(StorageError, match="rolled back"):
            swallow_a_failure()
        with pytest.raises(StorageError, match="LockNotAvailable"):
            fail_at_commit()
        holder.rollback()
    assert store.get("first") is None
    assert store.get("locked") == b"v"
    impatient.put("first", b"usable again")
    assert store.get("first") == b"usable again"
    impatient.close()


@needs_postgres
def test_closed_store_refuses_use(store: PostgresStore) -> None:
    """After close() every call raises instead of silently reconnecting."""
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.get("k")


# -- layout -------------------------------------------------------------------------------


@needs_postgres
def test_subject_column_is_derived_from_the_key_and_enforced(store: PostgresStore) -> None:
    """Rows carry subject 'x' for keys 's/x/…' and '' otherwise; a CHECK refuses any other."""
    keys = ["s/sub_a/traits/main", "s/sub_a", "s//odd", "a/head", "sx/y", "s/é/x"]
    for key in keys:
        store.put(key, b"v")
    with psycopg.connect(DSN, autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT key, subject FROM {TABLE} WHERE namespace = %s", (store.namespace,)
        ).fetchall()
        assert dict(rows) == {
            "s/sub_a/traits/main": "sub_a",
            "s/sub_a": "",
            "s//odd": "",
            "a/head": "",
            "sx/y": "",
            "s/é/x": "é",
        }
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                f"INSERT INTO {TABLE} VALUES (%s, 's/sub_b/x', 'sub_a', '')", (store.namespace,)
            )


_KEYISH = st.text(alphabet="s/ab", max_size=8)


@given(key=_KEYISH, cut=st.integers(min_value=0, max_value=8))
def test_a_prefix_names_a_subject_only_if_all_its_keys_share_it(key: str, cut: int) -> None:
    """The subject a prefix is routed to is the subject of every key with that prefix."""
    prefix_subject = _subject_of_prefix(key[:cut])
    assert prefix_subject is None or prefix_subject == _subject_of(key)


@needs_postgres
def test_namespaces_sharing_a_table_are_isolated(store: PostgresStore) -> None:
    """Two stores on one table never see or delete each other's keys."""
    neighbour = _open()
    try:
        store.put("s/sub_a/k", b"mine")
        neighbour.put("s/sub_a/k", b"theirs")
        assert neighbour.delete_prefix("s/") == 1
        assert list(store.scan("")) == [("s/sub_a/k", b"mine")]
    finally:
        neighbour.close()


@needs_postgres
def test_a_table_with_another_layout_is_refused() -> None:
    """A table whose key column is not COLLATE "C" (wrong order) is refused at open."""
    table = f"{TABLE}_foreign"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (namespace text NOT NULL, key text NOT NULL,"
            " subject text NOT NULL, value bytea NOT NULL)"
        )
        try:
            with pytest.raises(StorageError, match="layout"):
                PostgresStore(DSN, table=table)
        finally:
            conn.execute(f"DROP TABLE {table}")


@needs_postgres
def test_scan_fetches_lazily_in_pages_and_tolerates_writes(store: PostgresStore) -> None:
    """Deleting everything after the first row ends the scan after one page, without error."""
    with store.transaction():
        for i in range(1100):
            store.put(f"k/{i:05d}", b"v")
    seen = []
    for key, _ in store.scan("k/"):
        if not seen:
            store.delete_prefix("k/")
        seen.append(key)
    assert seen == [f"k/{i:05d}" for i in range(500)]


@needs_postgres
def test_keys_postgres_cannot_hold_are_refused(store: PostgresStore) -> None:
    """A NUL in a key is a ValueError up front, not a server error half-way."""
    with pytest.raises(ValueError, match="NUL"):
        store.put("a\x00b", b"v")


# -- scrub ----------------------------------------------------------------------------------


@needs_postgres
def test_scrub_vacuums_and_is_honest_about_what_it_cannot_reach(store: PostgresStore) -> None:
    """scrub() is done after a delete and says WAL and backups are left to crypto-shredding."""
    store.put("s/sub_a/x", b"secret")
    store.delete("s/sub_a/x")
    result = store.scrub()
    assert result.done, result.detail
    assert "WAL" in result.detail
    assert "backups" in result.detail
    assert "crypto-shredding" in result.detail


@needs_postgres
def test_scrub_is_pending_while_an_old_snapshot_needs_the_deleted_rows(
    store: PostgresStore,
) -> None:
    """An open snapshot older than the delete keeps the row: pending, then done once it ends."""
    store.put("s/sub_a/x", b"secret")
    with psycopg.connect(DSN) as reader:
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        reader.execute(f"SELECT count(*) FROM {TABLE}")
        store.delete("s/sub_a/x")
        pending = store.scrub(attempts=1)
        reader.rollback()
    assert pending.status == "pending"
    assert "open transaction" in pending.detail
    assert store.scrub().done


@needs_postgres
def test_scrub_inside_a_transaction_raises(store: PostgresStore) -> None:
    """VACUUM cannot run in a transaction, so scrub() refuses instead of pretending."""
    with store.transaction(), pytest.raises(RuntimeError, match="inside a transaction"):
        store.scrub()


# -- configuration and errors ---------------------------------------------------------------


def test_unreachable_server_is_a_storage_error_without_the_password() -> None:
    """Connection failure raises StorageError; neither it nor its cause shows the password."""
    with pytest.raises(StorageError) as caught:
        PostgresStore(f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test?connect_timeout=2")
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in str(caught.value.__cause__)


@needs_postgres
def test_missing_database_is_a_storage_error_without_the_password() -> None:
    """A wrong database on a live server raises StorageError that does not show the password."""
    params = conninfo_to_dict(DSN)
    params.update(dbname=f"nope_{uuid.uuid4().hex[:8]}", password=PASSWORD)
    with pytest.raises(StorageError) as caught:
        PostgresStore(make_conninfo(**params))
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in str(caught.value.__cause__)


def test_malformed_dsn_is_a_configuration_error_that_does_not_echo_it() -> None:
    """An unparsable DSN is a ConfigurationError; neither message nor cause echoes it."""
    with pytest.raises(ConfigurationError) as caught:
        PostgresStore(f"host=localhost password={PASSWORD} dbname")
    assert PASSWORD not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_missing_psycopg_is_a_configuration_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without psycopg, construction fails with how to install it."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigurationError, match=r"personakit\[postgres\]"):
        PostgresStore("postgresql://localhost/test")


@pytest.mark.parametrize("table", ["Kv", "kv; DROP TABLE x", "a.b.c", '"kv"', "1kv", ""])
def test_table_names_must_be_plain_identifiers(table: str) -> None:
    """Anything but a lowercase (schema-qualified) identifier is refused before connecting."""
    with pytest.raises(ConfigurationError, match="identifier"):
        PostgresStore("postgresql://localhost/test", table=table)


@pytest.mark.parametrize("dsn", [None, b"host=localhost", 5])
def test_a_dsn_that_is_not_a_str_is_a_configuration_error(dsn: object) -> None:
    """A non-str dsn raises ConfigurationError before connecting (not AttributeError)."""
    with pytest.raises(ConfigurationError):
        PostgresStore(dsn)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", ["5", None, float("inf"), float("nan"), 0, -1, 1e12, True])
def test_a_bad_timeout_is_a_configuration_error(timeout: object) -> None:
    """A timeout that is not a sane number of seconds raises ConfigurationError up front."""
    with pytest.raises(ConfigurationError):
        PostgresStore("postgresql://127.0.0.1:1/none", timeout=timeout)  # type: ignore[arg-type]


def test_importing_the_storage_package_does_not_load_psycopg() -> None:
    """`from personakit.storage import PostgresStore` leaves psycopg unloaded until used."""
    code = (
        "import sys; from personakit.storage import PostgresStore; "
        "assert 'psycopg' not in sys.modules, 'psycopg loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the kit --------------------------------------------------------------------------------


@pytest.fixture
def tenant() -> Iterator[str]:
    """A tenant (so a namespace of the default table) of its own, emptied afterwards."""
    name = _namespace()
    yield name
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("DELETE FROM personakit_kv WHERE namespace = %s", (name,))


@needs_postgres
def test_kit_on_a_postgresql_url_round_trips_and_its_audit_chain_verifies(
    tmp_path: Path, master_key: str, tenant: str
) -> None:
    """A kit on postgresql:// with a disk key store stores, reads back, audits and verifies."""
    canary = "canary.pg.41d2@example.org"
    options = {"keys": LocalKeyProvider(master_key), "key_store": tmp_path / "keys"}
    with Personakit.open(DSN, tenant=tenant, **options) as kit:
        assert isinstance(kit.store, PostgresStore)
        assert isinstance(kit.key_store, DiskStore)
        subject = kit.identity.resolve(f"email:{canary}", create=True)
        with kit.store.transaction():
            kit.vault.put_json(subject, "traits", "main", {"email": canary})
            kit.audit.append("traits.updated", subject=kit.subject_ref(subject))
        assert all(canary.encode() not in value for _, value in kit.store.scan(""))
    with Personakit.open(DSN, tenant=tenant, **options) as kit:
        assert kit.identity.resolve(f"email:{canary}") == subject
        assert kit.vault.get_json(subject, "traits", "main") == {"email": canary}
        report = kit.audit.verify()
        assert report.ok, str(report)
        assert report.entries >= 1


def test_kit_on_a_postgresql_url_needs_an_explicit_key_store(master_key: str) -> None:
    """Without key_store, opening on a database URL is refused: keys never share its database."""
    for url in ("postgresql://localhost/test", "postgres://localhost/test"):
        with pytest.raises(ConfigurationError, match="key_store"):
            Personakit.open(url, keys=LocalKeyProvider(master_key))


# -- locking by subject ---------------------------------------------------------------------


@needs_postgres
def test_writers_of_different_subjects_do_not_wait_for_each_other(store: PostgresStore) -> None:
    """A transaction on subject b commits while one on subject a is still open."""
    other = _open(store.namespace, timeout=2)
    opened = threading.Event()
    finish = threading.Event()

    def hold_subject_a() -> None:
        with store.transaction():
            store.put("s/sub_a/x", b"a")
            opened.set()
            finish.wait(30)

    thread = threading.Thread(target=hold_subject_a)
    thread.start()
    try:
        assert opened.wait(10)
        with other.transaction():
            assert other.get("s/sub_b/x") is None
            other.put("s/sub_b/x", b"b")
        assert other.get("s/sub_b/x") == b"b"
    finally:
        finish.set()
        thread.join()
        other.close()
    assert store.get("s/sub_a/x") == b"a"


def _increment_subject_counter(store: PostgresStore, rounds: int) -> None:
    for _ in range(rounds):
        with store.transaction():
            value = int(store.get("s/sub_c/n") or b"0")
            store.put("s/sub_c/other", b"x")
            store.put("s/sub_c/n", str(value + 1).encode())


@needs_postgres
def test_threads_writing_one_subject_stay_serial(store: PostgresStore) -> None:
    """Four threads read-modify-writing one subject's counter: every increment survives."""
    _run_threads(lambda: _increment_subject_counter(store, 25), count=4)
    assert store.get("s/sub_c/n") == b"100"


@needs_postgres
def test_two_creators_of_one_index_entry_queue_on_it(store: PostgresStore) -> None:
    """Check-and-create of an index entry: of eight racing creators exactly one creates."""
    created: list[str] = []

    def create(name: str) -> None:
        with store.transaction():
            if store.get("i/email/x") is None:
                store.put(f"s/{name}/meta", b"m")
                store.put("i/email/x", name.encode())
                created.append(name)

    names = [f"sub_{n}" for n in range(8)]
    threads = [threading.Thread(target=create, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1
    assert store.get("i/email/x") == created[0].encode()


@needs_postgres
def test_an_eraser_holding_the_subject_owns_its_index_entries(store: PostgresStore) -> None:
    """A reader of an index entry waits for the eraser of its subject, then sees it gone."""
    store.put("i/email/y", b"sub_y")
    store.put("s/sub_y/meta", b"m")
    erasing = threading.Event()
    seen: list[bytes | None] = []

    def erase() -> None:
        with store.transaction():
            store.delete_prefix("s/sub_y/")
            erasing.set()
            time.sleep(0.3)
            store.delete("i/email/y")

    thread = threading.Thread(target=erase)
    thread.start()
    assert erasing.wait(10)
    with store.transaction():
        seen.append(store.get("i/email/y"))
    thread.join()
    assert seen == [None]


# -- layout for scale-out ---------------------------------------------------------------------

_PARTITIONED = """
CREATE TABLE {table} (
    namespace text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    subject text COLLATE "C" NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (namespace, key, subject),
    CHECK (subject = CASE
        WHEN left(key, 2) = 's/' AND strpos(substr(key, 3), '/') > 1
        THEN substr(key, 3, strpos(substr(key, 3), '/') - 1)
        ELSE '' END)
) PARTITION BY HASH (namespace, subject)
"""


@needs_postgres
def test_a_table_hash_partitioned_by_tenant_and_subject_works_unchanged() -> None:
    """The documented partitioned layout is accepted; a subject's rows land in one partition."""
    table = f"personakit_part_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(_PARTITIONED.format(table=table))
        for remainder in range(4):
            conn.execute(
                f"CREATE TABLE {table}_p{remainder} PARTITION OF {table}"
                f" FOR VALUES WITH (MODULUS 4, REMAINDER {remainder})"
            )
    store = PostgresStore(DSN, table=table, namespace="shop")
    try:
        with store.transaction():
            for n in range(20):
                store.put(f"s/sub_{n}/meta", b"m")
                store.put(f"s/sub_{n}/events/1", b"e")
            store.put("a/head", b"h")
        assert store.get("s/sub_3/events/1") == b"e"
        assert [k for k, _ in store.scan("s/sub_3/")] == ["s/sub_3/events/1", "s/sub_3/meta"]
        assert store.delete_prefix("s/sub_3/") == 2
        with psycopg.connect(DSN) as conn:
            placed = conn.execute(
                f"SELECT subject, count(DISTINCT tableoid) FROM {table} GROUP BY subject"
            ).fetchall()
        assert all(partitions == 1 for _, partitions in placed)
        assert len(placed) == 20  # 19 subjects left, and "" for the audit head
    finally:
        store.close()
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {table}")
            conn.execute(
                "DELETE FROM personakit_migrations WHERE table_name = %s", (f"public.{table}",)
            )


@needs_postgres
def test_close_drains_the_pool_leaving_no_session_on_the_server() -> None:
    """After close(), no connection of the store's pool is left open on the server."""
    name = f"pk-drain-{uuid.uuid4().hex[:8]}"
    store = PostgresStore(make_conninfo(DSN, application_name=name), table=TABLE, pool_size=4)
    barrier = threading.Barrier(4)

    def work() -> None:
        with store.transaction():
            barrier.wait(10)  # four transactions at once: the pool grows to four connections
            store.put(f"s/sub_{threading.get_ident()}/x", b"v")

    _run_threads(work, count=4)

    def sessions() -> int:
        with psycopg.connect(DSN) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            ).fetchone()
        assert row is not None
        return int(row[0])

    assert sessions() == 4
    store.close()
    deadline = time.monotonic() + 10
    while sessions() and time.monotonic() < deadline:
        time.sleep(0.05)  # the server notices closed sockets asynchronously
    assert sessions() == 0


@needs_postgres
def test_scrub_of_a_partitioned_table_counts_dead_rows_in_every_partition() -> None:
    """A parent has no rows of its own: scrub() is pending while a partition keeps dead rows."""
    table = f"personakit_part_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(_PARTITIONED.format(table=table))
        for remainder in range(4):
            conn.execute(
                f"CREATE TABLE {table}_p{remainder} PARTITION OF {table}"
                f" FOR VALUES WITH (MODULUS 4, REMAINDER {remainder})"
            )
    store = PostgresStore(DSN, table=table, namespace="shop")
    try:
        store.put("s/sub_a/x", b"secret")
        with psycopg.connect(DSN) as reader:
            reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            reader.execute(f"SELECT count(*) FROM {table}")
            store.delete("s/sub_a/x")
            pending = store.scrub(attempts=1)
            reader.rollback()
        assert pending.status == "pending", pending.detail
        assert "open transaction" in pending.detail
        assert store.scrub().done
    finally:
        store.close()
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {table}")
            conn.execute(
                "DELETE FROM personakit_migrations WHERE table_name = %s", (f"public.{table}",)
            )
