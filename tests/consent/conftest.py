"""Fixtures shared by the consent tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from personakit import Personakit
from personakit.testing import memory_kit


@pytest.fixture
def kit_and_clock():
    """An in-memory kit with the default manifest and its FixedClock."""
    kit, clock = memory_kit()
    with kit:
        yield kit, clock


@pytest.fixture
def snapshot() -> Callable[[Personakit], tuple[dict[str, bytes], dict[str, bytes]]]:
    """Every key and value of a kit's two stores, to prove that a call wrote nothing."""

    def take(kit: Personakit) -> tuple[dict[str, bytes], dict[str, bytes]]:
        return dict(kit.store.scan("")), dict(kit.key_store.scan(""))

    return take
