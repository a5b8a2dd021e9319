"""Master keys: the provider protocol, the local provider, key files and constants."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from personakit.exceptions import (
    ConfigurationError,
    IntegrityError,
)

__all__ = [
    "MASTER_KEY_ENV",
    "MASTER_KEY_FILE_ENV",
    "KeyFilePermissionWarning",
    "KeyProvider",
    "LocalKeyProvider",
    "constant_time_equal",
    "generate_master_key",
    "read_key_file",
]

MASTER_KEY_ENV: Final = "PERSONAKIT_MASTER_KEY"
MASTER_KEY_FILE_ENV: Final = "PERSONAKIT_MASTER_KEY_FILE"

_FORMAT: Final = 1  # the version byte of every sealed record and wrapped key
_NONCE: Final = 12
_KEY_BYTES: Final = 32
_KID_BYTES: Final = 8
# A wrapped key: version byte | key id | nonce | ciphertext + 16-byte tag.
_WRAPPED_NONCE: Final = 1 + _KID_BYTES  # where the nonce starts (the header ends)
_WRAPPED_BODY: Final = _WRAPPED_NONCE + _NONCE  # where the ciphertext starts
_WRAPPED_MIN: Final = _WRAPPED_BODY + 16
_KEY_HELP: Final = (
    "a master key is 32 random bytes, base64url-encoded (43 characters); "
    "generate one with `personakit keygen`"
)


class KeyFilePermissionWarning(UserWarning):
    """A master key file that users other than its owner (group, others) may access.

    The key is still used; make it a refusal with an ``error`` warnings filter
    (``python -W error::personakit.crypto.KeyFilePermissionWarning``).
    """


def generate_master_key() -> str:
    """Return a new random master key, base64url-encoded without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_KEY_BYTES)).rstrip(b"=").decode()


def _decode_master_key(text: str) -> bytes:
    stripped = text.strip()
    try:
        raw = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(f"master key is not base64url: {_KEY_HELP}") from exc
    if len(raw) != _KEY_BYTES:
        raise ConfigurationError(f"master key has {len(raw)} bytes, not 32: {_KEY_HELP}")
    return raw


