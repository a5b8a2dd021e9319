"""Which advisory locks a :class:`~personakit.storage.PostgresStore` transaction takes.

A transaction locks what it touches, on first touch, until COMMIT or ROLLBACK
(``pg_advisory_xact_lock``), so writers of different subjects never wait for each other while
every read-modify-write of one subject, or of one global key, stays serial. A key's lock
*domain* is:

* ``s/<subject>/…``: the subject. Its events, consent ledger and state, traits, identity
  records and meta record share one lock, so "check the subject, then write it" is serial.
* ``a/head`` and ``a/e/…``: audit chain 0, one lock; ``a/c/<chain>/…``: audit chain
  ``<chain>``, one lock each (:mod:`personakit.audit._chains`), so audited writes that land in
  different chains append in parallel. Appends come last in the transactions that make them,
  so a chain's head is held only from the append to COMMIT.
* ``i/…`` (identity index): the subject the entry points to, or, while it points nowhere, the
  entry itself. An erasure holding its subject therefore owns the subject's index entries, and
  two creators of one identifier queue on the absent entry (see
  :meth:`~personakit.storage.PostgresStore.get`).
* any other key: the key itself (the erasure log, request pointers, ingest checkpoints).

Locks are 64-bit keys hashed from the table, the namespace and the domain, so stores sharing a
table never block each other. Several domains needed at once are locked in ascending key order.
"""

from __future__ import annotations

import hashlib
from typing import Final

from personakit.storage._postgres_schema import subject_of, subject_of_prefix

__all__ = ["INDEX_PREFIX", "LockIds", "domain_of", "domain_of_prefix", "index_domain"]

#: Keys whose value names the subject they belong to (personakit.profiles' identity index).
INDEX_PREFIX: Final = "i/"
_AUDIT_HEAD: Final = "a/head"
_AUDIT_ENTRIES: Final = "a/e/"
_AUDIT: Final = "audit"
_AUDIT_CHAINS: Final = "a/c/"


def domain_of(key: str) -> str:
    """The lock domain of a key that is not an index entry."""
    subject = subject_of(key)
    if subject:
        return "s\x00" + subject
    if key == _AUDIT_HEAD or key.startswith(_AUDIT_ENTRIES):
        return _AUDIT
    chain = _audit_chain(key)
    if chain is not None:
        return chain
    return "k\x00" + key


def index_domain(key: str, value: bytes | None) -> str:
    """The lock domain of index entry ``key`` while it holds ``value`` (None: absent)."""
    if value is None:
        return "k\x00" + key
    # Index values are ASCII pseudonyms; surrogateescape maps any other bytes to a stable
    # domain of their own (and a UTF-8 subject to exactly its subject's domain).
    return "s\x00" + value.decode("utf-8", errors="surrogateescape")


def domain_of_prefix(prefix: str) -> str | None:
    """The one domain every key under ``prefix`` shares, or None when they can differ."""
    subject = subject_of_prefix(prefix)
    if subject:
        return "s\x00" + subject
    if prefix.startswith(_AUDIT_ENTRIES):
        return _AUDIT
    return _audit_chain(prefix)


def _audit_chain(key: str) -> str | None:
    """The domain of audit chain ``<chain>`` for keys (or prefixes) ``a/c/<chain>/…``."""
    if key.startswith(_AUDIT_CHAINS):
        chain, sep, _ = key[len(_AUDIT_CHAINS) :].partition("/")
        if sep and chain:
            return _AUDIT + "\x00" + chain
    return None


class LockIds:
    """Advisory lock keys of one store (a table and a namespace)."""

    def __init__(self, table: str, namespace: str) -> None:
        """Bind to the store's schema-qualified table and namespace."""
        self._base = (
            b"personakit:lock\x00" + table.encode() + b"\x00" + namespace.encode() + b"\x00"
        )

    def __call__(self, domain: str) -> int:
        """The signed 64-bit advisory lock key of ``domain``."""
        digest = hashlib.blake2b(
            self._base + domain.encode("utf-8", errors="surrogatepass"), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big", signed=True)
