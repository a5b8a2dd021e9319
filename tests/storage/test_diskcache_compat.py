"""The diskcache internals DiskStore relies on are present in the installed diskcache.

When one of these fails after a diskcache upgrade, read the message: it names the internal.
Adapt ``personakit/storage/_diskcache_compat.py`` (and its ``VERIFIED_VERSIONS``) to the new
release, or pin diskcache below it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import diskcache
import pytest

from personakit.exceptions import ConfigurationError
from personakit.storage import DURABLE_SETTINGS, DiskStore
from personakit.storage import _diskcache_compat as compat

INSTALLED = f"installed diskcache {diskcache.__version__}"


@pytest.fixture
def recheck() -> Iterator[None]:
    """Forget the once-per-process check before and after a test that breaks diskcache."""
    compat.check_installed.cache_clear()
    yield
    compat.check_installed.cache_clear()


def test_installed_diskcache_has_every_internal_the_compat_module_uses() -> None:
    """Constants, private properties, Disk hooks and setting names are all there."""
    problems = compat.installed_problems(DURABLE_SETTINGS)
    assert not problems, f"{INSTALLED} differs from what DiskStore relies on: {problems}"


def test_an_open_store_has_the_cache_table_index_and_settings_the_compat_module_uses(
    tmp_path: Path,
) -> None:
    """The Cache table's columns, its (key, raw) index, _txn_id and the Settings rows."""
    store = DiskStore(tmp_path)
    problems = compat.cache_problems(store._cache, DURABLE_SETTINGS)
    store.close()
    assert not problems, f"{INSTALLED} differs from what DiskStore relies on: {problems}"


def test_cache_table_columns_are_the_ones_the_statements_name(tmp_path: Path) -> None:
    """Read straight from the file diskcache writes, named by diskcache.core.DBNAME."""
    diskcache.Cache(str(tmp_path)).close()
    assert compat.DB_NAME == diskcache.core.DBNAME, f"{INSTALLED}: diskcache.core.DBNAME"
    with closing(sqlite3.connect(tmp_path / compat.DB_NAME)) as con:
        columns = tuple(row[1] for row in con.execute("PRAGMA table_info(Cache)"))
    assert columns == compat.CACHE_COLUMNS, f"{INSTALLED}: Cache table columns {columns}"


def test_raw_mode_is_the_one_diskcache_gives_bytes(tmp_path: Path) -> None:
    """diskcache.core.MODE_RAW is what Disk.store returns for bytes kept inline."""
    disk = diskcache.Disk(str(tmp_path), min_file_size=2**20)
    assert disk.store(b"x", read=False)[1] == compat.MODE_RAW, f"{INSTALLED}: MODE_RAW"


def test_private_members_behave_as_wrapped(tmp_path: Path) -> None:
    """_con is the thread's connection, _sql executes on it, _txn_id marks transact()."""
    cache = diskcache.Cache(str(tmp_path))
    try:
        con = compat.connection(cache)
        assert isinstance(con, sqlite3.Connection), f"{INSTALLED}: Cache._con"
        assert compat.connection(cache) is con, f"{INSTALLED}: Cache._con is not per thread"
        assert compat.execute(cache, "SELECT ?", (7,)).fetchone() == (7,), (
            f"{INSTALLED}: Cache._sql"
        )
        assert not compat.transaction_open(cache), f"{INSTALLED}: Cache._txn_id"
        with cache.transact():
            assert compat.transaction_open(cache), f"{INSTALLED}: Cache._txn_id"
        assert not compat.transaction_open(cache), f"{INSTALLED}: Cache._txn_id"
        assert compat.setting(cache, "eviction_policy") == "least-recently-stored", (
            f"{INSTALLED}: settings as Cache attributes"
        )
    finally:
        cache.close()


def test_a_missing_private_member_fails_the_first_open_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recheck: None
) -> None:
    """Not an AttributeError deep inside a store call: ConfigurationError naming it."""
    monkeypatch.delattr(diskcache.Cache, "_sql")
    with pytest.raises(ConfigurationError, match=r"diskcache\.Cache\._sql") as raised:
        DiskStore(tmp_path)
    assert diskcache.__version__ in str(raised.value)


def test_a_changed_disk_hook_signature_is_named(
    monkeypatch: pytest.MonkeyPatch, recheck: None
) -> None:
    """A Disk hook diskcache calls with other arguments would break _BytesDisk."""

    def fetch(self, mode, filename, value):  # one parameter short
        return value

    monkeypatch.setattr(diskcache.Disk, "fetch", fetch)
    with pytest.raises(ConfigurationError, match=r"diskcache\.Disk\.fetch takes"):
        compat.check_installed(tuple(DURABLE_SETTINGS.items()))


@pytest.mark.parametrize(("name", "other"), [("DBNAME", "other.db"), ("MODE_RAW", 4)])
def test_a_changed_constant_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recheck: None, name: str, other: object
) -> None:
    """DB_NAME and MODE_RAW are written out (diskcache loads on first open), so each is checked."""
    monkeypatch.setattr(diskcache.core, name, other)
    with pytest.raises(ConfigurationError, match=rf"diskcache\.core\.{name} is {other!r}"):
        DiskStore(tmp_path)


def test_a_changed_cache_table_fails_the_open_with_a_clear_error(tmp_path: Path) -> None:
    """A store whose Cache table has another layout is refused at open, naming the table."""
    DiskStore(tmp_path).close()
    with closing(sqlite3.connect(tmp_path / compat.DB_NAME)) as con:
        con.execute("ALTER TABLE Cache ADD COLUMN extra")
        con.commit()
    with pytest.raises(ConfigurationError, match="Cache table has columns"):
        DiskStore(tmp_path)
