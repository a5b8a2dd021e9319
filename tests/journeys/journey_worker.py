"""A process of the exactly-once tests: ``LOCATION TENANT KEYS MASTER_KEY NOW PAUSE [MODE]``.

Opens the kit (a directory, or a PostgreSQL DSN with KEYS as its key store) at the fixed
moment NOW, prints "ready", waits for a line on stdin, runs ``run_due`` (with a PAUSE, printing
"done N" and sleeping PAUSE seconds after each entry, so that a test can kill it halfway) and
prints the summary as JSON. With MODE ``pending`` it calls ``pending`` instead (a sender) and
prints the ids of the actions it was handed, as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime

from personakit import LocalKeyProvider, Personakit
from personakit._clock import FixedClock


def _tick(done: int, pause: float) -> None:
    if pause:
        print(f"done {done}", flush=True)  # the kill test waits for a count, not a time
        time.sleep(pause)


def main() -> None:
    location, tenant, keys, master_key, now, pause = sys.argv[1:7]
    mode = sys.argv[7] if len(sys.argv) > 7 else "run"
    clock = FixedClock(datetime.fromisoformat(now))
    key_store = keys if location.startswith("postgresql://") else None
    with Personakit.open(
        location, tenant=tenant, key_store=key_store, keys=LocalKeyProvider(master_key), clock=clock
    ) as kit:
        print("ready", flush=True)
        sys.stdin.readline()
        if mode == "pending":
            handed = [a.id for a in kit.journeys.pending(limit=1000)]
            print(json.dumps(handed), flush=True)
            return
        summary = kit.journeys.run_due(progress=lambda done: _tick(done, float(pause)))
    print(json.dumps(summary.as_dict()), flush=True)


if __name__ == "__main__":
    main()
