"""A process of the several-writers test: tracks and ingests events for shared customers."""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta

from personakit import LocalKeyProvider, Personakit
from personakit.storage import DiskStore, PostgresStore

START = datetime(2026, 1, 5, tzinfo=UTC)


def open_kit(location: str, namespace: str, keys_dir: str, key: str) -> Personakit:
    """The kit of a DiskStore directory, or of a PostgreSQL namespace with keys on disk."""
    if location.startswith("postgresql://"):
        return Personakit(
            store=PostgresStore(location, namespace=namespace),
            key_store=DiskStore(keys_dir),
            keys=LocalKeyProvider(key),
        )
    return Personakit.open(location, keys=LocalKeyProvider(key))


def main() -> None:
    location, namespace, keys_dir, key, worker, customers, rounds = sys.argv[1:8]
    rng = random.Random(int(worker))
    with open_kit(location, namespace, keys_dir, key) as kit:
        for number in range(int(rounds)):
            who = f"customer:c{rng.randrange(int(customers))}"
            at = START + timedelta(minutes=rng.randrange(10_000))
            kind = rng.choice(["product_view", "add_to_cart", "purchase"])
            properties = {"item": f"i{rng.randrange(5)}", "category": rng.choice(["a", "b"])}
            if number % 3:
                kit.track(who, kind, channel="web", properties=properties, at=at)
            else:
                line = {
                    "kind": "event",
                    "subject": who,
                    "name": kind,
                    "channel": "web",
                    "properties": properties,
                    "at": at.isoformat(),
                }
                summary = kit.ingest(
                    [line, dict(line, subject=f"customer:c{rng.randrange(int(customers))}")]
                )
                assert summary.rejected == 0
    print(json.dumps({"done": int(rounds)}))


if __name__ == "__main__":
    main()
