"""Restriction takes a subject out of the membership index at once, and lifting puts it back.

``sizes()``, ``members()`` and the segments dataset read the index: a restricted customer is
no longer counted from the restriction's own transaction on, not only after the next refresh.
"""

from __future__ import annotations

from _shared import PRIVACY
from personakit.personalization._index import INDEX_PREFIX
from personakit.testing import memory_kit


def test_restrict_removes_index_entries_in_its_transaction_and_lift_restores_them() -> None:
    """Entries of the subject: present, gone after restrict (with "left"), back after lift."""
    kit, _ = memory_kit()
    changes: list[tuple[str, str]] = []
    kit.registries.hooks.on_segment_change("probe", lambda c: changes.append((c.segment, c.change)))
    with kit:
        subject = kit.identity.resolve("customer:r1", create=True)
        kit.consent.grant(subject, ["personalization"], **PRIVACY)
        kit.track("customer:r1", "purchase", channel="web", properties={"item": "cake"})

        def entries() -> set[str]:
            return {
                key[len(INDEX_PREFIX) :].split("/")[0]
                for key, _ in kit.store.scan(INDEX_PREFIX)
                if key.endswith(f"/{subject}")
            }

        before = entries()
        assert before
        sizes = kit.personalization.sizes()
        kit.consent.restrict(subject, source="web")
        assert entries() == set()
        assert all(kit.personalization.sizes()[n] == sizes[n] - 1 for n in before)
        assert {segment for segment, change in changes if change == "left"} == before
        kit.consent.lift_restriction(subject, source="web")
        assert entries() == before
        assert kit.personalization.sizes() == sizes
