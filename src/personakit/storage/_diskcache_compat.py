"""Every diskcache internal :class:`~personakit.storage.DiskStore` relies on, in one place.

DiskStore takes from diskcache what it does well (a per-thread, fork-aware SQLite connection,
settings applied as pragmas, nesting ``BEGIN IMMEDIATE`` transactions) but runs its own SQL on
diskcache's ``Cache`` table instead of ``Cache.get`` / ``Cache.set`` (see DiskStore for why).
That needs names diskcache does not promise to keep: two private properties and one private
attribute of ``Cache``, the database file name, the ``Cache`` and ``Settings`` tables, the row
modes and the ``Disk`` hooks. Each is wrapped here, with why it is needed; DiskStore touches
none of them itself, and this is the only module that imports diskcache.

:func:`check_installed` (once per process, before the first store opens) and
:func:`check_cache` (on every open) verify them, so a diskcache release that changes one makes
``DiskStore(...)`` raise :class:`~personakit.exceptions.ConfigurationError` naming the internal
and the installed version, rather than an AttributeError or a wrong query deep inside a call.
``tests/storage/test_diskcache_compat.py`` runs the same checks in the suite.

diskcache is imported on first use (:func:`load`, called when the first DiskStore opens), not
when personakit is: its package ``__init__`` imports its Django cache backend, and so Django
itself, whenever Django is installed (about 40 ms, and a web framework loaded by a library that
does not use it). ``DB_NAME`` and ``MODE_RAW`` are therefore written out here and checked
against diskcache's own values by :func:`check_installed`.

Verified against diskcache 5.6.0, 5.6.1 and 5.6.3: every release ``pyproject.toml`` allows
(``>=5.6,<6``; there is no 5.6.2) passes tests/storage/test_diskcache_compat.py,
test_disk_hardening.py and test_contract.py.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, Final

from personakit.exceptions import ConfigurationError

__all__ = [
    "CACHE_COLUMNS",
    "DB_NAME",
    "MODE_NAMES",
    "MODE_RAW",
    "SELECT_FOREIGN",
    "SELECT_VALUE",
    "UPSERT",
    "VERIFIED_VERSIONS",
    "cache_problems",
    "check_cache",
    "check_installed",
    "connection",
    "delete_range",
    "execute",
    "installed_problems",
    "key_range",
    "load",
    "read_settings",
    "select_many",
    "select_range",
    "setting",
    "transaction_open",
]

#: diskcache releases whose internals were read and tested against this module.
VERIFIED_VERSIONS: Final = ("5.6.0", "5.6.1", "5.6.3")


@functools.cache
def load() -> Any:
    """The ``diskcache`` package, imported on the first call (the first DiskStore open).

    DiskStore takes ``Cache``, ``Disk`` and ``Timeout`` from it, so that this module stays the
    only one that imports diskcache.
    """
    import diskcache  # noqa: PLC0415 (deferred: its __init__ imports Django when installed)

    return diskcache


#: ``diskcache.core.DBNAME``: the SQLite file inside the directory. DiskStore chmods it, reads
#: its Settings before diskcache may rewrite them, and names its WAL when scrubbing.
DB_NAME: Final = "cache.db"

#: ``diskcache.core.MODE_RAW``: the ``mode`` of a row whose value is stored as-is (bytes
#: inline). DiskStore writes only such rows and refuses any other (a planted pickle).
MODE_RAW: Final = 1

#: diskcache's row modes by number (``diskcache.core.MODE_*``, checked on first use), to name
#: them in reports without importing diskcache.
MODE_NAMES: Final[dict[int, str]] = {0: "none", 1: "raw", 2: "binary", 3: "text", 4: "pickle"}

#: The columns of diskcache's ``Cache`` table, in order: the statements below name them.
CACHE_COLUMNS: Final = (
    "rowid",
    "key",
    "raw",
    "store_time",
    "expire_time",
    "access_time",
    "access_count",
    "tag",
    "size",
    "mode",
    "filename",
    "value",
)

# The ``Disk`` hooks _BytesDisk overrides, with the parameters diskcache calls them with.
_DISK_HOOKS: Final = {
    "put": ("self", "key"),
    "get": ("self", "key", "raw"),
    "store": ("self", "value", "read", "key"),
    "fetch": ("self", "mode", "filename", "value", "read"),
    "remove": ("self", "file_path"),
}

# -- statements on diskcache's Cache table ------------------------------------------------
# They bypass Cache.get / Cache.set, which re-derive the key, read the clock and check expiry
# on every call; DiskStore never sets expiry, tags or side files.

#: One row's ``(mode, filename, value)``.
SELECT_VALUE: Final = "SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1"

#: Insert or replace one raw row, parameters ``(key, store_time, access_time, value)``. Needs
#: the ``Cache_key_raw`` unique index for ``ON CONFLICT``; diskcache's AFTER INSERT / AFTER
#: UPDATE triggers keep its ``count`` and ``size`` settings right.
UPSERT: Final = (
    "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count, tag,"
    " size, mode, filename, value) VALUES (?, 1, ?, NULL, ?, 0, NULL, 0, 1, NULL, ?)"
    " ON CONFLICT(key, raw) DO UPDATE SET store_time = excluded.store_time,"
    " expire_time = NULL, access_time = excluded.access_time, tag = NULL, size = 0, mode = 1,"
    " filename = NULL, value = excluded.value"
)


#: ``(key, raw, mode, filename, typeof(value))`` of every row not in DiskStore's one format (a
#: text key, ``raw = 1``, ``MODE_RAW``, no side file, a BLOB value): rows diskcache itself
#: writes in its pickle, text or file modes, with pickled (BLOB) keys, or planted by hand.
#: ``IS`` rather than ``=`` so that NULLs count as foreign too. No value is selected.
SELECT_FOREIGN: Final = (
    "SELECT key, raw, mode, filename, typeof(value) FROM Cache WHERE NOT ("  # noqa: S608 (a constant)
    f"typeof(key) = 'text' AND raw IS 1 AND mode IS {int(MODE_RAW)} AND filename IS NULL"
    " AND typeof(value) = 'blob')"
)


def select_many(count: int) -> str:
    """``(key, mode, filename, value)`` of the raw rows among ``count`` keys bound to ``?``."""
    marks = ",".join("?" * count)
    return f"SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN ({marks})"  # noqa: S608 (only ? marks)


def key_range(lower: str, upper: str | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause for the text keys from ``lower`` up to ``upper`` (None: no bound).

    ``typeof(key) = 'text'`` keeps planted BLOB keys (diskcache stores pickled keys as BLOBs)
    out of every range.
    """
    if upper is None:
        return "typeof(key) = 'text' AND key >= ?", (lower,)
    return "typeof(key) = 'text' AND key >= ? AND key < ?", (lower, upper)


