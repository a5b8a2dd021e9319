"""Consent decisions inside one bulk-ingest batch, with each subject's ledger writes deferred.

Bulk ingest applies a batch's lines in one store transaction. Its consent lines go through
:class:`BulkDecisions`: each decision is checked, planned, appended, audited and receipted
exactly as :meth:`ConsentManager.grant` / ``refuse`` / ``withdraw`` do it (the same manager
methods run, on a view of the manager whose ledger is a :class:`BatchLedger`), so every
decision keeps its own ledger record, receipt and audit entry, in line order. What changes is
only *when* the ledger's own records reach the store: a subject's decisions, compact states
and ledger head are held in memory and written for every subject of the batch by one sealed
``put_many`` (:meth:`BulkDecisions.flush`), instead of three to five separate writes (and as
many reads) per line.

Reads made through the batch's ledger see those pending writes: a later decision of the same
subject, and :meth:`BulkDecisions.verdicts_until`, which bulk ingest asks for the basis of the
subject's next events. A subject the batch created (:meth:`BulkDecisions.created`) is known to
have no ledger yet, so its first decision reads nothing. The caller flushes before its
transaction commits, and settles (flushes and forgets what it knew) before anything that
changes ledgers behind the batch's back, such as a link line's merge.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from attrs import define, field

from personakit._codec import loads
from personakit.consent._context import ConsentContext
from personakit.consent._ledger import HEAD_KIND, HEAD_NAME, LEDGER_KIND, Ledger
from personakit.consent._records import ConsentReceipt, ConsentRecord
from personakit.consent._state import STATE_KIND, PurposeState, decode_state

if TYPE_CHECKING:
    from personakit.consent._manager import ConsentManager

__all__ = ["BatchLedger", "BulkDecisions"]


@define(kw_only=True, repr=False)
class BatchLedger(Ledger):
    """A :class:`Ledger` whose writes wait, per subject, for :meth:`flush`; reads see them."""

    #: Subjects created by the batch: nothing of their ledger is in the store.
    fresh: set[str] = field(factory=set)
    #: subject -> (kind, name) -> plaintext not yet sealed and stored.
    pending: dict[str, dict[tuple[str, str], bytes]] = field(factory=dict)
    #: subject -> whether it is restricted (no ingest line restricts or lifts a restriction).
    flags: dict[str, bool] = field(factory=dict)

    @classmethod
    def like(cls, ledger: Ledger) -> BatchLedger:
        """A batch ledger wired as ``ledger`` is."""
        return cls(
            store=ledger.store,
            vault=ledger.vault,
            audit=ledger.audit,
            clock=ledger.clock,
            manifest=ledger.manifest,
            cascade=ledger.cascade,
            subject_ref=ledger.subject_ref,
        )

    def _pending(self, subject: str, kind: str, name: str) -> bytes | None:
        waiting = self.pending.get(subject)
        return None if waiting is None else waiting.get((kind, name))

    def state(self, subject: str, purpose: str) -> tuple[PurposeState | None, bool]:
        """The compact state, pending or stored."""
        raw = self._pending(subject, STATE_KIND, purpose)
        if raw is not None:
            return decode_state(raw)
        if subject in self.fresh:
            return None, False
        return Ledger.state(self, subject, purpose)

    def record(self, subject: str, name: str) -> ConsentRecord | None:
        """A ledger record, pending or stored."""
        raw = self._pending(subject, LEDGER_KIND, name)
        if raw is not None:
            return ConsentRecord.from_json(loads(raw))
        if subject in self.fresh:
            return None
        return Ledger.record(self, subject, name)

    def records(self, subject: str) -> list[ConsentRecord]:
        """The whole ledger, in append order: the subject's pending writes are made first."""
        self.flush([subject])
        return Ledger.records(self, subject)

    def seen_signals(self, subject: str) -> list[tuple[str, int]]:
        """The TC string digests of the head, pending or stored."""
        pairs = self.read_head(subject).get("tcf", [])
        return [(str(digest), int(at)) for digest, at in pairs]

    def raw_many(self, records: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], bytes]:
        """Pending records as they will be stored; the others in one store read."""
        found: dict[tuple[str, str, str], bytes] = {}
        stored: list[tuple[str, str, str]] = []
        for record in records:
            raw = self._pending(*record)
            if raw is not None:
                found[record] = raw
            elif record[0] not in self.fresh:
                stored.append(record)
        if stored:
            found.update(Ledger.raw_many(self, stored))
        return found

    def read_head(self, subject: str) -> dict[str, Any]:
        """The head, pending or stored."""
        raw = self._pending(subject, HEAD_KIND, HEAD_NAME)
        if raw is not None:
            return dict(loads(raw))
        if subject in self.fresh:
            return {"seq": 0}
        return Ledger.read_head(self, subject)

    def restricted(self, subject: str) -> bool:
        """Whether the subject is restricted, read once per batch."""
        flag = self.flags.get(subject)
        if flag is None:
            flag = False if subject in self.fresh else Ledger.restricted(self, subject)
            self.flags[subject] = flag
        return flag

    def write(self, subject: str, kind: str, name: str, plaintext: bytes) -> None:
        """Keep the write until :meth:`flush` (the last write of a record wins, as in a store)."""
        self.pending.setdefault(subject, {})[(kind, name)] = plaintext

    def flush(self, subjects: Iterable[str] | None = None) -> None:
        """Seal and store the pending writes (of ``subjects``; default all) in one write."""
        chosen = list(self.pending) if subjects is None else list(subjects)
        records = [
            (subject, kind, name, plaintext)
            for subject in chosen
            for (kind, name), plaintext in self.pending.pop(subject, {}).items()
        ]
        if records:
            self.vault.put_many(records)
        # What was flushed is in the store now: a fresh subject's next read must go there (an
        # events hook flushes mid-batch, and a second decision then has to see the first).
        self.fresh.difference_update(chosen)


