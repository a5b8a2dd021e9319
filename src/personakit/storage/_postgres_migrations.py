"""Versioned, idempotent schema migrations of a PostgresStore's table, recorded in the database.

Each table's applied versions are rows of ``personakit_migrations`` in the table's schema::

    table_name   text         NOT NULL   -- schema-qualified, like 'public.personakit_kv'
    version      integer      NOT NULL
    description  text         NOT NULL
    applied_at   timestamptz  NOT NULL DEFAULT now()
    PRIMARY KEY (table_name, version)

Version 1 is the layout :mod:`personakit.storage._postgres_schema` creates; a table made before
migrations were recorded is that layout too, so opening it records version 1. A later layout
change appends a :class:`Migration` whose statements run, with its record, in one transaction
under the DDL lock: running twice, or from two hosts at once, applies it once. Opening a store
applies what is pending (``personakit store migrate`` does it as an explicit deploy step); a
store whose recorded version is newer than this personakit's is refused, since it would not know
the layout.

psycopg is imported inside the functions that need it at run time, never with this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from attrs import frozen

from personakit.exceptions import ConfigurationError

if TYPE_CHECKING:
    import psycopg

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "migrate"]


@frozen(kw_only=True)
class Migration:
    """One schema version: what it changes, and the SQL (``{table}`` is the data table)."""

    version: int
    description: str
    statements: tuple[str, ...] = ()


#: Every schema version, in order; the last is the version this personakit writes.
MIGRATIONS: Final = (
    Migration(
        version=1,
        description="key-value table keyed by (namespace, key, subject), subject derived",
    ),
)
#: The schema version this personakit reads and writes.
SCHEMA_VERSION: Final = MIGRATIONS[-1].version


def migrate(conn: psycopg.Connection[tuple[Any, ...]], canonical: str) -> tuple[int, int]:
    """Bring table ``canonical`` up to :data:`SCHEMA_VERSION`; return the version before, after.

    Runs inside the caller's transaction, which holds the DDL lock. Raises
    :class:`ConfigurationError` for a version newer than this personakit's.
    """
    from psycopg import sql  # noqa: PLC0415 (lazy, see PostgresStore.__init__)

    schema = canonical.partition(".")[0]
    log = sql.Identifier(schema, "personakit_migrations")
    # Checked first: CREATE … IF NOT EXISTS would still need CREATE on the schema.
    if conn.execute("SELECT to_regclass(%s)", (log.as_string(conn),)).fetchone() == (None,):
        conn.execute(
            sql.SQL(
                "CREATE TABLE {log} (table_name text NOT NULL, version integer NOT NULL,"
                " description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
                " PRIMARY KEY (table_name, version))"
            ).format(log=log)
        )
    row = conn.execute(
        sql.SQL("SELECT max(version) FROM {log} WHERE table_name = %s").format(log=log),
        (canonical,),
    ).fetchone()
    recorded = None if row is None or row[0] is None else int(row[0])
    if recorded is not None and recorded > SCHEMA_VERSION:
        raise ConfigurationError(
            f"the store's schema is version {recorded}, newer than this personakit's "
            f"({SCHEMA_VERSION}): upgrade personakit before opening it"
        )
    before = recorded or 0
    table = sql.Identifier(*canonical.split("."))
    for migration in MIGRATIONS:
        if migration.version <= before:
            continue
        for statement in migration.statements:
            conn.execute(sql.SQL(statement).format(table=table))
        conn.execute(
            sql.SQL(
                "INSERT INTO {log} (table_name, version, description) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING"
            ).format(log=log),
            (canonical, migration.version, migration.description),
        )
    return before, SCHEMA_VERSION
