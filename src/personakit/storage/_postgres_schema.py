"""The PostgreSQL table behind :class:`~personakit.storage.PostgresStore`, and its SQL.

Creating and verifying the table (its layout is drawn in :mod:`personakit.storage._postgres`),
the ``subject`` column derived from each key (here in Python, in the table's CHECK in SQL), the
advisory lock keys, and every statement the store runs, rendered once for its table.

psycopg is imported inside the functions that need it at run time, never with this module.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from attrs import define

from personakit.exceptions import ConfigurationError, StorageError
from personakit.storage._postgres_migrations import migrate

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

__all__ = [
    "SCAN_PAGE",
    "Statements",
    "check_options",
    "check_text",
    "prepare_table",
    "range_args",
    "render",
    "subject_of",
    "subject_of_prefix",
]

_TABLE_RE: Final = re.compile(r"(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}")
_MAX_NAMESPACE_LENGTH: Final = 255
# PostgreSQL's lock_timeout is an int of milliseconds: about 24 days at most.
_MAX_TIMEOUT_SECONDS: Final = 2_147_483
_MAX_POOL_SIZE: Final = 1000

#: Rows per page of a scan.
SCAN_PAGE: Final = 500
# The vault's layout: a subject's records live under "s/<subject>/" (personakit._vault).
_SUBJECT_PREFIX: Final = "s/"
# One lock for creating any personakit table, so two first openers don't race the DDL.
_DDL_LOCK_KEY: Final = int.from_bytes(
    hashlib.blake2b(b"personakit:ddl", digest_size=8).digest(), "big", signed=True
)

_EXPECTED_COLUMNS: Final = {
    "namespace": ("text", "C", True),
    "key": ("text", "C", True),
    "subject": ("text", "C", True),
    "value": ("bytea", None, True),
}


@define(frozen=True)
class Statements:
    """The store's SQL, rendered once for its table."""

    get: bytes
    get_many: bytes
    put: bytes
    put_locked: bytes
    delete: bytes
    begin: bytes
    lock: bytes
    vacuum: bytes
    dead_tuples: bytes
    # keyed by (first page, has an upper bound, fixes the subject)
    scan: dict[tuple[bool, bool, bool], bytes]
    # keyed by (has an upper bound, fixes the subject)
    delete_range: dict[tuple[bool, bool], bytes]


def check_options(  # noqa: PLR0917 (one private call site, in signature order)
    table: object,
    namespace: object,
    dsn: object,
    timeout: object,
    statement_timeout: object,
    pool_size: object,
) -> None:
    """Refuse a constructor argument with a ConfigurationError saying what a good one is."""
    if type(table) is not str or not _TABLE_RE.fullmatch(table):
        raise ConfigurationError(
            "table must be a lowercase SQL identifier, optionally schema-qualified "
            "(like 'personakit_kv' or 'app.personakit_kv')"
        )
    if (
        type(namespace) is not str
        or not 0 < len(namespace) <= _MAX_NAMESPACE_LENGTH
        or "\x00" in namespace
        or not _is_utf8(namespace)
    ):
        raise ConfigurationError(
            f"namespace must be a non-empty string of at most {_MAX_NAMESPACE_LENGTH} "
            "characters of Unicode text, without NUL"
        )
    if type(dsn) is not str:
        raise ConfigurationError("dsn must be a str: a connection string or postgresql:// URL")
    for name, seconds in (("timeout", timeout), ("statement_timeout", statement_timeout)):
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 < seconds <= _MAX_TIMEOUT_SECONDS
        ):
            raise ConfigurationError(
                f"{name} must be a positive number of seconds, at most {_MAX_TIMEOUT_SECONDS}"
            )
    if type(pool_size) is not int or not 0 < pool_size <= _MAX_POOL_SIZE:
        raise ConfigurationError(f"pool_size must be an int from 1 to {_MAX_POOL_SIZE}")


