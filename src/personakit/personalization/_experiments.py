"""Experiments: keyed-hash bucketing into weighted variants with a holdout, and exposures.

Bucketing is ``HMAC-SHA256(key, "<len>:<experiment>|<len>:<salt>|<unit>")`` (UTF-8; the
length prefixes keep the parts apart whatever they hold) under the key
``Keyring.mac`` uses for the label ``personalization/experiments``: deterministic across processes
and restarts (the key lives in the key store), unpredictable without the keyring (a visitor
cannot choose an id to land in an arm), and meaningless once erased (the unit is never
stored). The first 64 bits pick a point in ``[0, 2**64)``: the first ``holdout`` share is the
holdout, the rest is split exactly by integer weights.

The *unit* is what is bucketed. By default it is the subject's pseudonym, which is stable
across restarts but changes once when an anonymous visitor is linked to an existing known
subject (the merged-away pseudonym is gone). A shop that wants one arm across that link passes
its own stable unit (the first-party id it keeps after login, say).

Exposures (which arm of which experiment a subject saw, and when first) are sealed in one
vault record per subject (kind ``experiment_exposures``, name ``all``: a store key never
names the experiment), with purpose ``personalization``: exported, erased with the subject's
key, deleted on withdrawal, and offered to analytics as the dataset
``personalization.exposures``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from attrs import frozen

from personakit._vault import Vault, check_subject
from personakit.exceptions import InvalidInput, Problem
from personakit.workflows import ExportRecord, RecordKind, Registries

__all__ = [
    "BUCKET_LABEL",
    "EXPOSURE_DATASET",
    "EXPOSURE_KIND",
    "Arm",
    "Experiment",
    "ExposureLog",
    "bucket",
    "bucket_mac",
    "experiment_problems",
    "parse_experiment",
]

#: The vault record kind (and registered RecordKind) of exposures.
EXPOSURE_KIND: Final = "experiment_exposures"
#: The dataset analytics reads exposures through.
EXPOSURE_DATASET: Final = "personalization.exposures"
#: The keyring label of the bucketing key.
BUCKET_LABEL: Final = "personalization/experiments"
_SPACE: Final = 1 << 64
_PURPOSE: Final = "personalization"
_REMEMBERED: Final = 65_536
_RECORD: Final = "all"
_ARM_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


@frozen(kw_only=True)
class Arm:
    """One variant: its name, integer weight, and what it replaces in the rule's ``then``."""

    name: str
    weight: int
    content: str | None = None
    payload: Mapping[str, Any] | None = None


@frozen(kw_only=True)
class Experiment:
    """A validated experiment: arms, a holdout share in [0, 0.9], and a salt."""

    id: str
    arms: tuple[Arm, ...]
    holdout: float = 0.0
    salt: str = ""
    description: str | None = None

    @property
    def total_weight(self) -> int:
        """The sum of the arms' weights."""
        return sum(arm.weight for arm in self.arms)


def parse_experiment(document: Mapping[str, Any]) -> Experiment:
    """Build from a document that passed ``experiments.schema.json`` and the checks below."""
    return Experiment(
        id=document["id"],
        arms=tuple(
            Arm(
                name=v["name"],
                weight=int(v["weight"]),
                content=v.get("content"),
                payload=v.get("payload"),
            )
            for v in document["variants"]
        ),
        holdout=float(document.get("holdout", 0)),
        salt=str(document.get("salt", "")),
        description=document.get("description"),
    )


def experiment_problems(document: Mapping[str, Any], where: str) -> list[Problem]:
    """Semantic checks beyond the schema: unique arm names."""
    names = [v["name"] for v in document["variants"]]
    return [
        Problem(where=f"{where}.variants[{i}].name", what="duplicate variant name")
        for i, name in enumerate(names)
        if name in names[:i]
    ]


def bucket(mac: Callable[[bytes], bytes], experiment: Experiment, unit: str) -> Arm | None:
    """The arm ``unit`` falls in, or None for the holdout (deterministic for a given key)."""
    ident, salt = experiment.id, experiment.salt
    digest = mac(f"{len(ident)}:{ident}|{len(salt)}:{salt}|{unit}".encode("utf-8", "surrogatepass"))
    return _arm_at(experiment, digest)