class BulkDecisions:
    """Consent decisions of one bulk-ingest batch (see the module docstring).

    Use it inside the batch's store transaction only, from one thread, and :meth:`flush`
    before that transaction commits; if the transaction rolls back, drop the object.
    """

    def __init__(self, manager: ConsentManager, ledger: BatchLedger) -> None:
        """Decide through ``manager`` (a view of the kit's manager) and its batch ``ledger``."""
        self._manager = manager
        self._ledger = ledger

    def __repr__(self) -> str:
        """Render with the number of subjects with pending writes."""
        return f"BulkDecisions(pending={len(self._ledger.pending)})"

    def created(self, subjects: Iterable[str]) -> None:
        """Note subjects the batch has just created: they have no ledger to read yet."""
        self._ledger.fresh.update(subjects)

    def grant(
        self,
        subject: str,
        purposes: str | Iterable[str],
        *,
        notice: str,
        notice_version: str,
        occurred_at: datetime | None = None,
        context: ConsentContext | None = None,
    ) -> ConsentReceipt:
        """:meth:`ConsentManager.grant`, with the ledger writes deferred."""
        return self._manager.grant(
            subject,
            purposes,
            notice=notice,
            notice_version=notice_version,
            occurred_at=occurred_at,
            context=context,
        )

    def refuse(
        self,
        subject: str,
        purposes: str | Iterable[str],
        *,
        notice: str,
        notice_version: str,
        occurred_at: datetime | None = None,
        context: ConsentContext | None = None,
    ) -> ConsentReceipt:
        """:meth:`ConsentManager.refuse`, with the ledger writes deferred."""
        return self._manager.refuse(
            subject,
            purposes,
            notice=notice,
            notice_version=notice_version,
            occurred_at=occurred_at,
            context=context,
        )

    def withdraw(
        self,
        subject: str,
        purposes: str | Iterable[str] = "all",
        *,
        notice: str | None = None,
        notice_version: str | None = None,
        occurred_at: datetime | None = None,
        context: ConsentContext | None = None,
    ) -> ConsentReceipt:
        """:meth:`ConsentManager.withdraw`, with the ledger writes deferred."""
        return self._manager.withdraw(
            subject,
            purposes,
            notice=notice,
            notice_version=notice_version,
            occurred_at=occurred_at,
            context=context,
        )

    def verdicts_until(
        self, subjects: Iterable[str], purposes: Iterable[str]
    ) -> tuple[dict[tuple[str, str], bool], int | None]:
        """:meth:`ConsentManager.verdicts_until`, seeing the batch's pending decisions."""
        return self._manager.verdicts_until(subjects, purposes)

    def flush(self) -> None:
        """Store every pending write, in one sealed write."""
        self._ledger.flush()

    def settle(self) -> None:
        """Flush, and forget what the batch knew: ledgers may change behind it next."""
        self._ledger.flush()
        self._ledger.fresh.clear()
        self._ledger.flags.clear()
