"""The consented view of one subject at one moment: personalization's :class:`Facts`.

Built by :meth:`Personalization.facts` after consent and restriction were checked: a subject
that does not exist, has no current basis for ``personalization`` or is restricted gets the
view of an unknown subject (``known`` False, every field MISSING, ``context.*`` included,
in no segment, no affinity, no consent), as the :class:`Facts` contract says; for a known
subject ``context.*`` is what the caller passed.

Fields (besides those the protocol lists): ``aggregates.lifecycle`` (a stage name),
``aggregates.rfm_r`` / ``rfm_f`` / ``rfm_m`` (scores 1-5, MISSING without a purchase or cut
points), ``aggregates.affinity.<dimension>.<value>`` (the decayed score, a float).
Only traits of a data category the ``personalization`` purpose declares are readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from personakit._clock import from_micros, to_micros
from personakit.exceptions import InvalidInput, Problem
from personakit.personalization._config import PersonalizationConfig
from personakit.personalization._facts import MISSING
from personakit.personalization._segments import lifecycle_stage, rfm_scores
from personakit.personalization._state import Folder, SubjectState

__all__ = ["SubjectFacts", "check_dimension_k"]

_MAX_K: Final = 1000


def check_dimension_k(dimensions: Sequence[str], dimension: object, k: object) -> None:
    """:class:`InvalidInput` unless ``dimension`` is configured and ``k`` an int 1..1000."""
    problems: list[Problem] = []
    if not isinstance(dimension, str) or dimension not in dimensions:
        problems.append(Problem(where="dimension", what="not a configured dimension"))
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= _MAX_K:
        problems.append(Problem(where="k", what=f"must be an int from 1 to {_MAX_K}"))
    if problems:
        raise InvalidInput("invalid affinity query", problems)


class SubjectFacts:
    """What rules and segments may read about one subject at ``now`` (see the module doc)."""

    def __init__(
        self,
        *,
        now: datetime,
        known: bool,
        state: SubjectState | None,
        context: Mapping[str, Any],
        folder: Folder,
        traits: Callable[[], Mapping[str, Any]],
        segment: Callable[[str, SubjectFacts], bool],
        consent: Callable[[str], bool],
        check_purpose: Callable[[object], None],
        rfm_cuts: Callable[[], Mapping[str, Sequence[int]] | None],
    ) -> None:
        """Wire the view (the service builds it; ``known`` already says consent allows it)."""
        self._now = now
        self._known = known
        self._state = state if known else None
        self._context = dict(context)
        self._folder = folder
        self._config: PersonalizationConfig = folder.config
        self._traits_loader = traits
        self._traits: Mapping[str, Any] | None = None
        self._segment = segment
        self._consent = consent
        self._check_purpose = check_purpose
        self._rfm_cuts = rfm_cuts
        self._rfm: tuple[int, int, int] | bool | None = False  # False: not computed yet
        # Every segment reads the same few fields at the same ``now``: each is computed once.
        self._memo: dict[str, object] = {}
        self.evaluating: list[str] = []

    def __repr__(self) -> str:
        """Say only whether the subject is known (nothing personal)."""
        return f"SubjectFacts(known={self._known!r})"

    @property
    def now(self) -> datetime:
        """The moment the facts are read at (aware, UTC)."""
        return self._now

    @property
    def known(self) -> bool:
        """Whether this is a known subject whose data may be used for personalization."""
        return self._known

    def field(self, path: str) -> object:
        """The value at ``path``, or :data:`MISSING` (a path that is not a str: InvalidInput)."""
        if not isinstance(path, str):
            raise InvalidInput("invalid field", [Problem(where="path", what="must be a str")])
        head, _, rest = path.partition(".")
        if not self._known or not rest:
            return MISSING  # the contract: an unknown subject's every field, context too
        if head == "context":
            return self._context.get(rest, MISSING)
        if head == "traits":
            if self._traits is None:
                self._traits = self._traits_loader()
            return self._traits.get(rest, MISSING)
        if head == "aggregates":
            found = self._memo.get(rest, self._memo)
            if found is self._memo:
                found = self._memo[rest] = self._aggregate(rest)
            return found
        return MISSING

    def _aggregate(self, name: str) -> object:  # noqa: PLR0911 (one return per field)
        state = self._state or SubjectState()
        if name.startswith("affinity."):
            dimension, _, value = name[len("affinity.") :].partition(".")
            pair = state.affinities.get(dimension, {}).get(value)
            return MISSING if pair is None else self._folder.affinity(pair, to_micros(self._now))
        if name in {"rfm_r", "rfm_f", "rfm_m"}:
            if self._rfm is False:
                self._rfm = rfm_scores(state, self._now, self._rfm_cuts())
            scores = self._rfm
            if not isinstance(scores, tuple):
                return MISSING
            return scores["rfm".index(name[-1])]
        if name == "lifecycle":
            stage = lifecycle_stage(state, self._now, self._config.lifecycle)
            return MISSING if stage is None else stage
        times = {
            "first_seen": state.first_seen,
            "last_seen": state.last_seen,
            "last_purchase_at": state.last_purchase,
        }
        if name in times:
            micros = times[name]
            return MISSING if micros is None else from_micros(micros)
        if name == "order_count":
            return state.order_count
        if name == "monetary_cents":
            return state.monetary_cents
        if name in {"cart_items", "cart_value_cents", "cart_updated_at", "recent_items"}:
            view = self._folder.view(state)
            value = getattr(view, name)
            return MISSING if value is None else value
        return MISSING

    def in_segment(self, name: str) -> bool:
        """Whether the subject is in segment ``name`` now (unknown name: InvalidInput)."""
        return self._segment(name, self)

    def affinity_top(self, dimension: str, k: int) -> tuple[str, ...]:
        """The subject's top ``k`` values of ``dimension`` by decayed affinity, best first."""
        check_dimension_k(self._config.all_dimensions, dimension, k)
        if not self._known or self._state is None:
            return ()
        return tuple(value for value, _ in self._folder.top(self._state, dimension, k, self._now))

    def has_consent(self, purpose: str) -> bool:
        """Whether the subject's data may be used for ``purpose`` now (unknown: never)."""
        self._check_purpose(purpose)
        return self._known and self._consent(purpose)
