"""Fixtures for the analytics tests: a small shop in a kit, and numpy datasets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from _shared import PRIVACY
from personakit import Personakit
from personakit.analytics import Dataset, build_dataset


def shop(kit: Personakit, customers: int = 12) -> dict[str, str]:
    """Customers c0..c{n-1}: c0 and c1 never consent to analytics, c2 objects via restriction.

    Customer ``i`` buys ``i % 4 + 1`` times, for ``(i + 1) * 1000`` cents each, in January or
    February 2026. Returns ``{ident: subject}``.
    """
    subjects: dict[str, str] = {}
    for i in range(customers):
        ident = f"customer:c{i}"
        subject = kit.identity.resolve(ident, create=True)
        subjects[ident] = subject
        if i >= 2:
            kit.consent.grant(subject, ["analytics"], **PRIVACY)
        for n in range(i % 4 + 1):
            kit.track(
                ident,
                "purchase",
                channel="web",
                properties={"item": "bread", "value_cents": (i + 1) * 1000},
                at=f"2026-0{1 + (i + n) % 2}-1{n}T10:00:00Z",
            )
    kit.consent.restrict(subjects["customer:c2"], source="web")
    return subjects


@pytest.fixture
def shop_kit(memory_kit: Personakit) -> Personakit:
    """A memory kit with :func:`shop` in it."""
    shop(memory_kit)
    return memory_kit


def arrays(name: str, values: list[int], per_subject: int = 1) -> Dataset:
    """A dataset of ``values``, one subject per ``per_subject`` consecutive rows."""
    rows: list[tuple[str, dict[str, Any]]] = [
        (f"s{i // per_subject}", {"value": v}) for i, v in enumerate(values)
    ]
    return build_dataset(name, rows, rows_per_subject=per_subject)


__all__ = ["arrays", "np", "shop"]
