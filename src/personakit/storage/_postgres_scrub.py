"""PostgresStore.scrub: VACUUM the table, then check that no deleted row version is left.

A deleted row stays in the table file as a dead tuple until VACUUM. :meth:`PostgresStore.scrub`
runs ``VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON)`` on the table (and so its TOAST table and index),
then asks the statistics whether any dead row versions remain (an open snapshot, a prepared
transaction or a replication slot can keep them), in every partition of a partitioned table
(``pg_partition_tree``). The check covers the whole table, so other
namespaces' fresh deletes can make it ``pending`` for a moment. Beyond VACUUM's reach are free
space inside pages (PostgreSQL does not zero it), WAL segments, replicas and backups: there,
erased values stay unreadable because erasure shreds their subject's key (crypto-shredding),
which lives in a separate key store.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from personakit.exceptions import StorageError
from personakit.storage._base import ScrubResult

if TYPE_CHECKING:
    import psycopg
    from psycopg import errors

    from personakit.storage._postgres_schema import Statements

__all__ = ["scrub_table"]

_LOCK_NOT_AVAILABLE: Final = "55P03"
_QUERY_CANCELED: Final = "57014"

_SCRUB_DONE: Final = (
    "VACUUM removed deleted row versions from the table, its TOAST table and index; free space "
    "inside pages is not zeroed, and WAL segments, replicas and backups are beyond its reach: "
    "erased values there stay unreadable because erasure shreds their keys (crypto-shredding)"
)


def scrub_table(
    conn: psycopg.Connection[tuple[Any, ...]],
    sql: Statements,
    error: type[psycopg.Error],
    attempts: int,
    wait: float,
) -> ScrubResult:
    """VACUUM the table and check that no dead row version is left: see PostgresStore.scrub."""
    warnings: list[str] = []

    def on_notice(diagnostic: errors.Diagnostic) -> None:
        if diagnostic.severity_nonlocalized == "WARNING":
            warnings.append(diagnostic.sqlstate or "")

    conn.add_notice_handler(on_notice)
    reason = "no attempt was made"
    try:
        for attempt in range(attempts):
            if attempt:
                time.sleep(wait)
            warnings.clear()
            outcome = _vacuum_once(conn, sql, error, warnings)
            if isinstance(outcome, ScrubResult):
                return outcome
            reason = outcome
    finally:
        conn.remove_notice_handler(on_notice)
    return ScrubResult(status="pending", detail=reason)


def _vacuum_once(
    conn: psycopg.Connection[tuple[Any, ...]],
    sql: Statements,
    error: type[psycopg.Error],
    warnings: list[str],
) -> ScrubResult | str:
    """One VACUUM and check: a final result, or why a retry may succeed."""
    try:
        conn.execute(sql.vacuum)
    except error as exc:
        if exc.sqlstate == _QUERY_CANCELED:
            return "VACUUM was cancelled (statement_timeout?); retry"
        raise StorageError(f"scrub failed: {type(exc).__name__}") from exc
    if _LOCK_NOT_AVAILABLE in warnings:
        return "the table is locked by autovacuum, a VACUUM or a schema change; retry"
    if warnings:
        return ScrubResult(
            status="pending",
            detail="VACUUM skipped the table: only its owner (or a superuser) can vacuum it",
        )
    try:
        row = conn.execute(sql.dead_tuples).fetchone()
    except error as exc:
        raise StorageError(f"scrub failed: {type(exc).__name__}") from exc
    assert row is not None
    if row[0] != "on":
        return ScrubResult(
            status="pending",
            detail="track_counts is off, so whether VACUUM removed every deleted row "
            "version cannot be checked",
        )
    dead = int(row[1])
    if dead:
        return (
            f"{dead} deleted row version(s) are still needed by an open transaction, a "
            "prepared transaction or a replication slot; retry once it ends"
        )
    return ScrubResult(status="done", detail=_SCRUB_DONE)
