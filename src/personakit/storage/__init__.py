"""Storage backends: a transactional map from str keys to opaque bytes.

personakit encrypts every subject value before it reaches a store; a store only has to be
durable and atomic. :class:`MemoryStore` is for tests, :class:`DiskStore` (diskcache) is the
embedded default, :class:`PostgresStore` is for more than one host, and every backend passes
:class:`personakit.testing.StoreContract`.

:class:`MemoryStore` and :class:`DiskStore` also implement the optional
:class:`ChangeTracking` protocol (bulk ingest keeps identities and verdicts between its
transactions while it proves nothing else wrote); :class:`PostgresStore` does not.

:class:`PostgresStore` imports psycopg only when constructed (the ``postgres`` extra), so
importing this package never loads it.
"""

from personakit.storage._base import ChangeTracking, ScrubResult, Store, change_token
from personakit.storage._disk import DURABLE_SETTINGS, DiskStore
from personakit.storage._memory import MemoryStore
from personakit.storage._postgres import PostgresStore

__all__ = [
    "DURABLE_SETTINGS",
    "ChangeTracking",
    "DiskStore",
    "MemoryStore",
    "PostgresStore",
    "ScrubResult",
    "Store",
    "change_token",
]
