"""The keyring: per-subject data keys, sealing, blind indexes, MACs and rotation."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Collection
from typing import Any, Final

from attrs import frozen
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from personakit._codec import canonical_json, loads
from personakit.crypto._providers import (
    _FORMAT,
    _KEY_BYTES,
    _NONCE,
    KeyProvider,
)
from personakit.exceptions import (
    ConfigurationError,
    IntegrityError,
    InvalidInput,
    MasterKeyMismatch,
    Problem,
    SubjectNotFound,
)
from personakit.storage import Store

__all__ = ["DEFAULT_KEY_CACHE", "Keyring", "RotationReport"]

_CHECK_PLAINTEXT: Final = b"personakit keyring check v1"
_MAX_SUBJECT: Final = 200  # characters of a subject in a key-store key (keys stay short)
_META_KEY: Final = "k/meta"
_ROTATION_KEY: Final = "k/rotation"
_SUBJECT_KEY_PREFIX: Final = "k/s/"
#: Unwrapped data keys kept per process by default. An entry is the subject's pseudonym and an
#: ``AESGCM`` object holding the 32-byte key: about 300 bytes, so the default costs ~5 MB.
DEFAULT_KEY_CACHE: Final = 16_384
_HEADER: Final = bytes([_FORMAT])  # a sealed record's first byte
_BODY: Final = 1 + _NONCE  # where a sealed record's ciphertext starts
_MIN_SEALED: Final = _BODY + 16  # header, nonce and the GCM tag


@frozen(kw_only=True)
class RotationReport:
    """What :meth:`Keyring.rotate` did: keys re-wrapped now, keys already on the new master key."""

    key_id: str
    rewrapped: int
    already_current: int


class Keyring:
    """Per-subject data keys in a key store, and the derived keys for blind indexes and MACs.

    Unwrapped data keys are cached in memory because unwrapping on every read would double the
    cost of a read: a least-recently-used cache of ``cache_size`` keys (about 300 bytes each), so
    a shop's active customers stay warm while a scan over all of them cannot grow memory. A hit
    touches no store. :meth:`shred` drops the cache entry in this process; other processes keep
    at most a key for a subject whose records are gone (erasure deletes them).
    """

    def __init__(
        self,
        store: Store,
        provider: KeyProvider,
        *,
        tenant: str = "default",
        cache_size: int = DEFAULT_KEY_CACHE,
    ) -> None:
        """Open the keyring in ``store``, creating its root material on first use.

        ``cache_size`` is how many unwrapped data keys to keep (at least 1). Raises
        :class:`MasterKeyMismatch` if ``provider`` cannot open this keyring.
        """
        if not _valid_tenant(tenant):
            raise ConfigurationError(
                "tenant must be a non-empty string of Unicode text with no '/' or '|'"
            )
        if type(cache_size) is not int or cache_size < 1:
            raise ConfigurationError("key cache size must be an int >= 1")
        self.store = store
        self.provider = provider
        self.tenant = tenant
        self._context_prefix = f"personakit|v{_FORMAT}|{tenant}|".encode()
        # What every record's associated data starts with: its version byte and the context
        # up to the subject (see seal), built once rather than on every read.
        self._record_aad = bytes([_FORMAT]) + self._context("record", "")
        self._cache: OrderedDict[str, AESGCM] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._derived: dict[str, bytes] = {}
        # HMAC states keyed once per derived key: copying one is about twice as fast as keying
        # a new HMAC, on paths that MAC every request (subject cookies, blind indexes).
        self._keyed: dict[str, Any] = {}
        self._index_root = self._load_or_create_meta()

    def __repr__(self) -> str:
        """Render with tenant and active key id."""
        return f"Keyring(tenant={self.tenant!r}, key_id={self.provider.key_id!r})"

    # -- root material ----------------------------------------------------------------------

    def _context(self, *parts: str) -> bytes:
        return self._context_prefix + "|".join(parts).encode()

    def _load_or_create_meta(self) -> bytes:
        with self.store.transaction():
            raw = self.store.get(_META_KEY)
            if raw is None:
                index_root = secrets.token_bytes(_KEY_BYTES)
                self._write_meta(index_root)
                return index_root
        meta = _decode_meta(raw)
        try:
            check = self.provider.unwrap(meta["check"], self._context("check"))
            index_root = self.provider.unwrap(meta["index_root"], self._context("index-root"))
        except IntegrityError as exc:
            raise MasterKeyMismatch(self._mismatch_reason(meta, raw)) from exc
        if not hmac.compare_digest(check, _CHECK_PLAINTEXT):
            raise MasterKeyMismatch("keyring check value does not match")
        return index_root

    def _mismatch_reason(self, meta: dict[str, bytes], raw: bytes) -> str:
        try:
            made_with = self.provider.wrapped_key_id(meta["check"])
        except IntegrityError:
            made_with = "unknown"
        if made_with != self.provider.key_id:
            return (
                "the master key does not open this keyring (it was made with key id "
                f"{made_with}; this provider's active key id is {self.provider.key_id})"
            )
        # The right key, yet the check value does not authenticate: the associated data
        # differs, and the tenant is the part of it a caller chooses. The tenant recorded in
        # k/meta is not authenticated, so it only tells which of the two causes is likely;
        # neither tenant is named (the caller knows the one it passed).
        recorded = _recorded_tenant(raw)
        if recorded is not None and recorded != self.tenant:
            return (
                f"the master key (key id {made_with}) is this keyring's, but the keyring was "
                "made for another tenant: open it with the tenant it was made for"
            )
        return (
            f"the master key (key id {made_with}) is this keyring's, but its check value does "
            "not authenticate: the tenant may differ from the one the keyring was made for, "
            "or the key store's k/meta was altered"
        )

    def _write_meta(self, index_root: bytes) -> None:
        meta = {
            "v": _FORMAT,
            "tenant": self.tenant,
            "check": _b64(self.provider.wrap(_CHECK_PLAINTEXT, self._context("check"))),
            "index_root": _b64(self.provider.wrap(index_root, self._context("index-root"))),
        }
        self.store.put(_META_KEY, canonical_json(meta))

    def derive(self, label: str) -> bytes:
        """A 32-byte key for ``label``, derived from the index root key with HKDF-SHA256.

        Stable across master-key rotations (the index root is re-wrapped, not replaced), so
        blind indexes and tombstones stay valid.
        """
        with self._lock:
            key = self._derived.get(label)
            if key is None:
                key = HKDF(
                    algorithm=hashes.SHA256(),
                    length=_KEY_BYTES,
                    salt=None,
                    info=self._context("derive", label),
                ).derive(self._index_root)
                self._derived[label] = key
            return key

    def blind_index(self, kind: str, value: str) -> str:
        """Keyed HMAC of an identifier: equal inputs give equal indexes, nothing else leaks.

        The caller normalizes ``value`` first (lower-cased e-mail, E.164 phone, …). Returns 40
        lowercase hex characters (160 bits).
        """
        return self._hmac(f"blind-index/{kind}", value.encode("utf-8"))[:20].hex()

    def mac(self, label: str, data: bytes) -> bytes:
        """HMAC-SHA256 of ``data`` under the key derived for ``label``."""
        return self._hmac(f"mac/{label}", data)

    def _hmac(self, derived: str, data: bytes) -> bytes:
        keyed = self._keyed.get(derived)
        if keyed is None:
            # Two threads may both key it: the same state, and the dict store is atomic.
            keyed = self._keyed[derived] = hmac.new(self.derive(derived), digestmod=hashlib.sha256)
        state = keyed.copy()  # the shared state is never updated, only copied
        state.update(data)
        return state.digest()

    def verify_mac(self, label: str, data: bytes, tag: bytes) -> bool:
        """Constant-time check of a tag made by :meth:`mac`."""
        return hmac.compare_digest(self.mac(label, data), tag)

    def subject_ref(self, subject: str) -> str:
        """An opaque, keyed reference to a subject for audit entries and erasure tombstones.

        It stays meaningless once the subject is erased: without the keyring nobody can tell
        which subject it was, and with it only someone who already knows the pseudonym can.
        """
        if not isinstance(subject, str):
            raise InvalidInput("invalid subject", [Problem(where="subject", what="must be a str")])
        # surrogatepass: identical bytes for every valid str, and no UnicodeEncodeError for one
        # with a lone surrogate (which no subject has, so its reference matches nothing).
        return self.mac("subject-ref", subject.encode("utf-8", "surrogatepass")).hex()[:32]

    # -- subject data keys ------------------------------------------------------------------

    def has_subject_key(self, subject: str) -> bool:
        """Whether ``subject`` has a data key (False once shredded)."""
        return self.store.get(_SUBJECT_KEY_PREFIX + subject) is not None

    def create_subject_key(self, subject: str) -> None:
        """Give ``subject`` a data key if it has none (atomic across processes)."""
        self._aead(subject, create=True)

    def _aead(self, subject: str, *, create: bool) -> AESGCM:
        aead = self._cached(subject)
        if aead is not None:
            return aead
        key = _SUBJECT_KEY_PREFIX + subject
        if create:
            # Check-and-create in one transaction: two processes creating the same subject's key
            # at once must end up with one key, or records sealed with the loser are lost.
            with self.store.transaction():
                wrapped = self.store.get(key)
                if wrapped is None:
                    wrapped = self._new_wrapped(subject)
                    self.store.put(key, wrapped)
        else:
            wrapped = self.store.get(key)
            if wrapped is None:
                raise SubjectNotFound("subject key")
        return self._remember(subject, wrapped)

    def _cached(self, subject: str) -> AESGCM | None:
        # No lock on a hit: get and move_to_end are each one C call on the OrderedDict, atomic
        # under the GIL. Another thread may evict the entry between them (KeyError): it is
        # still a hit, the key is simply no longer the most recent.
        cache = self._cache
        aead = cache.get(subject)
        if aead is not None:
            try:  # noqa: SIM105 (contextlib.suppress costs a context manager per read)
                cache.move_to_end(subject)
            except KeyError:
                pass
        return aead

    def _new_wrapped(self, subject: str) -> bytes:
        return self.provider.wrap(secrets.token_bytes(_KEY_BYTES), self._context("dek", subject))

    def _remember(self, subject: str, wrapped: bytes) -> AESGCM:
        context = self._context_prefix + b"dek|" + subject.encode()  # _context("dek", subject)
        aead = AESGCM(self.provider.unwrap(wrapped, context))
        with self._lock:
            cache = self._cache
            cache[subject] = aead
            cache.move_to_end(subject)
            while len(cache) > self._cache_size:
                cache.popitem(last=False)
        return aead

    def load_keys(self, subjects: Collection[str], *, create: bool = False) -> None:
        """Warm the cache with the data keys of ``subjects``: one key-store read for all misses.

        With ``create``, subjects without a key get one, all in one key-store transaction (the
        same check-and-create as :meth:`seal`, so concurrent first writes agree on one key).
        Without it, subjects without a key are skipped (:meth:`open` raises for them later).
        Keys already cached cost nothing: no store is touched when every key is a hit. Raises
        :class:`InvalidInput` if a subject is not a short non-empty string.
        """
        if isinstance(subjects, (str, bytes)) or any(
            type(s) is not str or not 0 < len(s) <= _MAX_SUBJECT for s in subjects
        ):
            raise InvalidInput(
                "invalid subjects",
                [Problem(where="subjects", what=f"a collection of 1 to {_MAX_SUBJECT} char str")],
            )
        with self._lock:
            missing = [s for s in dict.fromkeys(subjects) if s not in self._cache]
        if not missing:
            return
        keys = [_SUBJECT_KEY_PREFIX + s for s in missing]
        found = self.store.get_many(keys)
        absent = [key for key in keys if key not in found] if create else []
        if absent:
            with self.store.transaction():
                # Re-read under the write lock: another process may have created some meanwhile.
                found.update(self.store.get_many(absent))
                made = [
                    (key, self._new_wrapped(key[len(_SUBJECT_KEY_PREFIX) :]))
                    for key in absent
                    if key not in found
                ]
                self.store.put_many(made)
                found.update(made)
        # More keys than the cache holds: keep the last ones (the batch's first keys would be
        # evicted by its last ones anyway).
        for key in keys[-self._cache_size :]:
            wrapped = found.get(key)
            if wrapped is not None:
                self._remember(key[len(_SUBJECT_KEY_PREFIX) :], wrapped)

    def seal(self, subject: str, kind: str, name: str, plaintext: bytes) -> bytes:
        """Encrypt a record of ``subject``: version | nonce | ciphertext+tag.

        Creates the subject's data key on first use.
        """
        aead = self._aead(subject, create=True)
        nonce = os.urandom(_NONCE)
        return _HEADER + nonce + aead.encrypt(nonce, plaintext, self._aad(subject, kind, name))

    def _aad(self, subject: str, kind: str, name: str) -> bytes:
        # header + context("record", subject, kind, name), with the constant part prebuilt.
        return self._record_aad + f"{subject}|{kind}|{name}".encode()

    def open(self, subject: str, kind: str, name: str, sealed: bytes) -> bytes:
        """Decrypt a record sealed by :meth:`seal` for the same subject, kind and name.

        Raises :class:`IntegrityError` for any tampering (bit flips, swapped records, another
        subject's record) and :class:`SubjectNotFound` if the subject's key was shredded.
        """
        if len(sealed) < _MIN_SEALED or sealed[0] != _FORMAT:
            raise IntegrityError
        aead = self._cache.get(subject)  # _cached() inlined: this is every read's path
        if aead is None:
            wrapped = self.store.get(_SUBJECT_KEY_PREFIX + subject)
            if wrapped is None:
                raise SubjectNotFound("subject key")
            aead = self._remember(subject, wrapped)
        else:
            try:  # noqa: SIM105 (as in _cached)
                self._cache.move_to_end(subject)
            except KeyError:
                pass
        try:
            return aead.decrypt(sealed[1:_BODY], sealed[_BODY:], self._aad(subject, kind, name))
        except InvalidTag as exc:
            raise IntegrityError from exc

    def shred(self, subject: str) -> bool:
        """Delete ``subject``'s data key (crypto-shredding); return whether it existed."""
        with self._lock:
            self._cache.pop(subject, None)
        return self.store.delete(_SUBJECT_KEY_PREFIX + subject)

    def forget_cached(self, subject: str | None = None) -> None:
        """Drop cached data keys (one subject, or all) so the next use reads the key store."""
        with self._lock:
            if subject is None:
                self._cache.clear()
            else:
                self._cache.pop(subject, None)

    # -- rotation ---------------------------------------------------------------------------

    def rotate(self) -> RotationReport:
        """Re-wrap every data key and the root material under the provider's *active* key.

        Give the provider the new key as active and the old one as previous. Safe to interrupt:
        each key is re-wrapped in its own write, keys already on the new master key are
        skipped, and running it again finishes the job. The check value is re-wrapped last, so
        until a rotation completes the keyring still opens with the old key as active as well.
        """
        active = self.provider.key_id
        self.store.put(_ROTATION_KEY, canonical_json({"to": active}))
        rewrapped = current = 0
        for key, wrapped in self.store.scan(_SUBJECT_KEY_PREFIX):
            subject = key[len(_SUBJECT_KEY_PREFIX) :]
            if self.provider.wrapped_key_id(wrapped) == active:
                current += 1
                continue
            context = self._context("dek", subject)
            with self.store.transaction():
                # Re-read inside the transaction: a concurrent shred must not be undone.
                if self.store.get(key) != wrapped:
                    continue
                self.store.put(
                    key, self.provider.wrap(self.provider.unwrap(wrapped, context), context)
                )
            rewrapped += 1
        with self.store.transaction():
            self._write_meta(self._index_root)
            self.store.delete(_ROTATION_KEY)
        return RotationReport(key_id=active, rewrapped=rewrapped, already_current=current)

    def rotation_pending(self) -> str | None:
        """The key id an interrupted rotation was heading to, or None."""
        raw = self.store.get(_ROTATION_KEY)
        if raw is None:
            return None
        target = loads(raw).get("to")
        return target if isinstance(target, str) else None

    def subject_count(self) -> int:
        """How many subjects have a data key (for reports)."""
        return sum(1 for _ in self.store.scan(_SUBJECT_KEY_PREFIX))


def _valid_tenant(tenant: object) -> bool:
    if type(tenant) is not str or not tenant or "/" in tenant or "|" in tenant:
        return False
    try:
        tenant.encode()  # it is bound into every associated data: lone surrogates cannot be
    except UnicodeEncodeError:
        return False
    return True


def _recorded_tenant(raw: bytes) -> str | None:
    try:
        tenant = loads(raw).get("tenant")
    except (ValueError, AttributeError):
        return None
    return tenant if isinstance(tenant, str) else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _decode_meta(raw: bytes) -> dict[str, bytes]:
    try:
        meta = loads(raw)
        return {
            name: base64.b64decode(meta[name], validate=True) for name in ("check", "index_root")
        }
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise IntegrityError("keyring metadata is damaged") from exc