def select_range(where: str, page: int, *, after: bool) -> str:
    """``(key, raw, mode, filename, value)`` of up to ``page`` rows matching ``where``, by key.

    With ``after``, one more parameter: only keys greater than it (the next page).
    """
    more = " AND key > ?" if after else ""
    return (
        "SELECT key, raw, mode, filename, value FROM Cache"  # noqa: S608 (our own clauses)
        f" WHERE {where}{more} ORDER BY key LIMIT {int(page)}"
    )


def delete_range(where: str) -> str:
    """Delete the rows matching ``where``."""
    return f"DELETE FROM Cache WHERE {where}"  # noqa: S608 (our own clauses)


# -- private members of diskcache.Cache ---------------------------------------------------


def connection(cache: Any) -> sqlite3.Connection:
    """``Cache._con``: the calling thread's SQLite connection (reopened after a fork).

    Needed for what only a connection can do: per-connection pragmas (``wal_autocheckpoint``,
    ``data_version``), ``total_changes`` and ``executemany``.
    """
    con: sqlite3.Connection = cache._con  # noqa: SLF001
    return con


def execute(cache: Any, statement: str, params: Any = ()) -> sqlite3.Cursor:
    """``Cache._sql``: execute one statement on the calling thread's connection."""
    cursor: sqlite3.Cursor = cache._sql(statement, params)  # noqa: SLF001
    return cursor


def transaction_open(cache: Any) -> bool:
    """``Cache._txn_id``: whether any thread is inside ``Cache.transact()`` on this cache.

    Needed because a WAL checkpoint (scrub) cannot truncate under an open transaction.
    """
    return cache._txn_id is not None  # noqa: SLF001


def setting(cache: Any, name: str) -> Any:
    """A setting as diskcache applied it (``Cache.reset`` mirrors each one as an attribute)."""
    return getattr(cache, name)


def read_settings(db: Path) -> dict[str, Any] | None:
    """The ``Settings`` table (``key``, ``value``), read without diskcache opening the store.

    Opening through diskcache would first rewrite the settings, hiding that another opener
    weakened them. None when the table does not exist yet (a crash during the first open).
    """
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)) as con:
        try:
            return dict(con.execute("SELECT key, value FROM Settings").fetchall())
        except sqlite3.OperationalError:
            return None


# -- checks -------------------------------------------------------------------------------


