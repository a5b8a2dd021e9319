"""The PostgreSQL table behind :class:`~personakit.storage.PostgresStore`, and its SQL.

Creating and verifying the table (its layout is drawn in :mod:`personakit.storage._postgres`),
the ``subject`` column derived from each key (here in Python, in the table's CHECK in SQL), the
advisory lock keys, and every statement the store runs, rendered once for its table.

psycopg is imported inside the functions that need it at run time, never with this module.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from attrs import define

from personakit.exceptions import StorageError

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

__all__ = [
    "SCAN_PAGE",
    "Statements",
    "check_text",
    "lock_key",
    "prepare_table",
    "range_args",
    "render",
    "subject_of",
    "subject_of_prefix",
]

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
    """The store's SQL, rendered once for its table and lock key."""

    get: bytes
    get_many: bytes
    put: bytes
    put_locked: bytes
    delete: bytes
    begin: bytes
    vacuum: bytes
    dead_tuples: bytes
    # keyed by (first page, has an upper bound, fixes the subject)
    scan: dict[tuple[bool, bool, bool], bytes]
    # keyed by (has an upper bound, fixes the subject)
    delete_range: dict[tuple[bool, bool], bytes]


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


def lock_key(table: str, namespace: str) -> int:
    """A stable signed 64-bit advisory lock key for one store (table and namespace)."""
    digest = hashlib.blake2b(
        b"personakit:store\x00" + table.encode() + b"\x00" + namespace.encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def prepare_table(conn: psycopg.Connection[tuple[Any, ...]], table: sql.Identifier) -> str:
    """Create the table if missing, verify its layout; return its schema-qualified name."""
    import psycopg  # noqa: PLC0415 (lazy, see PostgresStore.__init__)

    name = table.as_string(conn)
    try:
        row = conn.execute("SELECT current_setting('server_encoding')").fetchone()
        if row is None or row[0] != "UTF8":
            raise StorageError(
                "the database must use the UTF8 encoding (keys are compared as UTF-8)"
            )
        if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,):
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_KEY,))
                if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,):
                    for statement in _create_table(table):
                        conn.execute(statement)
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
        row = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s::regclass",
            (name,),
        ).fetchone()
    except psycopg.Error as exc:
        raise StorageError(f"cannot prepare table: {type(exc).__name__}") from exc
    assert row is not None
    return str(row[0])


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


def render(
    conn: psycopg.Connection[tuple[Any, ...]], table: sql.Identifier, advisory_key: int
) -> Statements:
    """Every statement of one store, for its ``table`` and the lock key of its namespace."""
    from psycopg import sql  # noqa: PLC0415 (lazy, see PostgresStore.__init__)

    def render(text: str, **parts: sql.Composable) -> bytes:
        return sql.SQL(text).format(table=table, **parts).as_bytes(conn)

    lock = sql.Literal(advisory_key)
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
            " FROM (SELECT pg_advisory_xact_lock({lock})) AS advisory {upsert}",
            lock=lock,
            upsert=upsert,
        ),
        delete=render("DELETE FROM {table} WHERE namespace = %s AND key = %s AND subject = %s"),
        begin=render(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({lock})", lock=lock
        ),
        vacuum=render("VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON) {table}"),
        dead_tuples=render(
            "SELECT current_setting('track_counts'), coalesce(sum(s.n_dead_tup), 0)"
            " FROM pg_class c JOIN pg_stat_all_tables s ON s.relid IN (c.oid, c.reltoastrelid)"
            " WHERE c.oid = {name}::regclass",
            name=sql.Literal(table.as_string(conn)),
        ),
        scan=scan,
        delete_range=delete_range,
    )
