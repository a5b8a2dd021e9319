"""The privacy-budget ledger: per dataset, a cap and every release's exact loss, audited.

Keys (all global state, none per subject)::

    dp/cap/<dataset>             the cap (a Loss)
    dp/head/<dataset>            {"seq": releases so far, "spent": the summed Loss}
    dp/r/<dataset>/<seq>         one release: when, who, why, what, its loss, its answer key
    dp/ans/<dataset>/<key>       the released answer, under a keyed MAC of (dataset version,
                                 query, privacy): a repeated identical query gets it back

A release is one store transaction: re-read the head (on PostgreSQL this takes the head's
advisory lock, so releases of one dataset are serial across processes and hosts; on the
embedded store every write transaction is ``BEGIN IMMEDIATE``, serial anyway), refuse if the
cap would be exceeded, then write the entry, the head, the answer and the audit entry. It
commits before the answer is returned; a crash before the commit releases nothing, and after
it a retry finds the stored answer (the same value, never fresh noise for free).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from personakit._clock import Clock
from personakit._codec import canonical_json, loads
from personakit.analytics._result import Budget, Loss
from personakit.audit import AuditLog
from personakit.exceptions import BudgetExceeded, InvalidInput, Problem
from personakit.storage import Store

__all__ = ["BudgetLedger", "Release"]

_CAP: Final = "dp/cap/"
_HEAD: Final = "dp/head/"
_RELEASE: Final = "dp/r/"
_ANSWER: Final = "dp/ans/"
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_TEXT_MAX: Final = 200

#: One release as stored: a JSON object (see :meth:`BudgetLedger.record`).
Release = dict[str, Any]


def check_name(name: object, where: str = "dataset") -> str:
    """``name`` if it is a valid dataset name, else :class:`InvalidInput`."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidInput(
            "invalid dataset name", [Problem(where=where, what="must match [a-z][a-z0-9_.-]{0,63}")]
        )
    return name


