"""Ids minted in blocks: same form and entropy as one random read each, never repeated."""

from __future__ import annotations

import os
import re

import pytest

from personakit._ids import new_id
from personakit._vault import valid_subject_id
from personakit.workflows._ingest import _EVENT_IDS

EVENT_ID = re.compile(r"evt_[0-9a-f]{11}[0-9a-f]{12}")


def test_block_event_ids_have_the_event_id_form_and_never_repeat() -> None:
    """5,000 ids (several blocks) all have the form of event_id_at's and are all distinct."""
    ids = [_EVENT_IDS.at(1_700_000_000_000) for _ in range(5000)]
    assert all(EVENT_ID.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_the_parents_next_ids() -> None:
    """After fork, parent and child draw different ids (the child drops the inherited block)."""
    _EVENT_IDS.at(0)  # the parent holds a partly used block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, "".join(_EVENT_IDS.at(0) for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 4096).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = "".join(_EVENT_IDS.at(0) for _ in range(10))
    assert child
    assert set(re.findall(r"evt_\w{23}", child)).isdisjoint(re.findall(r"evt_\w{23}", parent))


def test_new_ids_are_valid_pseudonyms_over_the_whole_alphabet() -> None:
    """new_id('sub_') always makes a valid pseudonym, and every base32 letter shows up."""
    ids = [new_id("sub_") for _ in range(2000)]
    assert all(valid_subject_id(i) for i in ids)
    assert set("".join(i[4:] for i in ids)) == set("abcdefghijklmnopqrstuvwxyz234567")
    assert len(set(ids)) == len(ids)