def bucket_mac(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 under ``key``, with the key schedule done once (a copy per call)."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def mac(data: bytes) -> bytes:
        one = keyed.copy()
        one.update(data)
        return one.digest()

    return mac


def _arm_at(experiment: Experiment, digest: bytes) -> Arm | None:
    point = int.from_bytes(digest[:8], "big")
    cut = int(experiment.holdout * _SPACE)
    if point < cut:
        return None
    # Exact integer split of the rest of the space by weight: no float rounding at the edges.
    position = (point - cut) * experiment.total_weight // (_SPACE - cut)
    for arm in experiment.arms:
        if position < arm.weight:
            return arm
        position -= arm.weight
    return experiment.arms[-1]  # unreachable: position < total weight


class ExposureLog:
    """Records which arm a subject was shown, sealed in the subject's vault records."""

    def __init__(
        self,
        vault: Vault,
        *,
        allowed: Callable[[str, str], bool],
        subjects: Callable[[], Iterable[str]],
        exists: Callable[[str], bool],
        last_purchase: Callable[[str], datetime | None] = lambda _subject: None,
    ) -> None:
        """``allowed(subject, purpose)`` is the consent guard; ``subjects()`` lists subjects.

        ``exists(subject)`` says whether the subject is live: exposures are never recorded
        for a pseudonym that has no data key (erased, or never created). ``last_purchase``
        reads the subject's latest purchase from its aggregates (no event scan), for the
        dataset's ``converted`` column.
        """
        self._vault = vault
        self._last_purchase = last_purchase
        self._exists = exists
        self._allowed = allowed
        self._subjects = subjects
        # (subject, experiment) -> arm already recorded by this process: a request repeats the
        # same exposure, and a store read per decision would double decide's cost.
        self._seen: OrderedDict[tuple[str, str], str] = OrderedDict()

    def __repr__(self) -> str:
        """Render with the vault."""
        return f"ExposureLog({self._vault!r})"

    def register(self, registries: Registries) -> None:
        """Register the record kind and the analytics dataset."""
        registries.record_kinds.register(
            RecordKind(
                name=EXPOSURE_KIND,
                owner="personalization",
                description="which arm of which experiment the subject was shown, and when",
                purposes=(_PURPOSE,),
                section=EXPOSURE_KIND,
                exporter=_export,
                on_withdrawal=self.erase,
            )
        )
        registries.datasets.register(
            EXPOSURE_DATASET,
            self.rows,
            owner="personalization",
            description="one row per subject and experiment: the arm shown, and converted 0/1 "
            "(a purchase at or after the first exposure)",
        )

    def record(self, subject: str, experiment: str, arm: str, now: datetime) -> None:
        """Remember that ``subject`` saw ``arm`` of ``experiment`` at ``now``.

        A subject that does not exist is skipped (nothing is created for it).
        """
        problems = _record_problems(subject, experiment, arm, now)
        if problems:
            raise InvalidInput("cannot record exposure", problems)
        key = (subject, experiment)
        if self._seen.get(key) == arm:
            self._seen.move_to_end(key)
            return
        if not self._exists(subject):
            return
        stored = self._vault.get_json(subject, EXPOSURE_KIND, _RECORD)
        current = dict(stored) if isinstance(stored, dict) else {}
        seen = current.get(experiment)
        if not isinstance(seen, dict) or seen.get("arm") != arm:
            current[experiment] = {"arm": arm, "first_at": now.isoformat()}
            self._vault.put_json(subject, EXPOSURE_KIND, _RECORD, current)
        self._seen[key] = arm
        if len(self._seen) > _REMEMBERED:
            self._seen.popitem(last=False)

    def erase(self, subject: str, purpose: str) -> int:
        """Delete the subject's exposures (withdrawal of ``purpose``)."""
        check_subject(subject)
        if purpose != _PURPOSE:
            return 0
        self.forget(subject)
        names = self._vault.names(subject, EXPOSURE_KIND)
        for name in names:
            self._vault.delete(subject, EXPOSURE_KIND, name)
        return len(names)

    def forget(self, subject: str) -> None:
        """Drop this process's memory of the subject's exposures (after erasure or withdrawal)."""
        for key in [k for k in self._seen if k[0] == subject]:
            del self._seen[key]

    def of(self, subject: str) -> list[dict[str, Any]]:
        """The subject's exposures (``experiment``, ``arm``, ``first_at``), by experiment id."""
        check_subject(subject)
        stored = self._vault.get_json(subject, EXPOSURE_KIND, _RECORD)
        return _rows(stored)

    def rows(self, purpose: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Dataset rows, only of subjects whose data may be used for ``purpose`` now.

        ``converted`` is 1 when the subject's latest purchase is at or after its first
        exposure to the experiment (so some purchase followed the exposure).
        """
        for subject in self._subjects():
            if not self._allowed(subject, purpose):
                continue
            exposures = self.of(subject)
            bought = self._last_purchase(subject) if exposures else None
            for row in exposures:
                converted = bought is not None and _after(bought, row["first_at"])
                yield (
                    subject,
                    {
                        "experiment": row["experiment"],
                        "arm": row["arm"],
                        "converted": int(converted),
                    },
                )


def _after(moment: datetime, first_at: object) -> bool:
    try:
        return isinstance(first_at, str) and moment >= datetime.fromisoformat(first_at)
    except (ValueError, TypeError):  # a malformed or naive stored time converts nothing
        return False


def _record_problems(
    subject: object, experiment: object, arm: object, now: object
) -> list[Problem]:
    problems: list[Problem] = []
    try:
        check_subject(subject)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    for where, value in (("experiment", experiment), ("arm", arm)):
        if not isinstance(value, str) or not _ARM_RE.fullmatch(value):
            problems.append(Problem(where=where, what="must match [a-z][a-z0-9_.-]{0,63}"))
    if not isinstance(now, datetime) or now.utcoffset() is None:
        problems.append(Problem(where="now", what="must be an aware datetime"))
    return problems


def _rows(stored: Any) -> list[dict[str, Any]]:
    if not isinstance(stored, dict):
        return []
    return [
        {"experiment": name, "arm": seen.get("arm"), "first_at": seen.get("first_at")}
        for name, seen in sorted(stored.items())
        if isinstance(seen, dict)
    ]


def _export(_subject: str, records: Sequence[ExportRecord]) -> Any:
    # No section for a subject never exposed (as the aggregates' section): every kit has the
    # kind registered, and an empty list would be noise in every export.
    rows = [row for record in records for row in _rows(record.json())]
    return rows or None
