"""Erasure (GDPR Art. 17, CCPA right to delete) with a receipt, a tombstone, and replay.

The order of an erasure, and why:

1. **Log.** An ``in_progress`` entry goes into the erasure log, which lives in the *key store*
   under ``e/<tombstone>`` (the tombstone is ``kit.subject_ref(subject)``, a keyed hash). The
   key store is backed up separately from the data store, so the log survives the restore of
   an older data backup and ``replay`` can erase the subject again.
2. **Remove and delete**, in one data-store transaction whose first read takes the subject
   (its advisory lock on PostgreSQL, the write lock on SQLite) and holds it to COMMIT: read
   the subject's identifiers to know its index entries, run every registered
   :class:`~personakit.rights.ContributionRemover` (only while the data key exists, because
   they read the subject's records), delete the identity index entries and every record under
   ``s/<subject>/`` (identifiers, traits, events, consent ledger and state, derived data), and
   append the ``rights.erasure`` audit entry. A write racing the erasure either commits before
   it takes the subject (and is erased with the rest) or waits, then finds the subject gone:
   track and consent writes re-check the subject under that lock, so by identifier they make
   a fresh subject and by pseudonym they get :class:`~personakit.exceptions.SubjectNotFound`.
3. **Shred** the subject's data key, right after COMMIT. From here on every copy of the
   subject's records, including copies in data backups, is unreadable. (Shredding before
   COMMIT would, if COMMIT failed, leave records whose removers can no longer run.)
4. A crash between COMMIT and shred leaves the key and nothing else: the re-run finds no
   records, so it knows the removers ran (they committed with the deletion) and only shreds.
5. **Verify**: no data key, no record under the prefix, no index entry pointing at the subject;
   otherwise :class:`~personakit.exceptions.ErasureIncomplete` (the log entry stays open).
6. **Complete** the log entry (dropping the pseudonym it held while open), then **scrub**
   both stores (SQLite WAL checkpoint and truncate; deleted cells are zeroed by
   ``secure_delete``). The receipt says whether the scrub is done or pending.

An erasure interrupted anywhere can be re-run to completion with the same call (by identifier
while the index entries still exist, or by pseudonym), or with :meth:`Eraser.resume`. When the
key is already gone the records cannot be decrypted any more, so the identifiers are unknown;
the index entries are then found by scanning ``i/`` for values equal to the pseudonym: O(index),
only on this recovery path. The receipt of a recovered erasure adds up what every run removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final, Literal

from attrs import define, field, frozen

from personakit._clock import Clock
from personakit._codec import canonical_json, loads
from personakit._ids import check_actor, new_id
from personakit._vault import SUBJECT_PREFIX, Vault, valid_subject_id
from personakit.audit import AuditLog
from personakit.crypto import Keyring
from personakit.exceptions import ErasureIncomplete, InvalidInput, Problem, SubjectNotFound
from personakit.profiles import IdentityIndex
from personakit.rights._registry import RightsRegistry
from personakit.rights._text import check_note
from personakit.storage import ScrubResult, Store

__all__ = ["Eraser", "ErasureLogEntry", "ErasureReceipt", "ReplayReport"]

_LOG_PREFIX: Final = "e/"
# The identity index layout (docs/architecture.md): i/<identifier kind>/<blind index> -> pseudonym.
_INDEX_PREFIX: Final = "i/"
_PROGRESS_KIND: Final = "erasure"
_PROGRESS_NAME: Final = "progress"

LogStatus = Literal["in_progress", "completed"]


@frozen(kw_only=True)
class ErasureReceipt:
    """Proof of an erasure: what was removed, whether the physical scrub is done, the tombstone.

    Attributes:
        receipt_id: Unique id (``er_…``), also in the audit entry.
        tombstone: ``kit.subject_ref(subject)``, kept in the erasure log in the key store.
        requested_at: When the erasure was first started.
        completed_at: When it completed.
        records: Records deleted under the subject's prefix, per record kind.
        identity_index: Identity index entries deleted.
        data_key: Data keys shredded (1, or 0 if the key was already gone).
        contributions: Per contribution remover, the items it changed or deleted.
        scrub: Per store (``data``, ``keys``): ``done`` or ``pending``.
        recovered: Whether this run finished an erasure interrupted earlier.
        reason: The reason given, if any (screened for personal data).
    """

    receipt_id: str
    tombstone: str
    requested_at: datetime
    completed_at: datetime
    records: Mapping[str, int] = field(factory=dict)
    identity_index: int = 0
    data_key: int = 0
    contributions: Mapping[str, int] = field(factory=dict)
    scrub: Mapping[str, str] = field(factory=dict)
    recovered: bool = False
    reason: str | None = None

    @property
    def scrub_status(self) -> Literal["done", "pending"]:
        """``done`` when both stores were scrubbed, else ``pending`` (run ``store scrub``)."""
        return "done" if all(s == "done" for s in self.scrub.values()) else "pending"

    def to_json(self) -> dict[str, Any]:
        """The receipt as JSON (what ``personakit subject erase`` prints)."""
        return {
            "receipt_id": self.receipt_id,
            "tombstone": self.tombstone,
            "requested_at": self.requested_at.isoformat(),
            "completed_at": self.completed_at.isoformat(),
            "removed": {
                "records": dict(sorted(self.records.items())),
                "identity_index": self.identity_index,
                "data_key": self.data_key,
                "contributions": dict(sorted(self.contributions.items())),
            },
            "scrub": {"status": self.scrub_status, **dict(sorted(self.scrub.items()))},
            "recovered": self.recovered,
            "reason": self.reason,
        }


@frozen(kw_only=True)
class ErasureLogEntry:
    """One tombstone of the erasure log (key store ``e/<tombstone>``)."""

    tombstone: str
    status: LogStatus
    requested_at: datetime
    completed_at: datetime | None
    receipt_id: str


@frozen(kw_only=True)
class ReplayReport:
    """What :meth:`Eraser.replay` did after a data backup was restored.

    Attributes:
        tombstones: Entries in the erasure log.
        resumed: Interrupted erasures finished first.
        subjects: Subjects found in the data store whose reference matches a tombstone.
        records: Their records deleted.
        index_entries: Identity index entries deleted that pointed at them.
        data_keys: Data keys shredded (normally 0: the key store was not restored).
        scrub: Per store, ``done`` or ``pending``.
    """

    tombstones: int
    resumed: int
    subjects: int
    records: int
    index_entries: int
    data_keys: int
    scrub: Mapping[str, str] = field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As printed by ``personakit erasure replay``."""
        return {
            "tombstones": self.tombstones,
            "resumed": self.resumed,
            "subjects": self.subjects,
            "records": self.records,
            "index_entries": self.index_entries,
            "data_keys": self.data_keys,
            "scrub": dict(sorted(self.scrub.items())),
        }


