"""A writer for the kill -9 test: transfers between two balances, forever, until killed.

Each transaction moves an amount between two encrypted subject records, bumps a counter,
appends an audit entry and rewrites a 40 KiB padding record (so a kill often lands mid-write).
Invariant after any crash: balance A + balance B == 1000 and counter == number of "transfer"
audit entries.
"""

from __future__ import annotations

import os
import random
import sys

from personakit import LocalKeyProvider, Personakit

A = "sub_aaaaaaaaaaaaaaaaaaaaaaaaaa"
B = "sub_bbbbbbbbbbbbbbbbbbbbbbbbbb"


def main() -> None:
    store_dir, key = sys.argv[1], sys.argv[2]
    kit = Personakit.open(store_dir, keys=LocalKeyProvider(key))
    with kit.store.transaction():
        if kit.vault.get_json(A, "acct", "balance") is None:
            kit.vault.put_json(A, "acct", "balance", 1000)
            kit.vault.put_json(B, "acct", "balance", 0)
            kit.store.put("x/counter", b"0")
    print("ready", flush=True)
    rng = random.Random(os.getpid())
    while True:
        with kit.store.transaction():
            a = kit.vault.get_json(A, "acct", "balance")
            b = kit.vault.get_json(B, "acct", "balance")
            amount = rng.randint(-a if a else 0, b) if (a or b) else 0
            kit.vault.put_json(A, "acct", "balance", a + amount)
            kit.vault.put_json(B, "acct", "balance", b - amount)
            n = int(kit.store.get("x/counter") or b"0") + 1
            kit.store.put("x/counter", str(n).encode())
            kit.vault.put(A, "pad", "blob", os.urandom(40 * 1024))
            kit.audit.append("transfer", data={"n": n})


if __name__ == "__main__":
    main()
