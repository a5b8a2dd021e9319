"""``kit.predict``: statistics kept on ingest, a fitted model, explained scores, segments.

The service registers with the workflows layer and imports no other capability:

* an events hook keeps each customer's :class:`PurchaseStats` (only from purchases collected
  for ``personalization``, the manifest's profiling purpose), sealed in the subject's vault;
  a merge hook folds a linked subject's statistics into the survivor's;
* the record kind ``predictive`` (purpose ``personalization``): withdrawal, objection and
  erasure delete the statistics, so the customer's predictions go with them and the next fit
  leaves them out; export shows the statistics, the predictions and the logic involved;
* segments ``predictive.at_risk``, ``predictive.likely_to_buy_soon``,
  ``predictive.high_value``; the dataset ``predictive.scores``.

The fitted parameters are aggregates over at least :data:`MIN_CUSTOMERS` customers and hold
nothing of any one of them; they live in the data store under ``x/predictive/model``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from attrs import define, field, frozen

from personakit._args import check_moment, raise_problems
from personakit._clock import Clock
from personakit._codec import canonical_json, loads
from personakit._vault import Vault, check_subject
from personakit.consent import BasisRule
from personakit.events import Event
from personakit.exceptions import InvalidInput, PersonakitError, Problem
from personakit.predictive._attribution import (
    MODELS,
    AttributionModel,
    attribute,
    suppress_small_cells,
)
from personakit.predictive._channels import ENGAGEMENTS
from personakit.predictive._options import ScoreOptions, check_now, check_progress
from personakit.predictive._params import (
    BgNbdParams,
    GammaGammaParams,
    Prediction,
    predict,
)
from personakit.predictive._paths import paths_from_events
from personakit.predictive._responsiveness import Responsiveness
from personakit.predictive._stats import PurchaseStats, order_cents
from personakit.storage import Store
from personakit.workflows import ExportRecord, RecordKind, Registries

__all__ = ["FitSummary", "Predictive"]

#: The purpose predictions are made for: the manifest's one that allows profiling.
PURPOSE: Final = "personalization"
KIND: Final = "predictive"
_NAME: Final = "stats"
_MODEL_KEY: Final = "x/predictive/model"
_MAX_DAYS: Final = 3650
_LOGIC: Final = (
    "BG/NBD (Fader, Hardie and Lee 2005): while active, a customer buys at a personal rate "
    "drawn from a gamma distribution across customers, and after each purchase stops for good "
    "with a personal probability drawn from a beta distribution. From how many times you bought "
    "again (frequency), when you last bought (recency) and how long you have been a customer "
    "(age), it estimates the probability you are still active and how many purchases to expect. "
    "Gamma-Gamma (Fader and Hardie 2013): your expected order value is your average repeat order "
    "value shrunk towards the shop's average, the more so the fewer orders you made. Lifetime "
    "value is expected purchases times expected order value, discounted monthly."
)


@frozen(kw_only=True)
class FitSummary:
    """What :meth:`Predictive.fit` fitted: both models, when, over how many customers."""

    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    fitted_at: datetime
    customers: int
    excluded: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON summary (the CLI prints it)."""
        return {
            "bgnbd": self.bgnbd.as_dict(),
            "gamma_gamma": self.gamma_gamma.as_dict(),
            "fitted_at": self.fitted_at.isoformat(),
            "customers": self.customers,
            "excluded_without_basis": self.excluded,
            "time_unit": "week",
        }


def _summary_from_json(doc: Any) -> FitSummary:
    return FitSummary(
        bgnbd=BgNbdParams(**doc["bgnbd"]),
        gamma_gamma=GammaGammaParams(**doc["gamma_gamma"]),
        fitted_at=datetime.fromisoformat(doc["fitted_at"]),
        customers=int(doc["customers"]),
        excluded=int(doc["excluded_without_basis"]),
    )


