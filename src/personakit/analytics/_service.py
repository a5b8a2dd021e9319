"""``kit.analytics``: differentially private answers over datasets, against a budget ledger.

Each query: check everything (typed errors, nothing spent), build or reuse the plan of its
shape (:mod:`personakit.analytics._plan`), return a dry run's cost and interval, or a stored
answer for an identical query over an unchanged dataset, or refuse if the cap would be
exceeded; only then run OpenDP, and record the release (loss, answer, audit) in one
transaction that commits before the answer is returned.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

from personakit._clock import Clock
from personakit.analytics._dataset import (
    DEFAULT_ROWS_PER_SUBJECT,
    Dataset,
    build_dataset,
    events_datasets,
)
from personakit.analytics._ledger import BudgetLedger, check_name, check_text
from personakit.analytics._metrics import conversion, keyed_sums, metric
from personakit.analytics._plan import Plan, Plans, Shape
from personakit.analytics._queries import (
    bin_codes,
    check_bins,
    check_bounds,
    check_candidates,
    check_dataset_column,
    check_keys,
    group_sums,
    key_codes,
    mean_interval,
    number,
    numeric_values,
    rounded,
    typed,
)
from personakit.analytics._release import release
from personakit.analytics._result import Budget, DPResult, Loss, Privacy
from personakit.audit import AuditLog
from personakit.consent import BasisRule
from personakit.events import EventLog
from personakit.exceptions import InvalidInput, Problem
from personakit.storage import Store
from personakit.workflows import DatasetRegistry

__all__ = ["PURPOSE", "Analytics"]

#: The purpose every analysis runs under: only subjects with a basis for it are counted.
PURPOSE: Final = "analytics"
BUILTIN: Final = ("customers", "events", "orders")


class Analytics:
    """Differentially private queries (count, sum, mean, quantile, histogram, group-by, metrics).

    Every query takes the privacy to spend as ``epsilon`` (with ``delta`` for thresholded
    group-bys), ``rho`` (zCDP) or ``accuracy`` (the 95% noise half-width wanted; the cost is
    computed), ``dry_run`` (cost and interval, nothing spent), and ``actor`` and ``reason``
    (who asks and why: both go to the ledger and the audit log).
    """

    def __init__(
        self,
        *,
        ledger: BudgetLedger,
        registry: DatasetRegistry,
        builtin: Callable[[], dict[str, Dataset]],
        rows_per_subject: int = DEFAULT_ROWS_PER_SUBJECT,
    ) -> None:
        """Answer over ``builtin()`` datasets (built from the store) and ``registry``'s."""
        self.ledger = ledger
        self._registry = registry
        self._builtin = builtin
        self._rows_per_subject = rows_per_subject
        self._datasets: dict[str, Dataset] = {}
        self._lock = threading.Lock()
        #: Query plans by shape: reused by every query of the same shape.
        self.plans = Plans()

    @classmethod
    def build(
        cls,
        *,
        store: Store,
        audit: AuditLog,
        clock: Clock,
        mac: Callable[[bytes], bytes],
        registry: DatasetRegistry,
        subjects: Callable[[], Sequence[str]],
        basis: BasisRule,
        events: EventLog,
    ) -> Analytics:
        """Wire the service as the kit does: ledger in ``store``, built-in datasets from events."""

        def allowed(subject: str) -> bool:
            return bool(basis.purposes_with_basis(subject, (PURPOSE,)))

        def builtin() -> dict[str, Dataset]:
            return events_datasets(
                subjects(), allowed, lambda s: events.read(s, compact=False), purpose=PURPOSE
            )

        ledger = BudgetLedger(store, audit, clock, mac)
        return cls(ledger=ledger, registry=registry, builtin=builtin)

    def __repr__(self) -> str:
        """Render with the datasets built so far."""
        return f"Analytics(built={sorted(self._datasets)!r})"

    # -- datasets -----------------------------------------------------------------------

    def datasets(self) -> list[str]:
        """The names a query can use: built-in, registered and offered."""
        return sorted({*BUILTIN, *self._registry.names(), *self._datasets})

    def reads(self) -> dict[str, dict[str, list[str]]]:
        """What the built-in datasets read, in the shape ``kit.reports.add_reads`` takes.

        ``orders`` and ``customers`` read each purchase's time, channel and value
        (``value_cents``, or the ``items`` lines when absent); ``events`` reads every event's
        kind, channel and time (``events.*``) and no property. Only events collected for the
        analytics purpose are read; the categories are left to the manifest.
        """
        purchase = ["events.purchase", "events.purchase.items", "events.purchase.value_cents"]
        only = [PURPOSE]
        return {
            "dataset.orders": {"fields": purchase, "categories": [], "event_purposes": only},
            "dataset.customers": {"fields": purchase, "categories": [], "event_purposes": only},
            "dataset.events": {"fields": ["events.*"], "categories": [], "event_purposes": only},
        }

    def dataset(self, name: str) -> Dataset:
        """The dataset ``name``, built once (see :meth:`refresh`); unknown: InvalidInput."""
        check_name(name)
        with self._lock:
            found = self._datasets.get(name)
            if found is not None:
                return found
            if name in BUILTIN:
                self._datasets.update(self._builtin())
            elif name in self._registry:
                rows = self._registry.rows(name, PURPOSE)
                self._datasets[name] = build_dataset(
                    name, rows, rows_per_subject=self._rows_per_subject
                )
            else:
                raise InvalidInput(
                    "unknown dataset",
                    [Problem(where="dataset", what="not built in, registered or offered")],
                )
            return self._datasets[name]

    def refresh(self, name: str | None = None) -> None:
        """Forget built datasets (all, or ``name``): the next query reads the store again."""
        if name is not None:
            check_name(name)
        with self._lock:
            if name is None:
                self._datasets.clear()
            else:
                self._datasets.pop(name, None)

    def offer(self, dataset: Dataset) -> None:
        """Use an already built :class:`Dataset` under its name (replacing a built one)."""
        if not isinstance(dataset, Dataset):
            raise InvalidInput(
                "cannot offer dataset", [Problem(where="dataset", what="must be a Dataset")]
            )
        check_name(dataset.name)
        with self._lock:
            self._datasets[dataset.name] = dataset

    # -- budget -------------------------------------------------------------------------

    def budget(self, dataset: str) -> Budget:
        """Cap, spent, remaining and releases of ``dataset``."""
        return self.ledger.budget(check_name(dataset))

    def budgets(self) -> list[Budget]:
        """The budget of every dataset with a cap or a release."""
        return [self.ledger.budget(name) for name in self.ledger.datasets()]

    def set_budget(
        self,
        dataset: str,
        *,
        epsilon: float | None = None,
        delta: float | None = None,
        rho: float | None = None,
        actor: str = "system",
        reason: str = "budget set",
    ) -> Budget:
        """Set the cap of ``dataset``: ``epsilon`` (pure), ``epsilon`` and ``delta``, or ``rho``."""
        check_name(dataset)
        check_text(actor, "actor")
        check_text(reason, "reason")
        privacy = Privacy.parse(epsilon=epsilon, delta=delta, rho=rho)
        cap = Loss(
            model=privacy.model,
            epsilon=privacy.epsilon or 0.0,
            delta=privacy.delta or 0.0,
            rho=privacy.rho or 0.0,
        )
        return self.ledger.set_cap(dataset, cap, actor=actor, reason=reason)

    # -- queries ------------------------------------------------------------------------

    def count(self, dataset: str, **spend: Any) -> DPResult:
        """How many rows (for ``customers``: customers), noised; a non-negative integer."""
        ds, privacy, options = self._start(dataset, spend, [])
        shape = self._shape("count", "int", ds, privacy)
        query = {"kind": "count"}

        def run(plan: Plan) -> tuple[Any, Any]:
            return max(0, int(plan.measurement(ds.subjects))), rounded(plan.half_width)

        return self._release(ds, query, shape, run, {}, options)

    def sum(
        self,
        dataset: str,
        column: str,
        *,
        bounds: Sequence[float],
        impute: float | None = None,
        **spend: Any,
    ) -> DPResult:
        """The sum of ``column`` with each value clamped to ``bounds`` (money: integer cents)."""
        return self._numeric("sum", dataset, column, bounds, impute, spend)

    def mean(
        self,
        dataset: str,
        column: str,
        *,
        bounds: Sequence[float],
        impute: float | None = None,
        **spend: Any,
    ) -> DPResult:
        """The mean of ``column`` clamped to ``bounds``: a noisy sum over a noisy count."""
        return self._numeric("mean", dataset, column, bounds, impute, spend)

    def quantile(
        self,
        dataset: str,
        column: str,
        *,
        q: float,
        bounds: Sequence[float],
        candidates: Sequence[float] | None = None,
        impute: float | None = None,
        **spend: Any,
    ) -> DPResult:
        """The ``q``-quantile of ``column`` among ``candidates`` (default: 101 over ``bounds``)."""
        problems: list[Problem] = []
        alpha = (
            q
            if isinstance(q, float | int)
            and not isinstance(q, bool)
            and 0 < q < 1
            and math.isfinite(q)
            else None
        )
        if alpha is None:
            problems.append(Problem(where="q", what="a number strictly between 0 and 1"))
        ds, privacy, options = self._start(dataset, spend, problems, column=column)
        col = ds.column(column)
        lower, upper = check_bounds(bounds, col, problems)
        values = numeric_values(col, impute, problems)
        points = check_candidates(candidates, lower, upper, col, problems) if not problems else ()
        raise_problems(problems)
        assert values is not None
        assert alpha is not None
        shape = self._shape(
            "quantile",
            col.kind,
            ds,
            privacy,
            lower=lower,
            upper=upper,
            alpha=float(alpha),
            candidates=points,
        )
        query = {
            "kind": "quantile",
            "column": column,
            "q": float(alpha),
            "bounds": [lower, upper],
            "candidates": list(points),
            "impute": impute,
        }

        def run(plan: Plan) -> tuple[Any, Any]:
            return number(plan.measurement(typed(values, col.kind))), None

        return self._release(
            ds,
            query,
            shape,
            run,
            {"value_bounds": [lower, upper], "candidates": len(points)},
            options,
        )

    def histogram(
        self,
        dataset: str,
        column: str,
        *,
        bins: Sequence[float],
        impute: float | None = None,
        **spend: Any,
    ) -> DPResult:
        """Counts of ``column`` in explicit ``bins`` (edges); values outside count apart."""
        problems: list[Problem] = []
        ds, privacy, options = self._start(dataset, spend, problems, column=column)
        col = ds.column(column)
        edges = check_bins(bins, problems)
        values = numeric_values(col, impute, problems)
        raise_problems(problems)
        assert values is not None
        shape = self._shape("histogram", "int", ds, privacy, size=len(edges) - 1)
        query = {"kind": "histogram", "column": column, "bins": list(edges), "impute": impute}

        def run(plan: Plan) -> tuple[Any, Any]:
            counts = [max(0, int(c)) for c in plan.measurement(bin_codes(values, edges))]
            value = {
                "bins": [
                    {"lower": edges[i], "upper": edges[i + 1], "count": counts[i]}
                    for i in range(len(edges) - 1)
                ],
                "outside": counts[-1],
            }
            return value, rounded(plan.half_width)

        return self._release(ds, query, shape, run, {"bins": len(edges) - 1}, options)

    def groupby(
        self,
        dataset: str,
        by: str,
        *,
        keys: Sequence[Any] | None = None,
        column: str | None = None,
        bounds: Sequence[float] | None = None,
        impute: float | None = None,
        **spend: Any,
    ) -> DPResult:
        """Count (or, with ``column`` and ``bounds``, sum) per group of ``by``.

        With public ``keys`` every key gets a value (rows of other keys are left out); without,
        the keys come from the data and only those above a noisy threshold are released, which
        needs ``epsilon`` and ``delta``. A sum over unknown keys is two releases, each with half
        the privacy: the thresholded count finds the keys, then the sums over those keys.
        """
        problems: list[Problem] = []
        ds, privacy, options = self._start(dataset, spend, problems, column=by, where="by")
        group = ds.column(by, "by")
        if group.kind == "float":
            problems.append(Problem(where="by", what="group by a category or integer column"))
        if keys is None:
            raise_problems(problems)
            if column is not None:
                return keyed_sums(
                    self, dataset, by, column, bounds=bounds, impute=impute, spend=spend
                )
            return self._keys_count(ds, by, privacy, options)
        listed = check_keys(keys, group, problems)
        values = None
        lower = upper = 0.0
        if column is not None:
            col = check_dataset_column(ds, column, "column", problems)
            if col is not None:
                lower, upper = check_bounds(bounds, col, problems)
                values = numeric_values(col, impute, problems)
        raise_problems(problems)
        codes = key_codes(group, listed)
        if values is None:
            shape = self._shape("groupby_count", "int", ds, privacy, size=len(listed))
            query: dict[str, Any] = {"kind": "groupby_count", "by": by, "keys": list(listed)}

            def run(plan: Plan) -> tuple[Any, Any]:
                counts = plan.measurement(codes)
                return {
                    str(k): max(0, int(c)) for k, c in zip(listed, counts, strict=False)
                }, rounded(plan.half_width)

            return self._release(ds, query, shape, run, {"keys": len(listed)}, options)
        col = ds.column(column)
        shape = self._shape(
            "groupby_sum", col.kind, ds, privacy, lower=lower, upper=upper, size=len(listed)
        )
        query = {
            "kind": "groupby_sum",
            "by": by,
            "keys": list(listed),
            "column": column,
            "bounds": [lower, upper],
            "impute": impute,
        }
        clamped = values.clip(lower, upper)

        def run_sum(plan: Plan) -> tuple[Any, Any]:
            sums = plan.measurement(group_sums(clamped, codes, len(listed), col.kind))
            return {str(k): number(s) for k, s in zip(listed, sums, strict=False)}, rounded(
                plan.half_width
            )

        return self._release(
            ds,
            query,
            shape,
            run_sum,
            {"keys": len(listed), "value_bounds": [lower, upper]},
            options,
        )

    def metric(
        self,
        name: str,
        *,
        upper: int | None = None,
        cohorts: Sequence[int] | None = None,
        segments: Sequence[str] | None = None,
        **spend: Any,
    ) -> DPResult:
        """A named shop metric (see :func:`personakit.analytics._metrics.metric`).

        ``aov`` (average order value, orders within [0, ``upper``] cents), ``repeat_rate``
        (share of buying customers with two orders or more), ``clv_by_cohort`` (mean customer
        value within [0, ``upper``] per first-order month in ``cohorts``, ``yyyymm``),
        ``segment_sizes`` (members per segment named in ``segments``, over the
        ``personalization.segments`` dataset).
        """
        return metric(self, name, upper=upper, cohorts=cohorts, spend=spend, segments=segments)

    def conversion(
        self,
        dataset: str,
        arm: str,
        outcome: str,
        *,
        treatment: str,
        holdout: str,
        **spend: Any,
    ) -> DPResult:
        """Conversion per arm and uplift of ``treatment`` over ``holdout``, with a 95% interval.

        Over a registered dataset with an ``arm`` category column and a 0/1 ``outcome``
        column (experiments, journeys); see :func:`personakit.analytics._metrics.conversion`.
        """
        return conversion(self, dataset, arm, outcome, arms=(treatment, holdout), spend=spend)

    # -- machinery ----------------------------------------------------------------------

    def _numeric(  # noqa: PLR0917 (private: one call per public method)
        self,
        kind: str,
        dataset: str,
        column: str,
        bounds: Sequence[float],
        impute: object,
        spend: dict[str, Any],
    ) -> DPResult:
        problems: list[Problem] = []
        ds, privacy, options = self._start(dataset, spend, problems, column=column)
        col = ds.column(column)
        lower, upper = check_bounds(bounds, col, problems)
        values = numeric_values(col, impute, problems)
        raise_problems(problems)
        assert values is not None
        shape = self._shape(kind, col.kind, ds, privacy, lower=lower, upper=upper)
        query = {"kind": kind, "column": column, "bounds": [lower, upper], "impute": impute}
        data = typed(values, col.kind)

        def run(plan: Plan) -> tuple[Any, Any]:
            if kind == "sum":
                return number(plan.measurement(data)), rounded(plan.half_width)
            total, count = plan.measurement(data)
            total_plan, count_plan = plan.parts
            mean = float(total) / max(1, int(count))
            mean = min(max(mean, lower), upper)  # post-processing: a mean lies within the bounds
            interval = mean_interval(float(total), int(count), total_plan, count_plan, lower, upper)
            return mean, interval

        return self._release(ds, query, shape, run, {"value_bounds": [lower, upper]}, options)

    def _keys_count(
        self, ds: Dataset, by: str, privacy: Privacy, options: dict[str, Any]
    ) -> DPResult:
        group = ds.column(by, "by")
        shape = self._shape("keys_count", "int", ds, privacy)
        query = {"kind": "groupby_count", "by": by, "keys": None}

        def run(plan: Plan) -> tuple[Any, Any]:
            released = plan.measurement(group.values)
            value = {}
            for code, count in sorted(released.items()):
                if group.kind == "category":
                    if 0 <= code < len(group.labels):
                        value[group.labels[code]] = max(0, int(count))
                else:
                    value[str(code)] = max(0, int(count))
            return value, rounded(plan.half_width)

        return self._release(ds, query, shape, run, {"threshold": True}, options)

    def _start(
        self,
        dataset: object,
        spend: dict[str, Any],
        problems: list[Problem],
        *,
        column: object = None,
        where: str = "column",
    ) -> tuple[Dataset, Privacy, dict[str, Any]]:
        allowed = {"epsilon", "delta", "rho", "accuracy", "dry_run", "actor", "reason", "reuse"}
        problems.extend(
            Problem(where=str(key)[:64], what="unknown option")
            for key in spend
            if key not in allowed
        )
        options = {
            "dry_run": spend.get("dry_run", False),
            "actor": spend.get("actor", "system"),
            "reason": spend.get("reason", "unspecified"),
            "reuse": spend.get("reuse", True),
        }
        problems.extend(
            Problem(where=flag, what="must be true or false")
            for flag in ("dry_run", "reuse")
            if not isinstance(options[flag], bool)
        )
        for text in ("actor", "reason"):
            try:
                check_text(options[text], text)
            except InvalidInput as exc:
                problems.extend(exc.problems)
        privacy = Privacy()
        try:
            privacy = Privacy.parse(
                spend.get("epsilon"), spend.get("delta"), spend.get("rho"), spend.get("accuracy")
            )
        except InvalidInput as exc:
            problems.extend(exc.problems)
        try:
            ds = self.dataset(dataset)  # type: ignore[arg-type]  # checked inside
        except InvalidInput as exc:
            problems.extend(exc.problems)
            raise_problems(problems)
            raise
        if column is not None:
            check_dataset_column(ds, column, where, problems)
        raise_problems(problems)
        return ds, privacy, options

    def _shape(self, kind: str, dtype: str, ds: Dataset, privacy: Privacy, **extra: Any) -> Shape:
        return Shape(
            kind=kind,
            dtype=dtype,
            d_in=ds.rows_per_subject,
            epsilon=privacy.epsilon,
            delta=privacy.delta,
            rho=privacy.rho,
            accuracy=privacy.accuracy,
            **extra,
        )

    def _release(  # noqa: PLR0917 (private: the one path every query takes)
        self,
        ds: Dataset,
        query: dict[str, Any],
        shape: Shape,
        run: Callable[[Plan], tuple[Any, Any]],
        bounds: dict[str, Any],
        options: dict[str, Any],
    ) -> DPResult:
        return release(self.ledger, self.plans, ds, query, shape, run, bounds, options)


def raise_problems(problems: list[Problem]) -> None:
    """Raise :class:`InvalidInput` listing ``problems``, if any."""
    if problems:
        raise InvalidInput("invalid query", problems)