def installed_problems(settings: Mapping[str, object]) -> list[str]:
    """What of the above the installed diskcache lacks, one line per internal (empty: none).

    ``settings`` are the ones DiskStore passes to ``Cache``: each must be one diskcache knows.
    """
    return [*_module_problems(), *_disk_problems(), *_settings_problems(settings)]


def _module_problems() -> list[str]:
    diskcache = load()
    missing = [
        f"diskcache.core.{name} is missing"
        for name in ("DBNAME", "MODE_RAW", "DEFAULT_SETTINGS", "EVICTION_POLICY")
        if not hasattr(diskcache.core, name)
    ]
    changed = [
        f"diskcache.core.{name} is {getattr(diskcache.core, name)!r}, not {ours!r}"
        for name, ours in (
            ("DBNAME", DB_NAME),
            *((f"MODE_{mode.upper()}", number) for number, mode in MODE_NAMES.items()),
        )
        if getattr(diskcache.core, name, ours) != ours
    ]
    not_properties = [
        f"diskcache.Cache.{name} is not a property"
        for name in ("_con", "_sql")
        if not isinstance(inspect.getattr_static(diskcache.Cache, name, None), property)
    ]
    not_callable = [
        f"diskcache.Cache.{name} is not callable"
        for name in ("transact", "delete", "close")
        if not callable(getattr(diskcache.Cache, name, None))
    ]
    return [*missing, *changed, *not_properties, *not_callable]


def _disk_problems() -> list[str]:
    diskcache = load()
    problems = []
    for name, expected in _DISK_HOOKS.items():
        hook = getattr(diskcache.Disk, name, None)
        if not callable(hook):
            problems.append(f"diskcache.Disk.{name} is not callable")
            continue
        found = tuple(inspect.signature(hook).parameters)
        if found != expected:
            problems.append(f"diskcache.Disk.{name} takes {found}, not {expected}")
    return problems


def _settings_problems(settings: Mapping[str, object]) -> list[str]:
    diskcache = load()
    known = getattr(diskcache.core, "DEFAULT_SETTINGS", {})
    problems = [
        f"diskcache.core.DEFAULT_SETTINGS has no setting {name!r}"
        for name in settings
        if not name.startswith("sqlite_") and name not in known
    ]
    policy = settings.get("eviction_policy")
    if policy is not None and policy not in getattr(diskcache.core, "EVICTION_POLICY", {}):
        problems.append(f"diskcache.core.EVICTION_POLICY has no policy {policy!r}")
    return problems


def cache_problems(cache: Any, settings: Mapping[str, object]) -> list[str]:
    """What an open ``Cache`` lacks of the above, one line per internal (empty: none)."""
    problems = []
    if "_txn_id" not in vars(cache):
        problems.append("diskcache.Cache._txn_id is missing")
    con: object = connection(cache)
    if not isinstance(con, sqlite3.Connection):
        return [*problems, "diskcache.Cache._con is not a sqlite3.Connection"]
    columns = tuple(row[1] for row in con.execute("PRAGMA table_info(Cache)"))
    if columns != CACHE_COLUMNS:
        problems.append(f"diskcache's Cache table has columns {columns}, not {CACHE_COLUMNS}")
    unique = [row[1] for row in con.execute("PRAGMA index_list(Cache)") if row[2]]
    if not any(
        [row[2] for row in con.execute(f"PRAGMA index_info({name!r})")] == ["key", "raw"]
        for name in unique
    ):
        problems.append("diskcache's Cache table has no unique index on (key, raw)")
    stored = {row[0] for row in con.execute("SELECT key FROM Settings")}
    for name in settings:
        if name not in stored:
            problems.append(f"diskcache's Settings table has no row {name!r}")
        if not hasattr(cache, name):
            problems.append(f"diskcache.Cache.{name} (the applied setting) is missing")
    return problems


@functools.cache
def check_installed(settings: tuple[tuple[str, object], ...]) -> None:
    """Raise ConfigurationError if the installed diskcache lacks an internal (checked once)."""
    _raise_if(installed_problems(dict(settings)))


def check_cache(cache: Any, settings: Mapping[str, object]) -> None:
    """Raise ConfigurationError if an open ``Cache`` lacks an internal."""
    _raise_if(cache_problems(cache, settings))


def _raise_if(problems: list[str]) -> None:
    if problems:
        version = getattr(load(), "__version__", "of unknown version")
        raise ConfigurationError(
            f"the installed diskcache {version} is not one DiskStore can run on: "
            + "; ".join(problems)
            + f" (verified against diskcache {', '.join(VERIFIED_VERSIONS)})"
        )