def check_text(key: str) -> None:
    """Refuse a key a ``text`` column cannot hold (ValueError)."""
    if "\x00" in key:
        msg = "store keys cannot contain NUL on PostgreSQL"
        raise ValueError(msg)


def subject_of(key: str) -> str:
    """The subject a key belongs to: ``x`` for ``s/x/...``, else ``""`` (mirrored in SQL)."""
    if key.startswith(_SUBJECT_PREFIX):
        end = key.find("/", len(_SUBJECT_PREFIX))
        if end > len(_SUBJECT_PREFIX):
            return key[len(_SUBJECT_PREFIX) : end]
    return ""


def subject_of_prefix(prefix: str) -> str | None:
    """The subject of every key starting with ``prefix``, or None when they can differ."""
    if prefix.startswith(_SUBJECT_PREFIX):
        if "/" in prefix[len(_SUBJECT_PREFIX) :]:
            return subject_of(prefix)
        return None  # "s/sub_ab" matches "s/sub_ab/…" and "s/sub_abc/…"
    if _SUBJECT_PREFIX.startswith(prefix):
        return None  # "" and "s" match subject keys and others
    return ""


def range_args(namespace: str, lower: str, upper: str | None, subject: str | None) -> Sequence[str]:
    """The parameters of a ``scan`` or ``delete_range`` statement, in its placeholders' order."""
    args = [namespace, lower]
    if upper is not None:
        args.append(upper)
    if subject is not None:
        args.append(subject)
    return args


def prepare_table(
    conn: psycopg.Connection[tuple[Any, ...]], table: sql.Identifier
) -> tuple[str, tuple[int, int]]:
    """Create the table if missing, verify its layout, apply pending schema migrations.

    Returns its schema-qualified name and its schema version before and after (see
    :mod:`personakit.storage._postgres_migrations`).
    """
    import psycopg  # noqa: PLC0415 (lazy, see PostgresStore.__init__)

    name = table.as_string(conn)
    try:
        row = conn.execute("SELECT current_setting('server_encoding')").fetchone()
        if row is None or row[0] != "UTF8":
            raise StorageError(
                "the database must use the UTF8 encoding (keys are compared as UTF-8)"
            )
        with conn.transaction():
            # One lock for every opener's DDL and migration check, so two first openers (or a
            # migration and an opener) never race; held for a few statements.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_KEY,))
            if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,):
                for statement in _create_table(table):
                    conn.execute(statement)
            _check_layout(conn, name)
            row = conn.execute(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s::regclass",
                (name,),
            ).fetchone()
            assert row is not None
            versions = migrate(conn, str(row[0]))
    except psycopg.Error as exc:
        raise StorageError(f"cannot prepare table: {type(exc).__name__}") from exc
    return str(row[0]), versions


def _check_layout(conn: psycopg.Connection[tuple[Any, ...]], name: str) -> None:
    columns = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), co.collname,"
        " a.attnotnull FROM pg_attribute a"
        " LEFT JOIN pg_collation co ON co.oid = a.attcollation"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (name,),
    ).fetchall()
    found = {column: (kind, collation, notnull) for column, kind, collation, notnull in columns}
    if found != _EXPECTED_COLUMNS:
        raise StorageError(
            "table exists but its layout is not personakit's (columns namespace, key, "
            'subject: text COLLATE "C" NOT NULL; value: bytea NOT NULL)'
        )


