"""``kit.recommend``: the shared item model kept on ingest, recommendations with reasons.

The service registers with the workflows layer and imports no other capability:

* an events hook folds interactions (purchases, cart additions, product views collected for
  ``personalization``) into the subject's sealed record and adds exactly the change of their
  contribution to the shared item rows (see :mod:`._model` and :mod:`._shared`); a merge hook
  replaces both linked subjects' contributions by the merged one;
* the record kind ``recommendations`` (the per-subject record) and the shared kind
  ``recommendations.model``: withdrawal or objection of ``personalization``, erasure and the
  retention sweep subtract the subject's contribution, so the model equals one rebuilt from
  the remaining consented data;
* the segment ``recommendations.has_history`` and the dataset
  ``recommendations.interactions``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

from attrs import define, field

from personakit._args import check_moment, raise_problems
from personakit._clock import Clock
from personakit._vault import Vault, check_subject
from personakit.consent import BasisRule
from personakit.events import Event
from personakit.exceptions import InvalidInput, PersonakitError, Problem
from personakit.recommendations._answers import (
    RebuildSummary,
    Recommendations,
    explain,
    popular_answer,
)
from personakit.recommendations._filters import (
    CatalogueItem,
    check_catalogue,
    check_context,
    check_item,
    keep_all,
)
from personakit.recommendations._model import (
    DAY_S,
    Interaction,
    ItemModel,
    ItemRow,
    Params,
    apply_delta,
    history_weights,
    rank,
    row_deltas,
)
from personakit.recommendations._shared import (
    INTERACTIONS,
    KIND,
    PURPOSE,
    ROWS,
    RowSums,
    apply_rows,
    cap_record,
    load_rows,
    read_record,
    record_from_events,
    update_record,
    write_record,
)
from personakit.storage import Store, change_token
from personakit.workflows import ExportRecord, Hooks, RecordKind, Registries

__all__ = ["Recommender"]

SHARED_KIND: Final = "recommendations.model"
MAX_K: Final = 1000
_MESSAGE_ITEMS: Final = 4
_LOGIC: Final = (
    "Items are scored by how often customers who agreed to personalization interacted with "
    "them together with the items in your history (co-occurrence normalised by both items' "
    "popularity and shrunk when few customers support it; a pair needs at least min_support "
    "distinct customers), your recent items weighing more. Without enough history, or without "
    "your consent, the shop's popular items are shown instead."
)


def check_k(k: object, where: str = "k") -> int:
    """``k`` if it is an int in 1..1000; InvalidInput otherwise."""
    if type(k) is not int or not 1 <= k <= MAX_K:
        raise InvalidInput(
            "invalid k", [Problem(where=where, what=f"must be an integer in 1..{MAX_K}")]
        )
    return k


@define
class Recommender:
    """Recommendations over the kit's interactions (``kit.recommend``)."""

    store: Store
    vault: Vault
    basis: BasisRule
    clock: Clock
    _subjects: Callable[[], list[str]]
    _read_events: Callable[[str], list[Event]]
    params: Params = field(factory=Params)
    catalogue: dict[str, CatalogueItem] | None = None
    # The model parsed from the rows and the store's change token it was read at; a store
    # without a token (PostgreSQL) is read again on every call, so no answer is ever stale.
    _cached: tuple[Hashable, ItemModel] | None = field(default=None, init=False)
    # The kit's hooks (set by build): inside one of their batches (bulk ingest), changes to
    # the shared rows are summed per thread in ``_local.pending`` and written once at the
    # batch's end, so a popular item's row is read and written once per transaction.
    _hooks: Hooks | None = field(default=None, init=False)
    _local: threading.local = field(factory=threading.local, init=False)

    def __repr__(self) -> str:
        """Render without any subject's data."""
        return f"Recommender(min_support={self.params.min_support})"

    @classmethod
    def build(
        cls,
        *,
        registries: Registries,
        store: Store,
        vault: Vault,
        basis: BasisRule,
        clock: Clock,
        subjects: Callable[[], list[str]],
        read_events: Callable[[str], list[Event]],
    ) -> Recommender:
        """Wire the service and register its record kinds, hooks, segment and dataset."""
        service = cls(store, vault, basis, clock, subjects, read_events)
        service._hooks = registries.hooks
        registries.record_kinds.register(
            RecordKind(
                name=KIND,
                owner="recommendations",
                description="items the customer interacted with (how often, when last, bought) "
                "from which their recommendations are ranked",
                purposes=(PURPOSE,),
                section="recommendations",
                exporter=service.export_section,
                retention=service.sweep,
                on_withdrawal=service.forget,
            )
        )
        registries.record_kinds.register(
            RecordKind(
                name=SHARED_KIND,
                owner="recommendations",
                description="per item: customers who interacted, co-occurrence counts of pairs, "
                "customers by day of last interaction (sums, nothing keyed by customer)",
                purposes=(PURPOSE,),
                shared=True,
                on_erasure=service.remove,
                on_withdrawal=service.forget,
            )
        )
        registries.hooks.on_events("recommendations", service.on_events)
        registries.hooks.on_merge("recommendations", service.on_merge)
        registries.hooks.on_batch_end("recommendations", service.on_batch_end)
        registries.hooks.on_restriction("recommendations", service.on_restriction)
        registries.hooks.on_restriction_lifted("recommendations", service.on_lifted)
        registries.segments.register(
            "recommendations.has_history",
            service.has_history,
            owner="recommendations",
            description="customers with personal recommendations (enough history, consent)",
        )
        registries.datasets.register(
            "recommendations.interactions",
            service.dataset,
            owner="recommendations",
            description="per customer: distinct items, interactions, purchases (no item ids)",
        )
        return service

    # -- keeping the model -----------------------------------------------------------------

    def on_events(self, subject: str, events: Sequence[Event]) -> None:
        """The events hook: update the record and add the change of the contribution."""
        if not any(PURPOSE in e.purposes for e in events):
            return
        old = read_record(self.vault, subject)
        new = dict(old)
        if not update_record(new, events):
            return
        new = cap_record(new)
        with self.store.transaction():
            self._add_rows(row_deltas(old, new))
            write_record(self.vault, subject, new)

    def on_merge(self, source: str, target: str) -> None:
        """The merge hook: both contributions out, the merged one in."""
        mine = read_record(self.vault, source)
        if not mine:
            return
        if not self._allowed(target):
            # The merged ledger gives no basis, or the target is restricted: nothing of the
            # source may enter the model through it (lifting derives it from the events).
            self.remove(source)
            return
        theirs = read_record(self.vault, target)
        merged = dict(theirs)
        for item, i in mine.items():
            t = merged.get(item)
            merged[item] = (
                i
                if t is None
                else Interaction(t.count + i.count, max(t.last, i.last), t.bought + i.bought)
            )
        merged = cap_record(merged)
        deltas = row_deltas(theirs, merged)
        for item, delta in row_deltas(mine, {}).items():
            combined = apply_delta(deltas.get(item), delta)
            if combined.n or combined.co or combined.days:
                deltas[item] = combined
            else:
                deltas.pop(item, None)
        with self.store.transaction():
            self._add_rows(deltas)
            write_record(self.vault, target, merged)
            write_record(self.vault, source, {})

    def _add_rows(self, deltas: Mapping[str, ItemRow]) -> int:
        """Add ``deltas`` to the shared rows now, or at the end of the current hooks batch."""
        if self._hooks is None or not self._hooks.in_batch:
            return apply_rows(self.store, deltas)
        # Sums commute, so adding the batch's net change at its end (inside the same
        # transaction) leaves exactly the rows the per-subject writes would have left.
        pending: RowSums | None = self._local.__dict__.get("pending")
        if pending is None:
            pending = self._local.pending = RowSums()
        pending.add(deltas)
        return len(deltas)

    def on_batch_end(self, outcome: Literal["commit", "rollback"]) -> None:
        """The batch end hook: write the batch's summed row changes (or drop them)."""
        pending = self._local.__dict__.pop("pending", None)
        if outcome == "commit" and pending:
            # One sorted get_many: on PostgreSQL the rows' locks are taken in ascending
            # order in one call, so concurrent batches cannot deadlock on them.
            apply_rows(self.store, pending.rows)

    def _flush_pending(self) -> None:
        # A read inside a batch sees the rows with the batch's changes so far.
        pending = self._local.__dict__.pop("pending", None)
        if pending:
            apply_rows(self.store, pending.rows)

    def remove(self, subject: str) -> int:
        """The erasure remover: subtract the subject's contribution, delete their record."""
        record = read_record(self.vault, check_subject(subject))
        if not record:
            return 0
        with self.store.transaction():
            changed = self._add_rows(row_deltas(record, {}))
            write_record(self.vault, subject, {})
        return changed

    def on_restriction(self, subject: str) -> None:
        """The restriction hook: the contribution leaves the model while processing is restricted.

        The record is deleted with it (it is derived from the stored events, which restriction
        keeps), exactly as :meth:`rebuild` leaves a subject without a basis.
        """
        self.remove(subject)

    def on_lifted(self, subject: str) -> None:
        """The restriction lifted hook: the record is derived again and its contribution added.

        What :meth:`rebuild` derives for the subject (nothing while the ledger gives no basis),
        so the model stays equal to a rebuild. Idempotent: a subject with a record is unchanged.
        """
        if read_record(self.vault, check_subject(subject)) or not self._allowed(subject):
            return
        record = self._derived_record(subject, self._oldest(self.clock.now()))
        if record:
            with self.store.transaction():
                self._add_rows(row_deltas({}, record))
                write_record(self.vault, subject, record)

    def _derived_record(self, subject: str, oldest: int) -> dict[str, Interaction]:
        # Events outlive personalization's period when another purpose keeps them (a
        # purchase, 10 years): what the sweep took out must stay out.
        events = self._read_events(subject)
        return {i: x for i, x in record_from_events(events).items() if x.last >= oldest}

    def forget(self, subject: str, purpose: str) -> int:
        """The withdrawal eraser (withdrawal, objection): as :meth:`remove`."""
        del purpose  # both kinds serve one purpose; the registry calls this only for it
        return self.remove(subject)

    def sweep(self, subject: str, now: datetime) -> int:
        """The retention sweeper: items last seen before the period leave record and model."""
        problems: list[Problem] = []
        moment = check_moment(now, "now", problems)
        raise_problems("invalid sweep", problems)
        assert moment is not None
        record = read_record(self.vault, check_subject(subject))
        if not record:
            return 0
        oldest = self._oldest(moment)
        kept = {item: i for item, i in record.items() if i.last >= oldest}
        if len(kept) == len(record):
            return 0
        with self.store.transaction():
            self._add_rows(row_deltas(record, kept))
            write_record(self.vault, subject, kept)
        return len(record) - len(kept)

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> RebuildSummary:
        """Recompute every record from stored events and the model from the records (repair).

        Runs in one store transaction, so readers see the old model or the new one; on SQLite
        it holds the write lock for its duration. ``progress(done, total)`` is called as it goes.
        """
        if progress is not None and not callable(progress):
            raise InvalidInput(
                "invalid progress", [Problem(where="progress", what="must be callable")]
            )
        subjects = self._subjects()
        # Changes deferred in a batch are part of the records summed again below.
        self._local.__dict__.pop("pending", None)
        rows: dict[str, ItemRow] = {}
        used = 0
        oldest = self._oldest(self.clock.now())
        with self.store.transaction():
            for done, subject in enumerate(subjects, 1):
                record: dict[str, Interaction] = {}
                if self._allowed(subject):
                    record = self._derived_record(subject, oldest)
                write_record(self.vault, subject, record)
                used += bool(record)
                for item, delta in row_deltas({}, record).items():
                    rows[item] = apply_delta(rows.get(item), delta)
                if progress is not None:
                    progress(done, len(subjects))
            self.store.delete_prefix(ROWS)
            apply_rows(self.store, rows)
        return RebuildSummary(subjects=len(subjects), contributing=used, items=len(rows))

    # -- reading the model -----------------------------------------------------------------

    def model(self) -> ItemModel:
        """The current model (re-read when the store changed since the last call)."""
        self._flush_pending()
        # The method directly: change_token()'s runtime Protocol check costs more than a read.
        tokens = getattr(self.store, "change_token", None)
        token = tokens() if callable(tokens) else change_token(self.store)
        cached = self._cached
        if (
            token is not None
            and cached is not None
            and cached[0] == token
            and cached[1].params == self.params  # new parameters: new neighbour lists
        ):
            return cached[1]
        model = ItemModel(load_rows(self.store), self.params)
        if token is not None:
            self._cached = (token, model)
        return model

    def use_catalogue(self, catalogue: Mapping[str, Any] | None) -> int:
        """Set (or with None clear) the item catalogue filters and names use; returns its size."""
        self.catalogue = None if catalogue is None else check_catalogue(catalogue)
        return 0 if self.catalogue is None else len(self.catalogue)

    def recommend(
        self,
        subject: str,
        k: int = 10,
        context: Mapping[str, Any] | None = None,
        *,
        where: Callable[[str], bool] | None = None,
    ) -> Recommendations:
        """Up to ``k`` items for ``subject``, each with its reason.

        Ranked by the subject's history when ``personalization`` has a basis for them and
        their items have neighbours; otherwise (unknown subject, no consent, cold start) by
        popularity this week, then overall, and an unknown subject and one without consent
        get exactly the same answer. ``context`` holds business filters (see
        :mod:`._filters`); ``where`` is the host's own item filter.
        """
        check_subject(subject)
        check_k(k)
        filt = check_context(context, self.catalogue, where)
        model = self.model()
        allowed = self._allowed(subject)
        record = read_record(self.vault, subject) if allowed else {}
        now_day = int(self.clock.now().timestamp()) // DAY_S
        if not record:
            why = "not enough history yet" if allowed else "personalization is off"
            return popular_answer(model, k, filt, now_day, why=why)
        seen = {i for i, x in record.items() if x.bought} if filt.exclude_bought else set()
        weights = history_weights(record, self.params.half_life_s)
        keep = _keeper(filt.keep, seen)
        ranked = rank(model, weights, k, keep=keep)
        answer = explain(ranked, record, self.catalogue)
        return popular_answer(model, k, filt, now_day, why="", first=answer, skip=seen)

    def goes_with(self, subject: str, items: Sequence[str]) -> list[dict[str, Any]]:
        """Journeys' recommendations provider: up to 4 items for a message after an order.

        :meth:`recommend` with the order's ``items`` excluded (so a subject without consent
        gets the popular items everyone gets), as ``[{"item", "reason"}]``.
        """
        if not isinstance(items, list | tuple) or len(items) > MAX_K:
            raise InvalidInput("invalid items", [Problem(where="items", what="a list of ids")])
        answer = self.recommend(subject, _MESSAGE_ITEMS, {"exclude": list(items)})
        return [{"item": r.item, "reason": r.explanation} for r in answer.items]

    def reads(self) -> dict[str, dict[str, list[str]]]:
        """What the item model reads, in the shape ``kit.reports.add_reads`` takes.

        The interaction events' time and item (``item``; a purchase's ``items`` lines too),
        for events collected for personalization (see ``_shared.update_record``).
        """
        fields = {f"events.{kind}" for kind in INTERACTIONS}
        fields |= {f"events.{kind}.item" for kind in INTERACTIONS} | {"events.purchase.items"}
        return {"recommendations.model": {"fields": sorted(fields), "categories": []}}

    def similar_items(self, item: str, k: int = 10) -> Recommendations:
        """Items most often chosen with ``item`` (pairs with at least min_support customers).

        An item neither in the catalogue (when set) nor supported by min_support customers is
        unknown (:class:`InvalidInput`): the answer must not reveal that fewer customers chose it.
        """
        check_item(item)
        check_k(k)
        model = self.model()
        row = model.rows.get(item)
        known = self.catalogue is not None and item in self.catalogue
        if not known and (row is None or row.n < self.params.min_support):
            raise InvalidInput("unknown item", [Problem(where="item", what="not a known item")])
        ranked = [(o, s, {item: s}) for s, o in model.neighbours(item)[:k]]
        return explain(ranked, {item: Interaction(1, 0, 1)}, self.catalogue, similar_to=item)

    def has_history(self, subject: str, now: datetime) -> bool:
        """The segment: a consenting subject with a record."""
        del now  # membership does not depend on the moment
        return self._allowed(subject) and bool(read_record(self.vault, subject))

    def dataset(self, purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The dataset: per subject with a record and a basis for ``purpose``, their counts.

        ``(subject, {"items", "interactions", "bought"})``; analytics bounds each subject's
        contribution. Item ids are not included.
        """
        if not isinstance(purpose, str) or self.basis.manifest.get_purpose(purpose) is None:
            raise InvalidInput("invalid purpose", [Problem(where="purpose", what="unknown")])
        for subject in self._subjects():
            if not self._basis_for(subject, purpose):
                continue
            record = read_record(self.vault, subject)
            if record:
                yield (
                    subject,
                    {
                        "items": len(record),
                        "interactions": sum(i.count for i in record.values()),
                        "bought": sum(i.bought for i in record.values()),
                    },
                )

    def export_section(self, subject: str, records: Sequence[ExportRecord]) -> Any:
        """The export section: the record and the logic involved (Art 15(1)(h))."""
        if not records:
            return None
        record = read_record(self.vault, subject)
        return {
            "items": {
                item: {"interactions": i.count, "last": i.last, "bought": i.bought}
                for item, i in sorted(record.items())
            },
            "logic": _LOGIC,
        }

    def _oldest(self, now: datetime) -> int:
        """The earliest last-interaction time personalization's retention period keeps."""
        purpose = self.basis.manifest.get_purpose(PURPOSE)
        if purpose is None:
            return -(2**62)
        return int(now.timestamp()) - purpose.retention_days * DAY_S

    def _allowed(self, subject: str) -> bool:
        return self._basis_for(subject, PURPOSE)

    def _basis_for(self, subject: str, purpose: str) -> bool:
        try:
            return bool(self.basis.purposes_with_basis(subject, (purpose,)))
        except PersonakitError:
            return False


def _keeper(keep: Callable[[str], bool], seen: set[str]) -> Callable[[str], bool]:
    if keep is keep_all:

        def unseen(item: str) -> bool:
            return item not in seen

        return unseen

    def test(item: str) -> bool:
        return item not in seen and keep(item)

    return test
