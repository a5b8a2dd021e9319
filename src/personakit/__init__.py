"""personakit: privacy-first embedded personalization with consent management.

Start with :meth:`Personakit.open`. Heavy dependencies (OpenDP, web frameworks) are imported
only by the components that need them, so ``import personakit`` stays fast.
"""

from personakit._clock import Clock, FixedClock, SystemClock
from personakit._kit import Personakit
from personakit.crypto import KeyProvider, LocalKeyProvider, generate_master_key
from personakit.exceptions import (
    AuditChainBroken,
    BudgetExceeded,
    ConfigurationError,
    ConsentRequired,
    ErasureIncomplete,
    IntegrityError,
    InvalidInput,
    InvalidManifest,
    InvalidTransition,
    MasterKeyMismatch,
    PersonakitError,
    Problem,
    StorageConflict,
    StorageError,
    SubjectNotFound,
    UsageError,
)

# The one place the version is written: pyproject.toml reads it from here (a test checks that
# the installed metadata agrees).
__version__ = "0.1.0.dev0"

__all__ = [
    "AuditChainBroken",
    "BudgetExceeded",
    "Clock",
    "ConfigurationError",
    "ConsentRequired",
    "ErasureIncomplete",
    "FixedClock",
    "IntegrityError",
    "InvalidInput",
    "InvalidManifest",
    "InvalidTransition",
    "KeyProvider",
    "LocalKeyProvider",
    "MasterKeyMismatch",
    "Personakit",
    "PersonakitError",
    "Problem",
    "StorageConflict",
    "StorageError",
    "SubjectNotFound",
    "SystemClock",
    "UsageError",
    "generate_master_key",
]