@define
class Predictive:
    """Predictive customer analytics over the kit's purchases (``kit.predict``)."""

    store: Store
    vault: Vault
    basis: BasisRule
    clock: Clock
    _subjects: Callable[[], list[str]]
    _read_events: Callable[[str], list[Event]]
    channels: Responsiveness
    options: ScoreOptions = field(factory=ScoreOptions)
    # The parsed model and the bytes it came from: a score re-reads the bytes (another process
    # may have refitted) but parses them only when they changed.
    _parsed: tuple[bytes, FitSummary] | None = field(default=None, init=False)

    def __repr__(self) -> str:
        """Render with whether a model is fitted."""
        return f"Predictive(fitted={self.store.get(_MODEL_KEY) is not None})"

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
    ) -> Predictive:
        """Wire the service and register its record kind, hooks, segments and dataset."""
        service = cls(
            store=store,
            vault=vault,
            basis=basis,
            clock=clock,
            subjects=subjects,
            read_events=read_events,
            channels=Responsiveness(store=store, vault=vault, allowed=_Allowed(basis)),
        )
        registries.record_kinds.register(
            RecordKind(
                name=KIND,
                owner="predictive",
                description="purchase statistics (first/last purchase day, purchase days, "
                "spend) from which churn risk, expected purchases and lifetime value are scored",
                purposes=(PURPOSE,),
                section="predictions",
                exporter=service.export_section,
                retention=service.sweep,
                on_withdrawal=service.forget,
            )
        )
        registries.hooks.on_events("predictive", service.on_events)
        registries.hooks.on_merge("predictive", service.on_merge)
        registries.hooks.on_events("predictive.channels", service.channels.on_events)
        registries.hooks.on_merge("predictive.channels", service.channels.on_merge)
        service.channels.register(registries)
        for name, member, description in (
            ("predictive.at_risk", service.at_risk, "likely lapsed customers who were valuable"),
            ("predictive.likely_to_buy_soon", service.likely_to_buy_soon, "a purchase expected"),
            ("predictive.high_value", service.high_value, "high expected lifetime value"),
        ):
            registries.segments.register(name, member, owner="predictive", description=description)
        registries.datasets.register(
            "predictive.scores",
            service.dataset,
            owner="predictive",
            description="per customer: probability active, expected purchases, lifetime value",
        )
        return service

    # -- statistics ------------------------------------------------------------------------

    def on_events(self, subject: str, events: Sequence[Event]) -> None:
        """The events hook: fold purchases collected for profiling into the statistics."""
        purchases = [e for e in events if e.kind == "purchase" and PURPOSE in e.purposes]
        if not purchases:
            return
        stats = self.stats(subject)
        for event in purchases:
            day = event.at.astimezone(UTC).date()
            cents = order_cents(event.properties)
            stats = PurchaseStats.start(day, cents) if stats is None else stats.add(day, cents)
        assert stats is not None
        self.vault.put(subject, KIND, _NAME, stats.to_bytes())

    def on_merge(self, source: str, target: str) -> None:
        """The merge hook: the survivor's statistics cover both histories."""
        mine = self.stats(source)
        if mine is None:
            return
        theirs = self.stats(target)
        merged = mine if theirs is None else theirs.merge(mine)
        self.vault.put(target, KIND, _NAME, merged.to_bytes())
        self.vault.delete(source, KIND, _NAME)

    def stats(self, subject: str) -> PurchaseStats | None:
        """``subject``'s purchase statistics, or None (InvalidInput for a non-pseudonym)."""
        raw = self.vault.get(check_subject(subject), KIND, _NAME)
        return None if raw is None else PurchaseStats.from_bytes(raw)

    def forget(self, subject: str, purpose: str) -> int:
        """The withdrawal eraser: delete the statistics (and so every prediction)."""
        del purpose  # the kind serves one purpose; the registry calls it only for that one
        return int(self.vault.delete(check_subject(subject), KIND, _NAME))

    def sweep(self, subject: str, now: datetime) -> int:
        """The retention sweeper: delete statistics whose last purchase is past the period.

        The period is ``personalization``'s in the manifest, counted from the last purchase
        (the statistics' last activity) whatever the purpose's ``from`` says: they hold no
        older fact that could outlive a newer one.
        """
        problems: list[Problem] = []
        moment = check_moment(now, "now", problems)
        raise_problems("invalid sweep", problems)
        assert moment is not None
        stats = self.stats(subject)
        purpose = self.basis.manifest.get_purpose(PURPOSE)
        if stats is None or purpose is None:
            return 0
        if (moment.date() - stats.last).days <= purpose.retention_days:
            return 0
        return int(self.vault.delete(subject, KIND, _NAME))

    def _has_basis(self, subject: str) -> bool:
        return self._basis_for(subject, PURPOSE)

    def _basis_for(self, subject: str, purpose: str) -> bool:
        return _Allowed(self.basis)(subject, purpose)

    # -- the model -------------------------------------------------------------------------

    def fit(
        self,
        *,
        now: datetime | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> FitSummary:
        """Fit BG/NBD and Gamma-Gamma on every customer with a basis and a purchase; keep it.

        Customers without a basis for ``personalization`` are left out (counted in
        ``excluded``). Raises :class:`InsufficientData` naming what is missing when too few
        customers or repeat buyers remain, :class:`~personakit.exceptions.ConfigurationError`
        when numpy / scipy are not installed (``personakit[predict]``), and
        :class:`InvalidInput` for a bad ``now`` or ``progress``.
        """
        at = check_now(now, self.clock)
        check_progress(progress)
        fit_bgnbd, fit_gamma_gamma = _fitters()
        subjects = self._subjects()
        rows: list[tuple[float, float, float, float]] = []
        excluded = 0
        for done, subject in enumerate(subjects, start=1):
            if self._has_basis(subject):
                stats = self.stats(subject)
                if stats is not None:
                    rows.append(stats.model_inputs(at))
            else:
                excluded += 1
            if progress is not None:
                progress(done, len(subjects))
        columns = list(zip(*rows, strict=True)) or [(), (), (), ()]
        bgnbd = fit_bgnbd(columns[0], columns[1], columns[2])
        gamma_gamma = fit_gamma_gamma(columns[0], columns[3])
        summary = FitSummary(
            bgnbd=bgnbd,
            gamma_gamma=gamma_gamma,
            fitted_at=at,
            customers=len(rows),
            excluded=excluded,
        )
        self.store.put(_MODEL_KEY, canonical_json(summary.as_dict()))
        self.channels.refresh(subjects)
        return summary

    def reads(self) -> dict[str, dict[str, list[str]]]:
        """What predictive analytics reads, in the shape ``kit.reports.add_reads`` takes.

        The purchase model reads each purchase's time and value (``value_cents``, or the
        ``items`` lines when absent); channel responsiveness reads the marketing engagement
        events and the purchases after them; attribution reads every event's channel and time.
        """
        purchase = ["events.purchase", "events.purchase.items", "events.purchase.value_cents"]
        engagements = [f"events.{kind}" for kind in sorted(ENGAGEMENTS)]
        return {
            "predictive.purchases": {"fields": purchase, "categories": []},
            "predictive.responsiveness": {
                "fields": sorted({"events.purchase", *engagements}),
                "categories": [],
            },
            "predictive.attribution": {"fields": ["events.*"], "categories": []},
        }

    def model(self) -> FitSummary | None:
        """The last fitted model, or None."""
        raw = self.store.get(_MODEL_KEY)
        if raw is None:
            return None
        if self._parsed is None or self._parsed[0] != raw:
            self._parsed = (raw, _summary_from_json(loads(raw)))
        return self._parsed[1]

    def score(
        self,
        subject: str,
        *,
        now: datetime | None = None,
        options: ScoreOptions | None = None,
    ) -> Prediction:
        """``subject``'s predictions with their explanation; O(1) from its statistics.

        Without a basis for ``personalization``, without a purchase or without a fitted model,
        the answer is the non-personalized default (the shop's averages) with the reason.
        Raises :class:`InvalidInput` for a non-pseudonym, a bad ``now`` or ``options``.
        """
        check_subject(subject)
        at = check_now(now, self.clock)
        chosen = ScoreOptions.check(options) if options is not None else self.options
        model = self.model()
        if model is None:
            return _default("no model fitted yet", chosen)
        if not self._has_basis(subject):
            return _default(f"no lawful basis for {PURPOSE}", chosen, model)
        stats = self.stats(subject)
        if stats is None:
            return _default("no purchase recorded", chosen, model)
        return predict(
            model.bgnbd,
            model.gamma_gamma,
            stats.model_inputs(at),
            horizon_days=chosen.horizon_days,
            clv_months=chosen.clv_months,
            annual_discount=chosen.annual_discount,
        )

    # -- what others read ------------------------------------------------------------------

    def at_risk(self, subject: str, now: datetime) -> bool:
        """Valuable once, now likely lapsed: low P(active) or a long-overdue next purchase.

        BG/NBD gives a customer with no repeat purchase P(active) = 1 by construction, so the
        test also asks whether the median wait for their next purchase has long passed.
        """
        found = self._personal(subject, now)
        if found is None:
            return False
        prediction, stats = found
        spent = stats.total_cents / 100
        overdue = prediction.inputs["age_days"] - prediction.inputs["recency_days"]
        lapsed = prediction.p_alive < self.options.at_risk_p_alive or (
            prediction.inputs["repeat_purchases"] == 0
            and overdue > 2 * prediction.next_purchase_days[1]
        )
        return lapsed and spent >= self.options.at_risk_min_spent

    def likely_to_buy_soon(self, subject: str, now: datetime) -> bool:
        """Expected purchases over the horizon at or above the options' threshold."""
        found = self._personal(subject, now)
        return found is not None and (
            found[0].expected_purchases >= self.options.soon_expected_purchases
        )

    def high_value(self, subject: str, now: datetime) -> bool:
        """Expected lifetime value at or above the options' threshold."""
        found = self._personal(subject, now)
        return found is not None and found[0].clv >= self.options.high_value_clv

    def _personal(self, subject: str, now: datetime) -> tuple[Prediction, PurchaseStats] | None:
        prediction = self.score(subject, now=now)
        stats = self.stats(subject)
        if not prediction.personalized or stats is None:
            return None
        return prediction, stats

    def dataset(self, purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Rows for analytics: customers with a basis for ``purpose`` and for profiling.

        Raises :class:`InvalidInput` at once for a purpose the manifest does not know.
        """
        if not isinstance(purpose, str) or self.basis.manifest.get_purpose(purpose) is None:
            raise InvalidInput(
                "invalid purpose", [Problem(where="purpose", what="not a purpose in the manifest")]
            )
        return self._rows(purpose)

    def _rows(self, purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for subject in self._subjects():
            if not self.basis.purposes_with_basis(subject, (purpose,)):
                continue
            prediction = self.score(subject)
            if prediction.personalized:
                yield (
                    subject,
                    {
                        "p_alive": prediction.p_alive,
                        "expected_purchases": prediction.expected_purchases,
                        "clv": prediction.clv,
                    },
                )

    def attribution(
        self,
        model: AttributionModel = "shapley",
        *,
        purpose: str = "analytics",
        lookback_days: int = 30,
        half_life_days: float = 7.0,
        min_paths: int = 10,
    ) -> dict[str, Any]:
        """Credit per channel for conversions, as a report that may leave the SDK.

        Paths come from the events of the customers with a basis for ``purpose``; a channel
        seen in fewer than ``min_paths`` paths is suppressed (no figure). ``model`` is one of
        :data:`~personakit.predictive.MODELS`. Raises :class:`InvalidInput` listing every bad
        argument before reading anything.
        """
        problems: list[Problem] = []
        if model not in MODELS:
            problems.append(Problem(where="model", what="must be one of: " + ", ".join(MODELS)))
        if not isinstance(purpose, str) or self.basis.manifest.get_purpose(purpose) is None:
            problems.append(Problem(where="purpose", what="not a purpose in the manifest"))
        for name, number, low in (
            ("lookback_days", lookback_days, 1),
            ("min_paths", min_paths, 1),
        ):
            if (
                not isinstance(number, int)
                or isinstance(number, bool)
                or not low <= number <= _MAX_DAYS
            ):
                problems.append(
                    Problem(where=name, what=f"must be an integer from {low} to {_MAX_DAYS}")
                )
        if (
            not isinstance(half_life_days, (int, float))
            or isinstance(half_life_days, bool)
            or not 0 < half_life_days <= _MAX_DAYS
        ):
            problems.append(
                Problem(where="half_life_days", what="must be a positive number of days")
            )
        if problems:
            raise InvalidInput("cannot attribute", problems)
        lookback = timedelta(days=lookback_days)
        paths = [
            path
            for subject in self._subjects()
            if self._basis_for(subject, purpose)
            for path in paths_from_events(self._read_events(subject), lookback)
        ]
        credit = attribute(paths, model, half_life_days=float(half_life_days))
        return {
            "model": model,
            "purpose": purpose,
            "lookback_days": lookback_days,
            "min_paths": min_paths,
            "paths": len(paths),
            "conversions": sum(path.converted for path in paths),
            "channels": suppress_small_cells(credit, min_paths=min_paths),
        }

    def export_section(self, subject: str, records: Sequence[ExportRecord]) -> Any:
        """The export section: statistics, predictions and the logic involved (Art 15(1)(h))."""
        if not records:
            return None  # no statistics, so no prediction about this customer: no section
        stats = self.stats(subject)
        model = self.model()
        return {
            "statistics": None if stats is None else _exported(stats),
            "prediction": self.score(subject).as_dict(),
            "model": None if model is None else model.as_dict(),
            "logic": _LOGIC,
        }


def _exported(stats: PurchaseStats) -> dict[str, Any]:
    """The statistics as the customer reads them: the purchase days as dates, not bits."""
    doc = stats.to_json()
    doc.pop("purchase_day_bits", None)
    days = stats.purchase_days()
    if days is not None:
        doc["purchase_dates"] = [day.isoformat() for day in days]
    return doc


@frozen
class _Allowed:
    """Whether a purpose has a basis for a subject now (False for anything unknown)."""

    basis: BasisRule

    def __call__(self, subject: str, purpose: str) -> bool:
        try:
            return bool(self.basis.purposes_with_basis(subject, (purpose,)))
        except PersonakitError:
            return False


def _default(reason: str, options: ScoreOptions, model: FitSummary | None = None) -> Prediction:
    """The non-personalized answer: the shop's averages, the same for everyone."""
    aov = model.gamma_gamma.population_mean if model is not None else 0.0
    return Prediction(
        personalized=False,
        reason=reason,
        p_alive=0.0,
        expected_purchases=0.0,
        horizon_days=options.horizon_days,
        expected_order_value=aov,
        clv=0.0,
        next_purchase_days=(0.0, 0.0, 0.0),
        inputs={},
        explanation=f"not personalized: {reason}",
    )


def _fitters() -> tuple[Any, Any]:
    try:
        from personakit.predictive._fit import fit_bgnbd, fit_gamma_gamma  # noqa: PLC0415
    except ImportError as exc:  # numpy / scipy are the [predict] extra
        from personakit.exceptions import ConfigurationError  # noqa: PLC0415

        raise ConfigurationError(
            "fitting needs numpy and scipy: pip install 'personakit[predict]'"
        ) from exc
    return fit_bgnbd, fit_gamma_gamma
