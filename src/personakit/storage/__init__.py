"""Storage backends: a transactional map from str keys to opaque bytes.

personakit encrypts every subject value before it reaches a store; a store only has to be
durable and atomic. :class:`MemoryStore` is for tests, :class:`DiskStore` (diskcache) is the
embedded default, :class:`PostgresStore` is for more than one host, and every backend passes
:class:`personakit.testing.StoreContract`.

:class:`MemoryStore` and :class:`DiskStore` also implement the optional
:class:`ChangeTracking` protocol (bulk ingest keeps identities and verdicts between its
transactions while it proves nothing else wrote); :class:`PostgresStore` does not.
:class:`DiskStore` also implements :class:`BulkWrites` (WAL checkpoints deferred during a
bulk ingest).

:class:`PostgresStore` imports psycopg only when constructed (the ``postgres`` extra), so
importing this package never loads it.
"""

from personakit.storage._base import (
    MAX_KEY_LENGTH,
    BulkWrites,
    ChangeTracking,
    ScrubResult,
    Store,
    bulk_writes,
    change_token,
)
from personakit.storage._disk import BULK_CHECKPOINT_PAGES, DURABLE_SETTINGS, DiskStore
from personakit.storage._memory import MemoryStore
from personakit.storage._postgres import PostgresStore

__all__ = [
    "BULK_CHECKPOINT_PAGES",
    "DURABLE_SETTINGS",
    "MAX_KEY_LENGTH",
    "BulkWrites",
    "ChangeTracking",
    "DiskStore",
    "MemoryStore",
    "PostgresStore",
    "ScrubResult",
    "Store",
    "bulk_writes",
    "change_token",
]
