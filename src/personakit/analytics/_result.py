"""What a differentially private release returns, and the privacy it is asked to spend."""

from __future__ import annotations

import math
from typing import Any, Final, Literal

from attrs import frozen

from personakit.exceptions import InvalidInput, Problem

__all__ = ["Budget", "DPResult", "Loss", "Privacy"]

#: The privacy models a ledger can account in.
Model = Literal["pure", "approx", "zcdp"]
_MAX_EPSILON: Final = 1e6


def _positive(value: object, where: str, problems: list[Problem], *, upper: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(Problem(where=where, what="must be a number"))
        return 0.0
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number <= 0 or number > upper:
        problems.append(Problem(where=where, what=f"must be finite, > 0 and <= {upper:g}"))
        return 0.0
    return number


@frozen(kw_only=True)
class Loss:
    """A privacy loss (or a cap) in one model: epsilon and delta, or rho for zCDP."""

    model: Model
    epsilon: float = 0.0
    delta: float = 0.0
    rho: float = 0.0

    def plus(self, other: Loss) -> Loss:
        """The sum of two losses (basic sequential composition)."""
        return Loss(
            model=self.model,
            epsilon=self.epsilon + other.epsilon,
            delta=self.delta + other.delta,
            rho=self.rho + other.rho,
        )

    def within(self, cap: Loss) -> bool:
        """Whether this total stays within ``cap`` in every coordinate."""
        return self.epsilon <= cap.epsilon and self.delta <= cap.delta and self.rho <= cap.rho

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"model": self.model, "epsilon": self.epsilon, "delta": self.delta, "rho": self.rho}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Loss:
        """Rebuild from :meth:`to_json` (trusted: it was read from our own ledger)."""
        return cls(
            model=doc["model"],
            epsilon=float(doc["epsilon"]),
            delta=float(doc["delta"]),
            rho=float(doc["rho"]),
        )

    @classmethod
    def zero(cls, model: Model) -> Loss:
        """No loss yet."""
        return cls(model=model)


@frozen(kw_only=True)
class Privacy:
    """What one release may spend: ``epsilon`` (and ``delta``), or ``rho`` (zCDP), or an accuracy.

    Build it with :meth:`parse`, which checks every field and lists every problem.
    """

    epsilon: float | None = None
    delta: float | None = None
    rho: float | None = None
    accuracy: float | None = None

    @property
    def model(self) -> Model:
        """The accounting model this request belongs to."""
        if self.rho is not None:
            return "zcdp"
        return "approx" if self.delta is not None else "pure"

    @classmethod
    def parse(
        cls,
        epsilon: object = None,
        delta: object = None,
        rho: object = None,
        accuracy: object = None,
    ) -> Privacy:
        """Check the combination and each value; raises :class:`InvalidInput` with every problem.

        Exactly one of ``epsilon``, ``rho`` and ``accuracy`` is given; ``delta`` only with
        ``epsilon`` or ``accuracy``; every value finite and positive (``delta`` below 1e-3).
        """
        problems: list[Problem] = []
        given = [
            n
            for n, v in (("epsilon", epsilon), ("rho", rho), ("accuracy", accuracy))
            if v is not None
        ]
        if len(given) != 1:
            problems.append(
                Problem(where="privacy", what="give exactly one of epsilon, rho, accuracy")
            )
        if delta is not None and rho is not None:
            problems.append(Problem(where="delta", what="not with rho (zCDP has no delta)"))
        eps = (
            None if epsilon is None else _positive(epsilon, "epsilon", problems, upper=_MAX_EPSILON)
        )
        dlt = None if delta is None else _positive(delta, "delta", problems, upper=1e-3)
        rh = None if rho is None else _positive(rho, "rho", problems, upper=_MAX_EPSILON)
        acc = None if accuracy is None else _positive(accuracy, "accuracy", problems, upper=1e18)
        if problems:
            raise InvalidInput("invalid privacy parameters", problems)
        return cls(epsilon=eps, delta=dlt, rho=rh, accuracy=acc)


@frozen(kw_only=True)
class Budget:
    """A dataset's privacy budget: its cap, what was spent, and how many releases spent it."""

    dataset: str
    cap: Loss | None
    spent: Loss
    releases: int

    @property
    def remaining(self) -> Loss | None:
        """What is left (None when no cap is set: nothing may be released)."""
        if self.cap is None:
            return None
        return Loss(
            model=self.cap.model,
            epsilon=max(0.0, self.cap.epsilon - self.spent.epsilon),
            delta=max(0.0, self.cap.delta - self.spent.delta),
            rho=max(0.0, self.cap.rho - self.spent.rho),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON view for reports and the CLI."""
        remaining = self.remaining
        return {
            "dataset": self.dataset,
            "cap": None if self.cap is None else self.cap.to_json(),
            "spent": self.spent.to_json(),
            "remaining": None if remaining is None else remaining.to_json(),
            "releases": self.releases,
        }


@frozen(kw_only=True)
class DPResult:
    """One differentially private answer.

    Attributes:
        value: The released value: an int for counts (non-negative), a number for sums and
            means, a list of (bin, count) or {key: value} for histograms and group-bys.
        interval: A 95% interval for the value's noise (half-width for vectors), or None when
            no closed form exists (quantiles).
        loss: The privacy loss this release cost as OpenDP computed it (zero for a stored
            answer returned again, or for a dry run).
        spent_now: Whether this call spent budget (False: a dry run or a stored answer).
        dry_run: True when nothing was released (``value`` is None).
        bounds: The contribution bounds: rows per subject, value bounds, bins or keys.
        mechanism: The OpenDP mechanism (``discrete laplace``, ``gaussian``, ...).
        dataset: The dataset's name; ``version`` its digest (a changed dataset is a new query).
        release: The ledger sequence number of the release that produced ``value``.
    """

    value: Any
    interval: Any
    loss: Loss
    spent_now: bool
    dry_run: bool
    bounds: dict[str, Any]
    mechanism: str
    dataset: str
    version: str
    release: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON view for the CLI and reports."""
        return {
            "value": self.value,
            "interval": self.interval,
            "loss": self.loss.to_json(),
            "spent_now": self.spent_now,
            "dry_run": self.dry_run,
            "bounds": self.bounds,
            "mechanism": self.mechanism,
            "dataset": self.dataset,
            "version": self.version,
            "release": self.release,
        }
