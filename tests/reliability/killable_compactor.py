"""A writer for the compaction kill -9 test: appends numbered events and compacts, until killed.

Each append is one transaction (and may merge level-a chunks on write); every 40 appends the
subject is fully compacted (its merged chunks written and old ones deleted in one
transaction). Invariant after any crash: the event numbers read back are 0..n-1, each once.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from personakit import LocalKeyProvider, Personakit
from personakit.events import Event, new_event_id

START = datetime(2026, 1, 5, tzinfo=UTC)


def main() -> None:
    store_dir, key = sys.argv[1], sys.argv[2]
    kit = Personakit.open(store_dir, keys=LocalKeyProvider(key))
    subject = kit.identity.resolve("customer:compacted", create=True)
    n = kit.events.count(subject)
    print("ready", flush=True)
    while True:
        at = START + timedelta(seconds=n)
        event = Event(
            id=new_event_id(at), kind="page_view", channel="web", at=at, properties={"n": n}
        )
        kit.events.append(subject, [event])
        n += 1
        if n % 40 == 0:
            kit.events.compact(subject)


if __name__ == "__main__":
    main()
