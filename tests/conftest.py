"""Shared fixtures: a master key, a fixed clock, kits on memory and on disk, store snapshots."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from personakit import FixedClock, LocalKeyProvider, Personakit, generate_master_key, testing


@pytest.fixture
def master_key() -> str:
    """A fresh random master key (base64url text)."""
    return generate_master_key()


@pytest.fixture
def clock() -> FixedClock:
    """A clock fixed at a Monday morning in January 2026."""
    return FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture
def disk_kit(tmp_path: Path, master_key: str, clock: FixedClock) -> Iterator[Personakit]:
    """A kit on the embedded DiskStore in a temporary directory."""
    with Personakit.open(tmp_path / "store", keys=LocalKeyProvider(master_key), clock=clock) as kit:
        yield kit


@pytest.fixture
def kit_and_clock() -> Iterator[tuple[Personakit, FixedClock]]:
    """An in-memory kit with the default manifest and its FixedClock."""
    kit, fixed = testing.memory_kit()
    with kit:
        yield kit, fixed


@pytest.fixture
def memory_kit(master_key: str, clock: FixedClock) -> Iterator[Personakit]:
    """A kit on MemoryStores."""
    with Personakit.open("memory:", keys=LocalKeyProvider(master_key), clock=clock) as kit:
        yield kit


@pytest.fixture
def snapshot() -> Callable[[Personakit], tuple[dict[str, bytes], dict[str, bytes]]]:
    """Every key and value of a kit's two stores, to prove that a call wrote nothing."""

    def take(kit: Personakit) -> tuple[dict[str, bytes], dict[str, bytes]]:
        return dict(kit.store.scan("")), dict(kit.key_store.scan(""))

    return take
