"""The store conformance suite, run against every embedded backend."""

from __future__ import annotations

from pathlib import Path

from personakit.storage import DiskStore, MemoryStore, Store
from personakit.testing import StoreContract


class TestMemoryStore(StoreContract):
    def make_store(self, tmp_path: Path) -> Store:
        return MemoryStore()


class TestDiskStore(StoreContract):
    def make_store(self, tmp_path: Path) -> Store:
        return DiskStore(tmp_path / "disk")
