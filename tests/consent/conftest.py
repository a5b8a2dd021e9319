"""Fixtures shared by the consent tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from personakit import Personakit


@pytest.fixture
def snapshot() -> Callable[[Personakit], tuple[dict[str, bytes], dict[str, bytes]]]:
    """Every key and value of a kit's two stores, to prove that a call wrote nothing."""

    def take(kit: Personakit) -> tuple[dict[str, bytes], dict[str, bytes]]:
        return dict(kit.store.scan("")), dict(kit.key_store.scan(""))

    return take
