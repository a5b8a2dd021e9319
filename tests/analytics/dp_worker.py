"""A process issuing DP queries at one store, for the multi-process and kill -9 tests.

``dp_worker.py LOCATION KEY KEYS_DIR TENANT SEED QUERIES MODE``; MODE is ``random`` (print one
JSON line per answer or refusal), ``kill-after`` (SIGKILL itself right after the ledger
transaction committed, before the answer is returned) or ``kill-before`` (SIGKILL itself
right before that transaction).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
from typing import Any

from personakit import LocalKeyProvider, Personakit
from personakit.analytics import build_dataset
from personakit.exceptions import BudgetExceeded

DATASET = "mp"


def dataset() -> Any:
    """The same rows in every process: so the same version."""
    rows = [(f"s{i // 2}", {"cents": (i * 37) % 500, "kind": "ab"[i % 2]}) for i in range(400)]
    return build_dataset(DATASET, rows, rows_per_subject=2)


def one_query(kit: Personakit, rng: random.Random) -> Any:
    """A random count, sum or mean, a random epsilon, sometimes a fresh release."""
    epsilon = rng.choice([0.1, 0.2, 0.3, 0.5])
    reuse = rng.random() < 0.7
    kind = rng.choice(["count", "sum", "mean"])
    if kind == "count":
        return kit.analytics.count(DATASET, epsilon=epsilon, reuse=reuse, reason="mp test")
    method = kit.analytics.sum if kind == "sum" else kit.analytics.mean
    return method(DATASET, "cents", bounds=(0, 500), epsilon=epsilon, reuse=reuse, reason="mp test")


def main() -> None:
    location, key, keys_dir, tenant, seed, queries, mode = sys.argv[1:8]
    options: dict[str, Any] = {"keys": LocalKeyProvider(key), "tenant": tenant}
    if keys_dir != "-":
        options["key_store"] = keys_dir
    kit = Personakit.open(location, **options)
    kit.analytics.offer(dataset())
    if mode.startswith("kill"):
        real = kit.analytics.ledger.record

        def record(*args: Any, **kwargs: Any) -> Any:
            if mode == "kill-before":
                os.kill(os.getpid(), signal.SIGKILL)
            done = real(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
            return done

        kit.analytics.ledger.record = record  # type: ignore[method-assign]
        kit.analytics.sum(DATASET, "cents", bounds=(0, 500), epsilon=0.25, reason="kill test")
        return
    rng = random.Random(int(seed))
    for _ in range(int(queries)):
        try:
            result = one_query(kit, rng)
        except BudgetExceeded:
            print(json.dumps({"refused": True}), flush=True)
            continue
        print(
            json.dumps(
                {
                    "release": result.release,
                    "spent": result.spent_now,
                    "value": result.value,
                    "epsilon": result.loss.epsilon,
                }
            ),
            flush=True,
        )
    kit.close()


if __name__ == "__main__":
    main()
