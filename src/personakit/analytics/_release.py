"""The one path every release takes: dry run, stored answer, refusal, OpenDP, ledger.

Order matters: everything is checked before (the caller), the plan's exact loss is known before
anything runs, a dry run or a stored answer returns here, a release the cap does not allow is
refused *before* OpenDP runs, and the answer is returned only after the ledger transaction
(loss, answer, audit) committed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from personakit.analytics._dataset import Dataset
from personakit.analytics._ledger import BudgetLedger
from personakit.analytics._plan import Plan, Plans, Shape
from personakit.analytics._queries import rounded
from personakit.analytics._result import DPResult, Loss
from personakit.exceptions import InvalidInput, PersonakitError, Problem

__all__ = ["release"]


def release(  # noqa: PLR0917 (the one path every query takes)
    ledger: BudgetLedger,
    plans: Plans,
    ds: Dataset,
    query: dict[str, Any],
    shape: Shape,
    run: Callable[[Plan], tuple[Any, Any]],
    bounds: dict[str, Any],
    options: dict[str, Any],
) -> DPResult:
    """Release ``query`` over ``ds`` (see the module docstring for the order of the steps)."""
    plan = _plan(plans, shape)
    bounds = {"rows_per_subject": ds.rows_per_subject, **bounds}
    common: dict[str, Any] = {
        "bounds": bounds,
        "mechanism": plan.mechanism,
        "dataset": ds.name,
        "version": ds.version,
    }
    query = {
        **query,
        "privacy": {
            "epsilon": shape.epsilon,
            "delta": shape.delta,
            "rho": shape.rho,
            "accuracy": shape.accuracy,
        },
    }
    key = ledger.answer_key(ds.name, ds.version, query)
    if options["dry_run"]:
        # what it would cost now: nothing when the same answer is stored and may be reused
        stored = ledger.stored(ds.name, key) if options["reuse"] else None
        return DPResult(
            value=None,
            interval=rounded(plan.half_width),
            loss=plan.loss if stored is None else Loss.zero(plan.loss.model),
            spent_now=False,
            dry_run=True,
            **common,
        )
    if options["reuse"]:
        stored = ledger.stored(ds.name, key)
        if stored is not None:
            return _from_stored(stored, common)
    ledger.check(ds.name, plan.loss)  # refused here, before OpenDP runs
    try:
        value, interval = run(plan)
    except PersonakitError:
        raise
    except Exception as exc:  # OpenDP refused the data (an overflow, say): nothing released
        raise InvalidInput(
            "the query cannot run on this dataset",
            [Problem(where="query", what=type(exc).__name__)],
        ) from exc
    answer = {
        "value": value,
        "interval": interval,
        "mechanism": plan.mechanism,
        "bounds": bounds,
    }
    seq, stored = ledger.record(
        ds.name,
        key,
        plan.loss,
        answer,
        query=query,
        version=ds.version,
        actor=options["actor"],
        reason=options["reason"],
        replace=not options["reuse"],
    )
    if stored is not None:
        return _from_stored(stored, common)
    return DPResult(
        value=value,
        interval=interval,
        loss=plan.loss,
        spent_now=True,
        dry_run=False,
        release=seq,
        **common,
    )


def _plan(plans: Plans, shape: Shape) -> Plan:
    try:
        return plans.get(shape)
    except PersonakitError:
        raise
    except Exception as exc:  # OpenDP refused the shape (bounds too large for a sum, say)
        raise InvalidInput(
            "no mechanism for this query", [Problem(where="query", what=type(exc).__name__)]
        ) from exc


def _from_stored(stored: Mapping[str, Any], common: dict[str, Any]) -> DPResult:
    return DPResult(
        value=stored["value"],
        interval=stored["interval"],
        loss=Loss.zero(Loss.from_json(stored["loss"]).model),
        spent_now=False,
        dry_run=False,
        release=int(stored["release"]),
        **common,
    )