@runtime_checkable
class KeyProvider(Protocol):
    """**Protocol**: holds the master key(s); wraps and unwraps small secrets (data keys).

    ``wrap`` always uses the active key; ``unwrap`` accepts anything wrapped by the active key or
    by a previous key the provider still knows (that is what makes rotation resumable). A KMS
    provider implements the same four members by calling its KMS; the master key never has to
    leave it. ``context`` is authenticated associated data: unwrapping with another context fails.
    """

    @property
    def key_id(self) -> str:
        """Identifier of the active master key (not secret: a fingerprint)."""
        ...

    def wrap(self, secret: bytes, context: bytes) -> bytes:
        """Encrypt ``secret`` under the active master key, bound to ``context``."""
        ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Decrypt ``wrapped``; raise :class:`IntegrityError` if it does not authenticate."""
        ...

    def wrapped_key_id(self, wrapped: bytes) -> str:
        """Which master key wrapped ``wrapped`` (raise :class:`IntegrityError` if unreadable)."""
        ...


class LocalKeyProvider:
    """A :class:`KeyProvider` holding the master key in process memory (AES-256-GCM key wrap).

    ``previous`` keys are only used to unwrap, during and after a rotation.
    """

    def __init__(self, active: str | bytes, *, previous: Iterable[str | bytes] = ()) -> None:
        """Take the active key and any previous keys, as base64url text or 32 raw bytes."""
        self._active = _as_key(active)
        self._keys: dict[str, AESGCM] = {}
        for raw in (self._active, *(_as_key(k) for k in previous)):
            self._keys[_key_id(raw)] = AESGCM(raw)
        self._by_kid = {bytes.fromhex(kid): aead for kid, aead in self._keys.items()}
        self._active_id = _key_id(self._active)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> LocalKeyProvider:
        """Read ``PERSONAKIT_MASTER_KEY`` (or the file named by ``PERSONAKIT_MASTER_KEY_FILE``).

        ``PERSONAKIT_PREVIOUS_MASTER_KEYS`` (comma-separated) adds keys kept for unwrapping.
        """
        env = os.environ if environ is None else environ
        previous = [k for k in env.get("PERSONAKIT_PREVIOUS_MASTER_KEYS", "").split(",") if k]
        if env.get(MASTER_KEY_ENV):
            return cls(env[MASTER_KEY_ENV], previous=previous)
        if env.get(MASTER_KEY_FILE_ENV):
            return cls.from_file(env[MASTER_KEY_FILE_ENV], previous=previous)
        raise ConfigurationError(
            f"no master key: set {MASTER_KEY_ENV} or {MASTER_KEY_FILE_ENV}, or pass --key-file; "
            + _KEY_HELP
        )

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, previous: Iterable[str | bytes] = ()
    ) -> LocalKeyProvider:
        """Read the key from a file holding its base64url text (surrounding blanks ignored).

        Warns with :class:`KeyFilePermissionWarning` if group or others may access the file.
        """
        return cls(read_key_file(path), previous=previous)

    def __repr__(self) -> str:
        """Show key ids only, never key material."""
        return f"LocalKeyProvider(key_id={self._active_id!r}, known={sorted(self._keys)!r})"

    @property
    def key_id(self) -> str:
        """Fingerprint of the active master key."""
        return self._active_id

    def wrap(self, secret: bytes, context: bytes) -> bytes:
        """Seal ``secret`` with the active key: version | key id | nonce | ciphertext+tag."""
        kid = bytes.fromhex(self._active_id)
        nonce = os.urandom(_NONCE)
        header = bytes([_FORMAT]) + kid
        return header + nonce + self._keys[self._active_id].encrypt(nonce, secret, header + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Open a blob from :meth:`wrap` made by any key this provider knows."""
        if len(wrapped) < _WRAPPED_MIN or wrapped[0] != _FORMAT:
            raise IntegrityError
        # Looked up by the raw key id bytes (no hex round trip: this runs on every cold read).
        kid = wrapped[1:_WRAPPED_NONCE]
        aead = self._by_kid.get(kid if type(kid) is bytes else bytes(kid))  # a bytearray too
        if aead is None:
            raise IntegrityError("wrapped key was made by an unknown master key")
        try:
            return aead.decrypt(
                wrapped[_WRAPPED_NONCE:_WRAPPED_BODY],
                wrapped[_WRAPPED_BODY:],
                wrapped[:_WRAPPED_NONCE] + context,
            )
        except InvalidTag as exc:
            raise IntegrityError from exc

    def wrapped_key_id(self, wrapped: bytes) -> str:
        """The key id in a wrapped blob's header."""
        if len(wrapped) < _WRAPPED_MIN or wrapped[0] != _FORMAT:
            raise IntegrityError
        return wrapped[1 : 1 + _KID_BYTES].hex()


def read_key_file(path: str | os.PathLike[str]) -> str:
    """The text of a master key file; :class:`ConfigurationError` if it cannot be read.

    Warns with :class:`KeyFilePermissionWarning` (POSIX) when its mode gives group or others
    any access: the key opens every subject's data. Neither the path nor the content is ever
    part of a message.
    """
    try:
        with Path(path).open(encoding="ascii") as handle:
            # The mode of the file actually opened, not of whatever the path names later.
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            text = handle.read()
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        # ValueError: a path with NUL; TypeError: not a path at all.
        raise ConfigurationError(f"cannot read key file: {type(exc).__name__}") from exc
    if os.name == "posix" and mode & 0o077:
        warnings.warn(
            f"the master key file has mode {mode:o}: group or others can access it; "
            "restrict it with `chmod 600` (or keep the key in a KMS)",
            KeyFilePermissionWarning,
            stacklevel=2,
        )
    return text


def _as_key(key: str | bytes) -> bytes:
    if isinstance(key, bytes):
        if len(key) != _KEY_BYTES:
            raise ConfigurationError(f"raw master key must be 32 bytes: {_KEY_HELP}")
        return key
    return _decode_master_key(key)


def _key_id(raw: bytes) -> str:
    # A fingerprint through HMAC, so the id reveals nothing about the key.
    return hmac.new(raw, b"personakit key id v1", hashlib.sha256).digest()[:_KID_BYTES].hex()


def constant_time_equal(left: bytes | str, right: bytes | str) -> bool:
    """Compare two secrets in time independent of where they differ."""
    a = left.encode() if isinstance(left, str) else left
    b = right.encode() if isinstance(right, str) else right
    return hmac.compare_digest(a, b)