def check_text(value: object, where: str) -> str:
    """A short printable operator text (actor, reason); no personal data belongs in it."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > _TEXT_MAX
        or not value.isprintable()
    ):
        raise InvalidInput(
            f"invalid {where}",
            [Problem(where=where, what=f"1 to {_TEXT_MAX} printable characters")],
        )
    return value


class BudgetLedger:
    """Caps, spends and stored answers of every dataset, in the data store, audited."""

    def __init__(
        self, store: Store, audit: AuditLog, clock: Clock, mac: Callable[[bytes], bytes]
    ) -> None:
        """Keep the ledger in ``store``; ``mac`` keys the answer cache (no dictionary attack)."""
        self._store = store
        self._audit = audit
        self._clock = clock
        self._mac = mac

    def __repr__(self) -> str:
        """Render without state."""
        return "BudgetLedger()"

    def cap(self, dataset: str) -> Loss | None:
        """The cap of ``dataset``, or None when none is set (nothing may be released)."""
        check_name(dataset)
        raw = self._store.get(_CAP + dataset)
        return None if raw is None else Loss.from_json(loads(raw))

    def set_cap(self, dataset: str, cap: Loss, *, actor: str, reason: str) -> Budget:
        """Set (or change) the cap; audited. A cap below what was spent blocks new releases."""
        with self._store.transaction():
            spent, releases = self._head(dataset)
            if (
                releases
                and spent.model != cap.model
                and not (spent.model == "pure" and cap.model == "approx")
            ):
                raise InvalidInput(
                    "cannot change the privacy model of a dataset with releases",
                    [Problem(where="cap", what="same model as the releases so far")],
                )
            self._store.put(_CAP + dataset, canonical_json(cap.to_json()))
            self._audit.append(
                "dp.budget_set",
                actor=actor,
                data={"dataset": dataset, "cap": cap.to_json(), "reason": reason},
            )
        return self.budget(dataset)

    def _head(self, dataset: str) -> tuple[Loss, int]:
        raw = self._store.get(_HEAD + dataset)
        if raw is None:
            return Loss.zero("pure"), 0
        head = loads(raw)
        return Loss.from_json(head["spent"]), int(head["seq"])

    def budget(self, dataset: str) -> Budget:
        """Cap, spent, remaining and number of releases of ``dataset``."""
        check_name(dataset)
        spent, releases = self._head(dataset)
        cap = self.cap(dataset)
        if cap is not None and releases == 0:
            spent = Loss.zero(cap.model)
        return Budget(dataset=dataset, cap=cap, spent=spent, releases=releases)

    def datasets(self) -> list[str]:
        """Every dataset with a cap or a release, sorted."""
        names = {key[len(_CAP) :] for key, _ in self._store.scan(_CAP)}
        names.update(key[len(_HEAD) :] for key, _ in self._store.scan(_HEAD))
        return sorted(names)

    def releases(self, dataset: str) -> list[Release]:
        """The releases of ``dataset``, oldest first."""
        check_name(dataset)
        return [loads(raw) for _, raw in self._store.scan(f"{_RELEASE}{dataset}/")]

    def answer_key(self, dataset: str, version: str, query: dict[str, Any]) -> str:
        """The stored answer's key: a MAC over the dataset's version and the whole query."""
        body = canonical_json({"dataset": dataset, "version": version, "query": query})
        return self._mac(body).hex()[:48]

    def stored(self, dataset: str, key: str) -> dict[str, Any] | None:
        """The answer stored under ``key``, or None."""
        check_name(dataset)
        if not isinstance(key, str) or not key.isalnum() or len(key) > 64:  # noqa: PLR2004
            raise InvalidInput("invalid answer key", [Problem(where="key", what="hexadecimal")])
        raw = self._store.get(f"{_ANSWER}{dataset}/{key}")
        return None if raw is None else dict(loads(raw))

    def check(self, dataset: str, loss: Loss) -> Budget:
        """Refuse (before OpenDP runs) a release of ``loss`` that the cap does not allow."""
        budget = self.budget(dataset)
        _refuse(budget, loss)
        return budget

    def record(
        self,
        dataset: str,
        key: str,
        loss: Loss,
        answer: dict[str, Any],
        *,
        query: dict[str, Any],
        version: str,
        actor: str,
        reason: str,
        replace: bool = False,
    ) -> tuple[int, dict[str, Any] | None]:
        """Spend ``loss`` and store ``answer`` in one transaction; the critical section.

        Returns ``(seq, None)`` for a new release, or ``(seq, stored)`` when another process
        stored an answer under ``key`` first (ours is then discarded, never returned, and
        nothing is spent); with ``replace`` (a fresh release asked for) ours replaces it.
        Raises :class:`BudgetExceeded` if the cap no longer allows it.
        """
        answer_key = f"{_ANSWER}{dataset}/{key}"
        with self._store.transaction():
            spent, seq = self._head(dataset)
            raw = self._store.get(answer_key)
            if raw is not None and not replace:
                stored = dict(loads(raw))
                return int(stored["release"]), stored
            cap = self.cap(dataset)
            _refuse(Budget(dataset=dataset, cap=cap, spent=spent, releases=seq), loss)
            assert cap is not None  # _refuse raised otherwise
            seq += 1
            total = Loss(
                model=cap.model, epsilon=spent.epsilon, delta=spent.delta, rho=spent.rho
            ).plus(loss)
            entry = {
                "seq": seq,
                "at": self._clock.now().isoformat(),
                "actor": actor,
                "reason": reason,
                "query": query,
                "version": version,
                "loss": loss.to_json(),
                "answer": key,
            }
            stored_answer = {**answer, "release": seq, "loss": loss.to_json()}
            self._store.put(f"{_RELEASE}{dataset}/{seq:012d}", canonical_json(entry))
            self._store.put(answer_key, canonical_json(stored_answer))
            self._store.put(_HEAD + dataset, canonical_json({"seq": seq, "spent": total.to_json()}))
            self._audit.append(
                "dp.release",
                actor=actor,
                data={
                    "dataset": dataset,
                    "release": seq,
                    "query": query.get("kind"),
                    "loss": loss.to_json(),
                    "reason": reason,
                },
            )
        return seq, None


def _refuse(budget: Budget, loss: Loss) -> None:
    cap = budget.cap
    if cap is None:
        raise BudgetExceeded(f"no privacy budget is set for dataset {budget.dataset!r}")
    if (cap.model == "zcdp") != (loss.model == "zcdp") or (cap.model == "pure" and loss.delta > 0):
        raise InvalidInput(
            "privacy model does not match the dataset's cap",
            [
                Problem(
                    where="privacy",
                    what=f"the cap is {cap.model}: use "
                    + (
                        "rho"
                        if cap.model == "zcdp"
                        else "epsilon" + (" and delta" if cap.model == "approx" else "")
                    ),
                )
            ],
        )
    if not budget.spent.plus(loss).within(cap):
        raise BudgetExceeded(
            f"release would exceed the privacy budget of dataset {budget.dataset!r}"
        )
