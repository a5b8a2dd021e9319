"""Recommendation test helpers: the model rebuilt from scratch, and one writer process.

Run as a script it is one writer of the concurrency test: consent and baskets for its own
customers.
"""

from __future__ import annotations

import random
import sys

from personakit import LocalKeyProvider, Personakit
from personakit.recommendations._model import ItemModel, ItemRow
from personakit.recommendations._shared import record_from_events
from personakit.storage import PostgresStore

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "web"}
ITEMS = [f"item-{n}" for n in range(6)]


def open_kit(backend: str, where: str, key: str, dsn: str = "") -> Personakit:
    """The shared kit: a directory, or two PostgreSQL namespaces (data, keys)."""
    if backend == "disk":
        return Personakit.open(where, keys=LocalKeyProvider(key))
    data = PostgresStore(dsn, namespace=where)
    keys = PostgresStore(dsn, namespace=where + "-keys")
    return Personakit(store=data, key_store=keys, keys=LocalKeyProvider(key))


def rebuilt(kit: Personakit) -> dict[str, ItemRow]:
    """The model summed from scratch over subjects with a basis, from their stored events."""
    records = [
        record_from_events(kit.events.read(subject))
        for subject in kit.retention.subjects()
        if kit.basis.purposes_with_basis(subject, ("personalization",))
    ]
    return ItemModel.from_contributions(records).rows


def main() -> None:
    backend, where, key, worker, dsn = sys.argv[1:6]
    rng = random.Random(int(worker))
    with open_kit(backend, where, key, dsn) as kit:
        for n in range(8):
            ident = f"customer:w{worker}-{n}"
            kit.track(ident, "purchase", channel="web", properties={"item": ITEMS[0]})
            subject = kit.identity.lookup(ident)
            assert subject is not None
            kit.consent.grant(subject, ["personalization"], **NOTICE)
            for _ in range(3):
                basket = rng.sample(ITEMS, 3)
                kit.track(
                    ident,
                    "purchase",
                    channel="web",
                    properties={"items": [{"item": i} for i in basket]},
                )


if __name__ == "__main__":
    main()
