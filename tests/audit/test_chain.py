"""The audit chain detects edits, deletions, reordering, truncation and full rewrites."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest

from personakit import AuditChainBroken, Personakit
from personakit._codec import canonical_json
from personakit.audit import Checkpoint
from personakit.exceptions import InvalidInput
from personakit.storage import Store

Tamper = Callable[[Store], None]


def _entry_key(seq: int) -> str:
    return f"a/e/{seq:016d}"


def _fill(kit: Personakit, n: int = 10) -> None:
    for i in range(n):
        kit.audit.append("test.event", subject=f"ref{i}", data={"i": i})


def _edit(store: Store) -> None:
    doc = json.loads(store.get(_entry_key(4)) or b"")
    doc["data"]["i"] = 999
    store.put(_entry_key(4), canonical_json(doc))


def _delete(store: Store) -> None:
    store.delete(_entry_key(5))


def _reorder(store: Store) -> None:
    a, b = store.get(_entry_key(3)), store.get(_entry_key(6))
    assert a is not None
    assert b is not None
    store.put(_entry_key(3), b)
    store.put(_entry_key(6), a)


def _truncate(store: Store) -> None:
    # Drop the last three entries and move the head back: the chain itself stays consistent.
    last = json.loads(store.get(_entry_key(7)) or b"")
    for seq in (8, 9, 10):
        store.delete(_entry_key(seq))
    store.put("a/head", canonical_json({"seq": 7, "hash": last["hash"]}))


def _rewrite(store: Store) -> None:
    # Edit entry 2 and recompute every hash after it: only a checkpoint can tell.
    prev = "00" * 32
    for seq in range(1, 11):
        doc = json.loads(store.get(_entry_key(seq)) or b"")
        if seq == 2:
            doc["data"]["i"] = 12345
        body = {k: doc[k] for k in ("seq", "at", "action", "actor", "subject", "data")}
        doc["prev"] = prev
        doc["hash"] = hashlib.sha256(bytes.fromhex(prev) + canonical_json(body)).hexdigest()
        prev = doc["hash"]
        store.put(_entry_key(seq), canonical_json(doc))
    store.put("a/head", canonical_json({"seq": 10, "hash": prev}))


def test_untampered_chain_verifies(memory_kit: Personakit) -> None:
    """A chain written through the API verifies, with and without a checkpoint."""
    _fill(memory_kit)
    checkpoint = memory_kit.audit.checkpoint()
    _fill(memory_kit, 3)
    assert memory_kit.audit.verify().ok
    assert memory_kit.audit.verify(checkpoint).ok


def test_empty_chain_verifies(memory_kit: Personakit) -> None:
    """A new store's empty chain verifies, and so does a checkpoint of it."""
    assert memory_kit.audit.verify(memory_kit.audit.checkpoint()).ok


@pytest.mark.parametrize(
    ("tamper", "kinds", "needs_checkpoint"),
    [
        (_edit, {"edited"}, False),
        (_delete, {"gap", "broken-link"}, False),
        (_reorder, {"misnumbered", "broken-link"}, False),
        (_truncate, {"truncated"}, True),
        (_rewrite, {"rewritten"}, True),
    ],
    ids=["edit", "delete", "reorder", "truncate", "rewrite"],
)
def test_tamper_matrix(
    memory_kit: Personakit, tamper: Tamper, kinds: set[str], needs_checkpoint: bool
) -> None:
    """Every kind of tampering is detected, and reported with the right kind."""
    _fill(memory_kit)
    checkpoint = memory_kit.audit.checkpoint()
    tamper(memory_kit.store)
    report = memory_kit.audit.verify(checkpoint)
    assert not report.ok
    assert kinds <= {p.kind for p in report.problems}
    if needs_checkpoint:
        # Without the checkpoint the chain is self-consistent: that is why checkpoints exist.
        assert memory_kit.audit.verify().ok
    with pytest.raises(AuditChainBroken):
        memory_kit.audit.verify(checkpoint, strict=True)


def test_forged_checkpoint_is_reported(memory_kit: Personakit) -> None:
    """A checkpoint whose fields were changed fails its MAC and is reported as invalid."""
    _fill(memory_kit)
    checkpoint = memory_kit.audit.checkpoint().to_json()
    checkpoint["seq"] = 3
    report = memory_kit.audit.verify(Checkpoint.from_json(checkpoint))
    assert [p.kind for p in report.problems] == ["checkpoint-invalid"]


def test_checkpoint_json_is_validated() -> None:
    """A malformed checkpoint file lists every bad field at once."""
    with pytest.raises(InvalidInput) as caught:
        Checkpoint.from_json({"seq": "x", "at": "not a date"})
    assert len(caught.value.problems) >= 4


def test_entry_rolls_back_with_its_transaction(memory_kit: Personakit) -> None:
    """An audit entry appended in a failed transaction disappears with it."""
    _fill(memory_kit, 2)

    def doomed() -> None:
        with memory_kit.store.transaction():
            memory_kit.audit.append("doomed")
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        doomed()
    assert memory_kit.audit.head()[0] == 2
    assert memory_kit.audit.verify().ok


def test_chain_survives_reopen(disk_kit: Personakit) -> None:
    """Entries written on disk verify after the store is closed and reopened."""
    _fill(disk_kit)
    assert [e.seq for e in disk_kit.audit.entries()] == list(range(1, 11))
    assert disk_kit.audit.verify().ok
