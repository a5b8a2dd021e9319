"""Attribution: the rule-based models' splits, and Shapley recovering known channel weights."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from personakit.exceptions import InvalidInput
from personakit.predictive import Path, Touch, attribute, smoothed_rates, suppress_small_cells

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LIFT = {"email": 0.10, "sms": 0.04, "push": 0.02, "web": 0.06, "store": 0.08}
BASE = 0.02


def _path(channels: list[str], converted: bool) -> Path:
    touches = tuple(Touch(c, T0 + timedelta(days=i)) for i, c in enumerate(channels))
    end = T0 + timedelta(days=len(channels) - 1)
    return Path(touches=touches, converted=converted, converted_at=end if converted else None)


def _credit(model: str, path: Path) -> dict[str, float]:
    return {c.channel: c.credit for c in attribute([path], model)}  # type: ignore[arg-type]


def test_rule_based_models_split_one_conversion_as_documented() -> None:
    path = _path(["email", "web", "store"], converted=True)
    assert _credit("last", path) == {"email": 0.0, "store": 1.0, "web": 0.0}
    assert _credit("first", path) == {"email": 1.0, "store": 0.0, "web": 0.0}
    assert _credit("linear", path) == pytest.approx({"email": 1 / 3, "store": 1 / 3, "web": 1 / 3})
    assert _credit("position", path) == pytest.approx({"email": 0.4, "store": 0.4, "web": 0.2})
    decay = _credit("time_decay", path)  # touches 2, 1 and 0 days before: 1/4, 1/2, 1 of a week
    weights = [0.5 ** (2 / 7), 0.5 ** (1 / 7), 1.0]
    assert decay["email"] == pytest.approx(weights[0] / sum(weights))
    assert sum(decay.values()) == pytest.approx(1.0)


def _synthetic(n: int, seed: int) -> list[Path]:
    """Each channel touches a path with probability 0.35; P(convert) = BASE + sum of lifts."""
    rng = random.Random(seed)
    paths = []
    for _ in range(n):
        channels = [c for c in LIFT if rng.random() < 0.35]
        rng.shuffle(channels)
        converted = rng.random() < BASE + sum(LIFT[c] for c in channels)
        paths.append(_path(channels, converted))
    return paths


def test_shapley_recovers_the_known_channel_weights_and_last_touch_does_not() -> None:
    paths = _synthetic(60_000, seed=3)
    appearances = {c: sum(c in p.channels for p in paths) for c in LIFT}
    truth = {c: LIFT[c] * appearances[c] for c in LIFT}
    true_share = {c: v / sum(truth.values()) for c, v in truth.items()}

    def shares(model: str) -> dict[str, float]:
        credit = {c.channel: c.credit for c in attribute(paths, model)}  # type: ignore[arg-type]
        total = sum(credit.values())
        return {c: credit[c] / total for c in LIFT}

    shapley = shares("shapley")
    assert max(abs(shapley[c] - true_share[c]) for c in LIFT) < 0.02, (shapley, true_share)
    last = shares("last")
    assert max(abs(last[c] - true_share[c]) for c in LIFT) > 0.04  # heuristics miss them


def test_small_cells_are_suppressed() -> None:
    paths = [_path(["email"], True)] * 12 + [_path(["sms"], True)] * 3
    report = suppress_small_cells(attribute(paths, "last"), min_paths=10)
    assert report == [
        {"channel": "email", "suppressed": False, "credit": 12.0, "paths": 12},
        {"channel": "sms", "suppressed": True},
    ]


def test_bad_arguments_are_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        attribute([object()], "magic", half_life_days=-1)  # type: ignore[list-item, arg-type]
    assert len(caught.value.problems) == 3


def test_smoothed_rates_shrink_small_channels_to_the_shop_average() -> None:
    rates = smoothed_rates({"email": (300, 1000), "sms": (1, 1)}, strength=20)
    mean = 301 / 1001
    assert rates["sms"] == pytest.approx((1 + 20 * mean) / 21)
    assert rates["sms"] < 0.35  # one click out of one message is not a 100% channel
    assert rates["email"] == pytest.approx((300 + 20 * mean) / 1020)
