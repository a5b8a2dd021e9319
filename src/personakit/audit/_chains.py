"""Where the audit log's chains live, and which chain an entry goes to.

One chain is the original layout, and stays chain 0 for ever: ``a/e/<seq>`` and ``a/head``,
genesis 32 zero bytes. A log with ``N > 1`` chains (recorded once under ``a/chains``) adds
chains ``1 … N-1`` under ``a/c/<chain>/e/<seq>`` and ``a/c/<chain>/head``, each with a genesis
of its own, and every new entry names its chain inside the hashed body: an entry moved to
another chain no longer matches where it is stored, nor links to its new neighbours.

An entry about a subject goes to the chain its (already keyed) subject reference hashes to, so
one subject's entries stay in order in one chain; an entry about no subject goes to a random
chain. On PostgreSQL each chain is its own lock domain
(:mod:`personakit.storage._postgres_locks`), so audited writes of different subjects append in
parallel instead of queueing on one head.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

__all__ = [
    "CHAINS_KEY",
    "CHAIN_PREFIX",
    "LEGACY_ENTRIES",
    "LEGACY_HEAD",
    "MAX_CHAINS",
    "chain_of",
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


def chain_of(subject: str | None, chains: int) -> int:
    """The chain an entry about ``subject`` (a keyed reference, or None) is appended to."""
    if chains == 1:
        return 0
    if subject is None:
        return secrets.randbelow(chains)
    digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % chains