class ErasureLog:
    """Tombstones of erased subjects in the key store: ``e/<tombstone>`` -> JSON."""

    def __init__(self, key_store: Store) -> None:
        """Keep the log in ``key_store`` (never the data store: it must outlive data restores)."""
        self.store = key_store

    def __repr__(self) -> str:
        """Render with the store."""
        return f"ErasureLog({self.store!r})"

    def get(self, tombstone: str) -> dict[str, Any] | None:
        """The raw entry for ``tombstone``, or None."""
        raw = self.store.get(_LOG_PREFIX + tombstone)
        return None if raw is None else dict(loads(raw))

    def put(self, tombstone: str, entry: Mapping[str, Any]) -> None:
        """Write the entry for ``tombstone``."""
        self.store.put(_LOG_PREFIX + tombstone, canonical_json(dict(entry)))

    def raw_entries(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(tombstone, raw entry)`` for every entry, in tombstone order."""
        for key, raw in self.store.scan(_LOG_PREFIX):
            yield key[len(_LOG_PREFIX) :], dict(loads(raw))

    def entries(self) -> list[ErasureLogEntry]:
        """Every entry, in tombstone order (no pseudonyms, no reasons)."""
        return [
            ErasureLogEntry(
                tombstone=tombstone,
                status=raw["status"],
                requested_at=datetime.fromisoformat(raw["requested_at"]),
                completed_at=None
                if raw.get("completed_at") is None
                else datetime.fromisoformat(raw["completed_at"]),
                receipt_id=raw["receipt_id"],
            )
            for tombstone, raw in self.raw_entries()
        ]


@define(kw_only=True, repr=False)
class Eraser:
    """Erases subjects, resumes interrupted erasures, and replays the log after a restore."""

    store: Store
    key_store: Store
    vault: Vault
    keyring: Keyring
    identity: IdentityIndex
    audit: AuditLog
    clock: Clock
    registry: RightsRegistry
    subject_ref: Callable[[str], str]
    log: ErasureLog = field(init=False)

    @log.default
    def _log(self) -> ErasureLog:
        return ErasureLog(self.key_store)

    def __repr__(self) -> str:
        """Render with the stores."""
        return f"Eraser(store={self.store!r}, key_store={self.key_store!r})"

    # -- erase ----------------------------------------------------------------------------

    def erase(
        self, subject: str, *, reason: str | None = None, actor: str = "system"
    ) -> ErasureReceipt:
        """Erase ``subject`` (a pseudonym) completely; see the module docs for the order.

        Raises :class:`SubjectNotFound` if there is nothing of the subject and no open
        erasure, :class:`InvalidInput` for a reason that looks personal or a bad actor, and
        :class:`ErasureIncomplete` if anything is left behind (run it again to finish).
        """
        problems: list[Problem] = []
        if not valid_subject_id(subject):
            problems.append(Problem(where="subject", what="not a subject pseudonym (sub_…)"))
        check_note(reason, "reason", problems)
        check_actor(actor, problems)
        if problems:
            raise InvalidInput("invalid erasure request", problems)
        tombstone = self.subject_ref(subject)
        entry = self.log.get(tombstone)
        open_entry = entry is not None and entry.get("status") == "in_progress"
        has_key = self.keyring.has_subject_key(subject)
        if not has_key and not open_entry and not self._has_records(subject):
            raise SubjectNotFound("subject")
        recovered = open_entry or not has_key
        if entry is None or not open_entry:
            entry = {
                "v": 1,
                "status": "in_progress",
                "subject": subject,
                "requested_at": self.clock.now().isoformat(),
                "receipt_id": new_id("er_"),
                "reason": reason,
                "actor": actor,
                "removed": {"data_key": 1 if has_key else 0},
            }
            self.log.put(tombstone, entry)
        removed: dict[str, Any] = dict(entry["removed"])

        # One data-store transaction from the first read to the audit entry: its first read
        # takes the subject (its advisory lock on PostgreSQL, the write lock on SQLite) and
        # holds it through removers, deletion and audit, so a write racing the erasure either
        # commits before it (and is erased with the rest) or starts after it and finds the
        # subject gone (writers re-check under the same lock). The key is shredded right after
        # COMMIT: shredding inside the transaction would, on a failed COMMIT, leave records
        # whose removers can no longer run (they need the key to read them).
        with self.store.transaction():
            # The first read takes the subject's lock; what it and the key store say is then
            # final until COMMIT. Removers run only while both the key and the records exist:
            # records gone with the key still there means an erasure's transaction committed
            # (its removers with it) and its shred did not happen yet, or another erasure of
            # the subject finished while this one waited for the lock.
            if self._has_records(subject) and self.keyring.has_subject_key(subject):
                index_keys, contributions = self._prepare(subject)
                removed["contributions"] = contributions
            else:
                index_keys = self._scan_index(subject)  # identifiers are unreadable or gone
                if "contributions" not in removed:
                    done = self.log.get(tombstone) or {}
                    removed["contributions"] = dict(
                        done.get("removed", {}).get("contributions", {})
                    )
            doomed_index = [key for key in index_keys if self._points_at(key, subject)]
            records = {
                kind: count
                for kind, count in self.vault.count(subject).items()
                if kind != _PROGRESS_KIND
            }
            removed["records"] = _max_merge(removed.get("records", {}), records)
            removed["identity_index"] = max(removed.get("identity_index", 0), len(doomed_index))
            self.log.put(tombstone, {**entry, "removed": removed})
            for key in doomed_index:
                self.store.delete(key)
            self.vault.delete_subject(subject)
            self.audit.append(
                "rights.erasure",
                subject=tombstone,
                actor=actor,
                data={
                    "receipt": entry["receipt_id"],
                    "removed": removed,
                    "recovered": recovered,
                    "reason": reason,
                },
            )
        self.keyring.shred(subject)
        self.keyring.forget_cached(subject)

        leftovers = self._leftovers(subject, index_keys)
        if leftovers:
            raise ErasureIncomplete(leftovers)

        completed_at = self.clock.now()
        self.log.put(
            tombstone,
            {
                "v": 1,
                "status": "completed",
                "requested_at": entry["requested_at"],
                "completed_at": completed_at.isoformat(),
                "receipt_id": entry["receipt_id"],
                "removed": removed,
            },
        )
        scrub = self._scrub()
        return ErasureReceipt(
            receipt_id=entry["receipt_id"],
            tombstone=tombstone,
            requested_at=datetime.fromisoformat(entry["requested_at"]),
            completed_at=completed_at,
            records=removed.get("records", {}),
            identity_index=removed.get("identity_index", 0),
            data_key=removed.get("data_key", 0),
            contributions=removed.get("contributions", {}),
            scrub=scrub,
            recovered=recovered,
            reason=entry.get("reason"),
        )

    def resume(self, *, actor: str = "system") -> list[ErasureReceipt]:
        """Finish every erasure the log shows as still in progress; return their receipts."""
        receipts = []
        for _, raw in list(self.log.raw_entries()):
            subject = raw.get("subject")
            if raw.get("status") == "in_progress" and isinstance(subject, str):
                receipts.append(self.erase(subject, reason=raw.get("reason"), actor=actor))
        return receipts

    def _prepare(self, subject: str) -> tuple[list[str], dict[str, int]]:
        """Run the contribution removers once; called inside the erasure's transaction."""
        # Read first, in the transaction: this takes the subject's lock before anything else.
        # A marker means an earlier run (of an older version, which committed the removers in
        # a transaction of their own) already ran them: they must not run twice.
        marker = self.vault.get_json(subject, _PROGRESS_KIND, _PROGRESS_NAME)
        index_keys = sorted(
            self.identity.index_key(ident) for ident in self.identity.identifiers(subject)
        )
        if isinstance(marker, dict):
            return index_keys, dict(marker.get("contributions", {}))
        contributions: dict[str, int] = {}
        for name, remover in self.registry.removers():
            count = remover(subject)
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                msg = f"contribution remover {name!r} must return a count"
                raise TypeError(msg)
            contributions[name] = count
        return index_keys, contributions

    def _has_records(self, subject: str) -> bool:
        return next(iter(self.store.scan(f"{SUBJECT_PREFIX}{subject}/")), None) is not None

    def _scan_index(self, subject: str) -> list[str]:
        wanted = subject.encode("ascii")
        return [key for key, value in self.store.scan(_INDEX_PREFIX) if value == wanted]

    def _points_at(self, key: str, subject: str) -> bool:
        raw = self.store.get(key)
        return raw is not None and raw == subject.encode("ascii")

    def _leftovers(self, subject: str, index_keys: list[str]) -> list[str]:
        leftovers = []
        if self.keyring.has_subject_key(subject):
            leftovers.append("data_key")
        if self._has_records(subject):
            leftovers.append("records")
        if any(self._points_at(key, subject) for key in index_keys):
            leftovers.append("index_entries")
        return leftovers

    def _scrub(self) -> dict[str, str]:
        results: dict[str, ScrubResult] = {
            "data": self.store.scrub(),
            "keys": self.key_store.scrub(),
        }
        return {name: result.status for name, result in results.items()}

    # -- replay ---------------------------------------------------------------------------

    def replay(self, *, actor: str = "system") -> ReplayReport:
        """Re-apply the erasure log to the data store (after restoring an older data backup).

        Finishes open erasures first, then finds every subject in the data store whose
        reference matches a tombstone, and deletes its records, its index entries and (if the
        key store was restored too) its data key, with one audit entry per subject. This scans
        every key under ``s/`` and ``i/``: O(store), acceptable for an operation run after a
        restore, never on a request path.
        """
        problems: list[Problem] = []
        check_actor(actor, problems)
        if problems:
            raise InvalidInput("invalid replay request", problems)
        resumed = self.resume(actor=actor)
        tombstones = {tombstone for tombstone, _ in self.log.raw_entries()}
        refs: dict[str, str] = {}

        def erased(subject: str) -> bool:
            if subject not in refs:
                refs[subject] = self.subject_ref(subject)
            return refs[subject] in tombstones

        doomed: set[str] = set()
        for subject in self._distinct_subjects():
            if erased(subject):
                doomed.add(subject)
        by_subject: dict[str, list[str]] = {}
        for key, value in self.store.scan(_INDEX_PREFIX):
            pointed = value.decode("ascii", "replace")
            if valid_subject_id(pointed) and erased(pointed):
                doomed.add(pointed)
                by_subject.setdefault(pointed, []).append(key)
        records = index_entries = keys = 0
        for subject in sorted(doomed):
            keys += int(self.keyring.shred(subject))
            with self.store.transaction():
                deleted_index = sum(
                    int(self.store.delete(key))
                    for key in by_subject.get(subject, [])
                    if self._points_at(key, subject)
                )
                deleted = self.vault.delete_subject(subject)
                self.audit.append(
                    "rights.erasure_replayed",
                    subject=refs[subject],
                    actor=actor,
                    data={"records": deleted, "index_entries": deleted_index},
                )
            records += deleted
            index_entries += deleted_index
        return ReplayReport(
            tombstones=len(tombstones),
            resumed=len(resumed),
            subjects=len(doomed),
            records=records,
            index_entries=index_entries,
            data_keys=keys,
            scrub=self._scrub(),
        )

    def _distinct_subjects(self) -> Iterator[str]:
        last: str | None = None
        for key, _ in self.store.scan(SUBJECT_PREFIX):
            subject = key[len(SUBJECT_PREFIX) :].partition("/")[0]
            if subject != last:
                last = subject
                if valid_subject_id(subject):
                    yield subject


def _max_merge(old: Mapping[str, int], new: Mapping[str, int]) -> dict[str, int]:
    merged = dict(old)
    for kind, count in new.items():
        merged[kind] = max(merged.get(kind, 0), count)
    return dict(sorted(merged.items()))
