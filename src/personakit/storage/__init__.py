"""Storage backends: a transactional map from str keys to opaque bytes.

personakit encrypts every subject value before it reaches a store; a store only has to be
durable and atomic. :class:`MemoryStore` is for tests, :class:`DiskStore` (diskcache) is the
embedded default, :class:`PostgresStore` is for more than one host, and every backend passes
:class:`personakit.testing.StoreContract`.

:class:`PostgresStore` imports psycopg only when constructed (the ``postgres`` extra), so
importing this package never loads it.
"""

from personakit.storage._base import ScrubResult, Store
from personakit.storage._disk import DURABLE_SETTINGS, DiskStore
from personakit.storage._memory import MemoryStore
from personakit.storage._postgres import PostgresStore

__all__ = ["DURABLE_SETTINGS", "DiskStore", "MemoryStore", "PostgresStore", "ScrubResult", "Store"]
