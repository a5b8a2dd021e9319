"""Keys and encryption: per-subject data keys wrapped by a master key, AES-256-GCM everywhere.

The key hierarchy::

    master key (KeyProvider: env var, key file, or a KMS you plug in)
      ├── wraps one data key per subject          k/s/<subject>  in the *key store*
      └── wraps the index root key                k/meta         in the *key store*
            └── HKDF → blind-index keys (one per identifier kind), MAC keys (tombstones,
                 audit checkpoints)

Every subject record is sealed with its subject's data key; the associated data binds the
format version, tenant, subject, record kind and record name, so a ciphertext moved to another
subject, kind or record fails to open. Deleting a subject's data key (crypto-shredding) makes
every copy of its records unreadable, including copies in old backups of the data store.

The key store is a separate :class:`~personakit.storage.Store` from the data store, so a backup
of the data alone holds no keys. Nothing here is home-made: AES-GCM, HKDF and HMAC come from
``cryptography``; secrets are compared with :func:`hmac.compare_digest`.
"""

from personakit.crypto._keyring import DEFAULT_KEY_CACHE, Keyring, RotationReport
from personakit.crypto._providers import (
    MASTER_KEY_ENV,
    MASTER_KEY_FILE_ENV,
    KeyFilePermissionWarning,
    KeyProvider,
    LocalKeyProvider,
    constant_time_equal,
    generate_master_key,
    read_key_file,
)

__all__ = [
    "DEFAULT_KEY_CACHE",
    "MASTER_KEY_ENV",
    "MASTER_KEY_FILE_ENV",
    "KeyFilePermissionWarning",
    "KeyProvider",
    "Keyring",
    "LocalKeyProvider",
    "RotationReport",
    "constant_time_equal",
    "generate_master_key",
    "read_key_file",
]
