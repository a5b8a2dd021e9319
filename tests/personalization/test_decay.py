"""Property: the lazily decayed affinity equals the closed form at any read time.

Closed form for events ``(w_i, t_i)`` read at ``T``: ``sum_i w_i * 2^(-(max(T, t_max) - t_i)/h)``
(a read before the newest event answers the value at that event: the state never un-decays).

Tolerance: the kept pair (score, t) is updated once per event; each update multiplies by one
``exp`` (correctly rounded to within 1 ulp) and adds one term, so after n events the relative
error is at most about ``3 n`` ulps (``n <= 60`` here: under 4e-14), and a merge adds one more
multiply-add. ``rel_tol=1e-9`` leaves five orders of magnitude of headroom while any missing or
doubled event (weight >= 1 against a total of at most 60 * 5) is a relative change above 3e-3.
Terms that decay below the smallest normal float are absorbed by ``abs_tol=1e-300``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from _shared import PRIVACY
from personakit import LocalKeyProvider, Personakit, generate_master_key
from personakit._clock import FixedClock, to_micros
from personakit.events import Event
from personakit.personalization import PersonalizationConfig
from personakit.personalization._state import Folder, SubjectState

START = datetime(2026, 1, 5, tzinfo=UTC)
KINDS = {"product_view": 1.0, "add_to_cart": 3.0, "purchase": 5.0}

_events = st.lists(
    st.tuples(st.sampled_from(sorted(KINDS)), st.integers(-(10**6), 10**6)),  # seconds around START
    min_size=1,
    max_size=60,
)


def _closed_form(events: list[tuple[str, int]], read: int, half_life_s: float) -> float:
    newest = max(at for _, at in events)
    reference = max(read, newest)
    return float(sum(KINDS[kind] * 2.0 ** (-(reference - at) / half_life_s) for kind, at in events))


def _event(kind: str, seconds: int, number: int) -> Event:
    return Event(
        id=f"evt_{number:023d}",
        kind=kind,
        channel="web",
        at=START + timedelta(seconds=seconds),
        properties={"item": "rye", "category": "bread"},
        purposes=("personalization",),
    )


@settings(max_examples=300, deadline=None)
@given(
    events=_events,
    half_life_days=st.floats(0.01, 400),
    read_s=st.integers(-(10**6), 10**9),
    split=st.integers(0, 60),
)
def test_lazy_decay_equals_the_closed_form(
    events: list[tuple[str, int]], half_life_days: float, read_s: int, split: int
) -> None:
    """Folded in arrival order, and as two histories merged: the closed form at any time."""
    folder = Folder(PersonalizationConfig(half_life_days=half_life_days))
    built = [_event(kind, at, n) for n, (kind, at) in enumerate(events)]
    whole = SubjectState()
    folder.fold(whole, built)
    left, right = SubjectState(), SubjectState()
    folder.fold(left, built[:split])
    folder.fold(right, built[split:])
    folder.merge(left, right)
    read = START + timedelta(seconds=read_s)
    expected = _closed_form(events, read_s, half_life_days * 86_400)
    for state in (whole, left):
        got = folder.affinity(state.affinities["category"]["bread"], to_micros(read))
        assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-300), (got, expected)


def test_affinities_read_through_the_kit_decay_by_half_each_half_life() -> None:
    """One purchase: 5.0 now, 2.5 one half-life later, 1.25 after two; views rank below."""
    clock = FixedClock(START)
    kit = Personakit.open(
        "memory:",
        keys=LocalKeyProvider(generate_master_key()),
        clock=clock,
        personalization=PersonalizationConfig(half_life_days=10.0),
    )
    with kit:
        subject = kit.identity.resolve("customer:1", create=True)
        kit.consent.grant(subject, "personalization", **PRIVACY)
        kit.track(
            "customer:1", "purchase", channel="web", properties={"item": "a", "category": "bread"}
        )
        kit.track(
            "customer:1",
            "product_view",
            channel="web",
            properties={"item": "b", "category": "cake"},
        )
        assert kit.personalization.affinities(subject, "category") == [
            ("bread", 5.0),
            ("cake", 1.0),
        ]
        later = START + timedelta(days=20)
        top = kit.personalization.affinities("customer:1", "category", 1, later)
        assert top[0][0] == "bread"
        assert math.isclose(top[0][1], 1.25, rel_tol=1e-12)
