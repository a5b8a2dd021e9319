"""Reports only read, and name nobody: properties over generated shops.

* Building and rendering every report writes nothing to either store (so no privacy budget is
  spent, no audit entry is added: an auditor may re-run them at will).
* No report (in any format) holds a subject's pseudonym, identifier, trait value or event
  property value; only the consent dossier asked for by name holds the pseudonym.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from personakit.reporting import FORMATS, KINDS

from ._scenario import ACTIONS, apply_consents, open_kit, releases

CANARY = st.text("abcdefghijklmnopqrstuvwxyz", min_size=10, max_size=14).map(
    lambda text: "zq" + text
)


@settings(max_examples=10, deadline=None)
@given(
    people=st.lists(st.tuples(st.sampled_from(ACTIONS), st.booleans()), min_size=1, max_size=8),
    canaries=st.lists(CANARY, min_size=3, max_size=3, unique=True),
    spend=st.booleans(),
)
def test_reports_read_only_and_name_nobody(
    people: list[tuple[str, bool]], canaries: list[str], spend: bool
) -> None:
    """Every report in every format: the stores unchanged, no pseudonym and no canary value."""
    name, city, item = canaries
    with open_kit() as kit:
        subjects = apply_consents(kit, people)
        for index, subject in enumerate(subjects):
            kit.traits.update(subject, {"first_name": name, "city": city})
            kit.track(f"customer:{index}", "product_view", channel="web", properties={"item": item})
        assert kit.traits.get(subjects[0]).get("first_name") == name  # the canary is stored
        if spend:
            list(releases(kit))
        before = (dict(kit.store.scan("")), dict(kit.key_store.scan("")))
        texts = [kit.reports.render(kind, format=fmt) for kind in KINDS for fmt in FORMATS]
        assert (dict(kit.store.scan("")), dict(kit.key_store.scan(""))) == before
        dossier = kit.reports.render("consent", subject="customer:0", format="json")
    for text in texts:
        found = [n for n in (*subjects, *canaries) if n in text]
        assert found == []
    assert subjects[0] in dossier
    assert not [c for c in canaries if c in dossier]
