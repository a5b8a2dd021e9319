"""Where the audit log's chains live, and which chain an entry goes to.

One chain is the original layout, and stays chain 0 for ever: ``a/e/<seq>`` and ``a/head``,
genesis 32 zero bytes. A log with ``N > 1`` chains (recorded once under ``a/chains``) adds
chains ``1 … N-1`` under ``a/c/<chain>/e/<seq>`` and ``a/c/<chain>/head``, each with a genesis
of its own, and every new entry names its chain inside the hashed body: an entry moved to
another chain no longer matches where it is stored, nor links to its new neighbours.

A writer thread appends to one chain for its whole life (threads of a process take
consecutive chains from a random start, re-drawn after a fork), so a transaction, however many
subjects it audits (a bulk-ingest batch full of consent lines), takes exactly one chain's head,
as it took the one head before: picking the chain by subject instead made such transactions
collect several heads in arbitrary order and deadlock each other (4 ingest processes ran at
0.11x one). On PostgreSQL each chain is its own lock domain
(:mod:`personakit.storage._postgres_locks`), so writers append in parallel instead of queueing
on one head.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import threading
from typing import Final

__all__ = [
    "CHAINS_KEY",
    "CHAIN_PREFIX",
    "LEGACY_ENTRIES",
    "LEGACY_HEAD",
    "MAX_CHAINS",
    "ChainPicker",
    "entry_key",
    "entry_prefix",
    "genesis",
    "head_key",
    "parse_entry_key",
]

LEGACY_HEAD: Final = "a/head"
LEGACY_ENTRIES: Final = "a/e/"
CHAIN_PREFIX: Final = "a/c/"
CHAINS_KEY: Final = "a/chains"
#: The most chains a log may have (more buys nothing: the chains only need to outnumber the
#: writers by enough that two rarely meet).
MAX_CHAINS: Final = 256
_SEQ_WIDTH: Final = 16
_CHAIN_WIDTH: Final = 4
_ZERO: Final = "00" * 32


def genesis(chain: int) -> str:
    """The hash an empty chain starts from (chain 0: 32 zero bytes, as ever)."""
    if chain == 0:
        return _ZERO
    return hashlib.sha256(f"personakit:audit-chain:{chain}".encode()).hexdigest()


def entry_prefix(chain: int) -> str:
    """The key prefix of one chain's entries."""
    if chain == 0:
        return LEGACY_ENTRIES
    return f"{CHAIN_PREFIX}{chain:0{_CHAIN_WIDTH}d}/e/"


def entry_key(chain: int, seq: int) -> str:
    """The key of entry ``seq`` of ``chain``."""
    return f"{entry_prefix(chain)}{seq:0{_SEQ_WIDTH}d}"


def head_key(chain: int) -> str:
    """The key of one chain's head."""
    if chain == 0:
        return LEGACY_HEAD
    return f"{CHAIN_PREFIX}{chain:0{_CHAIN_WIDTH}d}/head"


def parse_entry_key(key: str) -> tuple[int, int | None] | None:
    """``(chain, seq)`` of an entry key (seq None when malformed); None if not an entry key."""
    if key.startswith(LEGACY_ENTRIES):
        chain, tail = 0, key[len(LEGACY_ENTRIES) :]
    elif key.startswith(CHAIN_PREFIX):
        number, sep, rest = key[len(CHAIN_PREFIX) :].partition("/e/")
        if not sep or not number.isdigit() or len(number) != _CHAIN_WIDTH:
            return None
        chain, tail = int(number), rest
    else:
        return None
    seq = int(tail) if tail.isdigit() and len(tail) == _SEQ_WIDTH else None
    return chain, seq


class ChainPicker:
    """The chain each writer thread appends to: fixed per thread, consecutive per process."""

    def __init__(self, chains: int) -> None:
        """Pick among ``chains`` chains."""
        self.chains = chains
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._next = itertools.count(secrets.randbelow(chains))

    def __call__(self) -> int:
        """This thread's chain (0 when there is one chain)."""
        if self.chains == 1:
            return 0
        pid = os.getpid()
        mine: tuple[int, int] | None = getattr(self._local, "chain", None)
        if mine is None or mine[0] != pid:
            with self._lock:
                if self._pid != pid:  # a forked child: not the parent's sequence
                    self._pid = pid
                    self._next = itertools.count(secrets.randbelow(self.chains))
                mine = (pid, next(self._next) % self.chains)
            self._local.chain = mine
        return mine[1]