def _create_table(table: sql.Identifier) -> list[sql.Composed]:
    from psycopg import sql  # noqa: PLC0415 (lazy, see PostgresStore.__init__)

    return [
        sql.SQL(
            "CREATE TABLE {table} ("
            ' namespace text COLLATE "C" NOT NULL,'
            ' key text COLLATE "C" NOT NULL,'
            ' subject text COLLATE "C" NOT NULL,'
            " value bytea NOT NULL,"
            " PRIMARY KEY (namespace, key, subject),"
            " CHECK (subject = CASE"
            "  WHEN left(key, 2) = 's/' AND strpos(substr(key, 3), '/') > 1"
            "  THEN substr(key, 3, strpos(substr(key, 3), '/') - 1)"
            "  ELSE '' END))"
        ).format(table=table),
        # Values are ciphertext: trying to compress them only burns CPU.
        sql.SQL("ALTER TABLE {table} ALTER COLUMN value SET STORAGE EXTERNAL").format(table=table),
    ]


def render(conn: psycopg.Connection[tuple[Any, ...]], table: sql.Identifier) -> Statements:
    """Every statement of one store, for its ``table``."""
    from psycopg import sql  # noqa: PLC0415 (lazy, see PostgresStore.__init__)

    def render(text: str, **parts: sql.Composable) -> bytes:
        return sql.SQL(text).format(table=table, **parts).as_bytes(conn)

    upsert = sql.SQL("ON CONFLICT (namespace, key, subject) DO UPDATE SET value = EXCLUDED.value")
    scan: dict[tuple[bool, bool, bool], bytes] = {}
    delete_range: dict[tuple[bool, bool], bytes] = {}
    for first, bounded, by_subject in itertools.product((True, False), repeat=3):
        conditions = [sql.SQL("namespace = %s"), sql.SQL("key >= %s" if first else "key > %s")]
        if bounded:
            conditions.append(sql.SQL("key < %s"))
        if by_subject:
            conditions.append(sql.SQL("subject = %s"))
        where = sql.SQL(" AND ").join(conditions)
        scan[first, bounded, by_subject] = render(
            "SELECT key, value FROM {table} WHERE {where} ORDER BY key LIMIT {page}",
            where=where,
            page=sql.Literal(SCAN_PAGE),
        )
        if first:
            delete_range[bounded, by_subject] = render(
                "DELETE FROM {table} WHERE {where}", where=where
            )
    return Statements(
        get=render("SELECT value FROM {table} WHERE namespace = %s AND key = %s AND subject = %s"),
        get_many=render("SELECT key, value FROM {table} WHERE namespace = %s AND key = ANY(%s)"),
        put=render(
            "INSERT INTO {table} (namespace, key, subject, value) VALUES (%s, %s, %s, %s) {upsert}",
            upsert=upsert,
        ),
        put_locked=render(
            "INSERT INTO {table} (namespace, key, subject, value) SELECT %s, %s, %s, %s"
            " FROM (SELECT pg_advisory_xact_lock(%s)) AS advisory {upsert}",
            upsert=upsert,
        ),
        delete=render("DELETE FROM {table} WHERE namespace = %s AND key = %s AND subject = %s"),
        begin=b"BEGIN ISOLATION LEVEL READ COMMITTED",
        # unnest keeps the array's (ascending) order, so locks are taken in that order.
        lock=b"SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k",
        vacuum=render("VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON) {table}"),
        dead_tuples=render(
            # The table and every relation of its partition tree (pg_partition_tree has no
            # row for a plain table): a partitioned parent holds no rows, so its own
            # statistics would always say 0 dead rows.
            "SELECT current_setting('track_counts'), coalesce(sum(s.n_dead_tup), 0)"
            " FROM pg_class c JOIN pg_stat_all_tables s ON s.relid IN (c.oid, c.reltoastrelid)"
            " WHERE c.oid = {name}::regclass"
            " OR c.oid IN (SELECT relid FROM pg_partition_tree({name}::regclass))",
            name=sql.Literal(table.as_string(conn)),
        ),
        scan=scan,
        delete_range=delete_range,
    )


def _is_utf8(text: str) -> bool:
    # A lone surrogate (a non-UTF-8 byte of a command line, decoded by os.fsdecode) has no
    # UTF-8 form: PostgreSQL could not store it, nor could the lock key be derived from it.
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
