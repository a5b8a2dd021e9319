"""A withdrawal committed by one process is honoured by the next guard call in another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from _shared import PRIVACY
from personakit import LocalKeyProvider, Personakit

# Process B: loops on allowed() until it sees the flag file, then reports the first guard
# result computed after seeing it. No sleeps: the flag is created after A's withdraw returned.
CHECKER = textwrap.dedent(
    """
    import json, os, sys
    from personakit import LocalKeyProvider, Personakit

    store, subject, flag = sys.argv[1:4]
    with Personakit.open(store, keys=LocalKeyProvider(os.environ["PK_TEST_KEY"])) as kit:
        checks = 0
        while not kit.consent.allowed(subject, "personalization"):
            checks += 1  # A's grant may not be visible yet
            if checks > 10_000_000:
                sys.exit("never saw the grant")
        print("ready", flush=True)
        before = []
        while True:
            seen = os.path.exists(flag)
            result = kit.consent.allowed(subject, "personalization")
            if seen:
                regrants = sum(1 for a, b in zip(before, before[1:]) if b and not a)
                print(json.dumps({"after": result, "regrants": regrants}))
                break
            before.append(result)
    """
)


def test_withdrawal_is_seen_by_the_next_guard_call_in_another_process(tmp_path, master_key):
    """B's first allowed() after A's withdraw() returned is False; before that it was True."""
    store = tmp_path / "store"
    flag = tmp_path / "withdrawn.flag"
    with Personakit.open(store, keys=LocalKeyProvider(master_key)) as kit:
        subject = kit.identity.resolve("customer:2p", create=True)
        kit.consent.grant(subject, "personalization", **PRIVACY)
        env = {**os.environ, "PK_TEST_KEY": master_key}
        checker = subprocess.Popen(
            [sys.executable, "-c", CHECKER, str(store), subject, str(flag)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert checker.stdout is not None
            assert checker.stdout.readline().strip() == "ready"  # B is looping, saw the grant
            receipt = kit.consent.withdraw(subject, "personalization", source="web")
            assert receipt.changed
            flag.touch()  # only after withdraw() returned
            out, err = checker.communicate(timeout=60)
        finally:
            if checker.poll() is None:
                checker.kill()
    assert checker.returncode == 0, err
    report = json.loads(out)
    assert report["after"] is False
    # B may see the withdrawal even before the flag appears, but never flips back to allowed.
    assert report["regrants"] == 0
