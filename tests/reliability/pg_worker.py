"""A process of the multi-process PostgreSQL tests (tests/reliability/test_postgres_processes.py).

``ingest DSN TENANT KEYS MASTER_KEY FILE``: bulk-ingest FILE into the shared kit, print the
summary. ``track DSN TENANT KEYS MASTER_KEY PSEUDONYM COUNT``: alternate ``track()`` by
identifier (customer:victim) and a consent grant by pseudonym, COUNT calls, printing one JSON list of outcomes
(the subject written, or "gone" for SubjectNotFound). ``traits DSN TENANT KEYS MASTER_KEY
PSEUDONYM COUNT``: alternate a traits update and a rectification (``kit.rights.rectify``) of
PSEUDONYM, COUNT calls, printing one JSON list of outcomes ("set", or "gone" for
SubjectNotFound). ``hold DSN TABLE NAMESPACE``: take subject sub_held's lock in a transaction, print
"locked" and wait to be killed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from personakit import LocalKeyProvider, Personakit, SubjectNotFound
from personakit.storage import PostgresStore

_PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01", "source": "web"}
_BREAD = {"item": "bread"}


def main() -> None:
    mode, dsn = sys.argv[1], sys.argv[2]
    if mode == "ingest":
        tenant, keys, master_key, path = sys.argv[3:7]
        with (
            Personakit.open(
                dsn, tenant=tenant, key_store=keys, keys=LocalKeyProvider(master_key)
            ) as kit,
            Path(path).open("rb") as handle,
        ):
            print("ready", flush=True)
            sys.stdin.readline()
            summary = kit.ingest(handle, batch_size=20)
        print(json.dumps(summary.to_json()), flush=True)
    elif mode == "track":
        tenant, keys, master_key, pseudonym, count = sys.argv[3:8]
        with Personakit.open(
            dsn, tenant=tenant, key_store=keys, keys=LocalKeyProvider(master_key)
        ) as kit:
            print("ready", flush=True)
            sys.stdin.readline()
            outcomes: list[str] = []
            for n in range(int(count)):
                try:
                    if n % 2:
                        kit.consent.grant(pseudonym, "personalization", **_PRIVACY)
                        outcomes.append(pseudonym)
                    else:
                        result = kit.track(
                            "customer:victim", "purchase", channel="store", properties=_BREAD
                        )
                        outcomes.append(str(result.subject))
                except SubjectNotFound:
                    outcomes.append("gone")
        print(json.dumps(outcomes), flush=True)
    elif mode == "traits":
        _traits(dsn, sys.argv[3:8])
    else:
        table, namespace = sys.argv[3:5]
        store = PostgresStore(dsn, table=table, namespace=namespace)
        with store.transaction():
            store.put("s/sub_held/x", b"held")
            print("locked", flush=True)
            time.sleep(600)


def _traits(dsn: str, args: list[str]) -> None:
    tenant, keys, master_key, pseudonym, count = args
    with Personakit.open(
        dsn, tenant=tenant, key_store=keys, keys=LocalKeyProvider(master_key)
    ) as kit:
        print("ready", flush=True)
        sys.stdin.readline()
        outcomes: list[str] = []
        for n in range(int(count)):
            try:
                if n % 2:
                    kit.rights.rectify(pseudonym, {"last_name": f"L{n}"})
                else:
                    kit.traits.update(pseudonym, {"first_name": f"F{n}"})
                outcomes.append("set")
            except SubjectNotFound:
                outcomes.append("gone")
    print(json.dumps(outcomes), flush=True)


if __name__ == "__main__":
    main()
