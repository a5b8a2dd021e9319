"""The journeys report equals the truth of journeys actually run: built-in journeys loaded through
the kit, events ingested under an injected clock, ``run_due``, actions marked sent or failed,
unsubscribe links redeemed; small cells hidden, and no hidden cell given away by a total."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from _journey_kit import customer
from _shared import PRIVACY
from personakit import FixedClock, Personakit
from personakit.journeys import Action
from personakit.reporting import COMPLEMENTARY, SUPPRESSED, is_suppressed

from ._scenario import NOW, open_kit

#: A journey with a holdout: half of those who add to cart get an SMS, half are held out.
HELD = {
    "id": "held",
    "trigger": {"type": "event", "event": "add_to_cart"},
    "steps": [{"id": "only", "template": "cart_abandonment"}],
    "channels": ["sms"],
    "holdout": 0.5,
}
#: What happens to a customer's welcome e-mail (``unsubscribe``: its link is redeemed, which
#: cancels the customer's pending e-mails) and to their cart reminder; and analytics consent.
PEOPLE = st.lists(
    st.tuples(
        st.sampled_from(("sent", "failed", "pending", "unsubscribe")),
        st.sampled_from(("sent", "failed", "pending")),
        st.booleans(),
    ),
    max_size=14,
)
STATUSES = ("pending", "sent", "failed", "cancelled", "other")


def _run(kit: Personakit, clock: FixedClock, people: list[tuple[str, str, bool]]) -> Counter[Any]:
    """Run the journeys for ``people``; the truth: counts per (table, row, column) cell."""
    kit.journeys.load([HELD])
    kit.journeys.enable_builtin(["welcome", "cart_abandonment"])
    index: dict[str, int] = {}
    for n, (_, _, analytics) in enumerate(people):
        subject = customer(kit, f"c{n}", phone=f"+336123456{n:02d}")
        if analytics:
            kit.consent.grant(subject, "analytics", **PRIVACY)
        index[subject] = n
        kit.track(f"customer:c{n}", "add_to_cart", channel="web", properties={"item": "p1"})
    kit.journeys.run_due()  # the welcome e-mails and the held journey's SMS
    clock.advance(hours=4)
    kit.journeys.run_due()  # the cart reminders
    handed = kit.journeys.pending(NOW + timedelta(days=30), limit=1000)
    status: dict[str, tuple[str, str | None]] = {a.id: ("pending", None) for a in handed}
    by_journey = {(a.journey, index[a.subject]): a for a in handed}
    truth: Counter[Any] = Counter()
    for journey, fate in (("cart_abandonment", 1), ("welcome", 0)):
        for n, person in enumerate(people):
            action = by_journey.get((journey, n))
            if action is not None:
                _apply(kit, action, person[fate], handed=handed, status=status, truth=truth)
    for n, (_, _, analytics) in enumerate(people):
        if analytics and ("held", n) not in by_journey:
            truth[("j", "held", "holdout")] += 1
            truth[("all", "holdout")] += 1
    produced_at = {"welcome": NOW, "held": NOW, "cart_abandonment": NOW + timedelta(hours=4)}
    for a in handed:
        if not people[index[a.subject]][2]:
            continue  # no basis for analytics: the dataset does not offer their rows
        state, reason = status[a.id]
        deferred = a.send_after > produced_at[a.journey]
        for row in (("j", a.journey), ("c", a.channel), ("all",)):
            truth[(*row, "produced")] += 1
            truth[(*row, state)] += 1
            truth[(*row, "deferred")] += deferred
        if reason is not None:
            truth[("r", a.channel, reason)] += 1
    return truth


def _apply(
    kit: Personakit,
    action: Action,
    fate: str,
    *,
    handed: list[Action],
    status: dict[str, tuple[str, str | None]],
    truth: Counter[Any],
) -> None:
    """Do ``fate`` to ``action`` and note the statuses it leaves (and the unsubscribe)."""
    if fate == "sent":
        assert kit.journeys.mark_sent(action.id)
        status[action.id] = ("sent", None)
    elif fate == "failed":
        assert kit.journeys.mark_failed(action.id, permanent=True) is None
        status[action.id] = ("failed", None)
    elif fate == "unsubscribe":
        assert kit.journeys.redeem(action.unsubscribe_token).withdrawn
        truth[("c", action.channel, "unsubscribes")] += 1
        truth[("all", "unsubscribes")] += 1
        for a in handed:  # the withdrawal cancels every pending action on that channel
            same = a.subject == action.subject and a.channel == action.channel
            if same and status[a.id][0] == "pending":
                status[a.id] = ("cancelled", "withdrawn")


def _published(doc: dict[str, Any]) -> dict[Any, Any]:
    """Every count of the report, keyed as the truth is (totals rows as ``("all", column)``)."""
    cells: dict[Any, Any] = {}
    tables = {t["id"]: t for t in doc["tables"]}
    for kind, table_id in (("j", "journeys"), ("c", "channels")):
        label = "journey" if kind == "j" else "channel"
        for row in tables[table_id]["rows"]:
            for column in tables[table_id]["columns"][1:]:
                key = ("all", column) if row[label] == "(all)" else (kind, row[label], column)
                if key in cells:  # both totals rows publish the same figures
                    assert cells[key] == row[column]
                cells[key] = row[column]
    for row in tables["cancellations"]["rows"]:
        cells[("r", row["channel"], row["reason"])] = row["actions"]
    for name in ("holdout", "unsubscribes"):
        assert doc["summary"][name] == cells[("all", name)]
    assert doc["summary"]["actions"] == cells[("all", "produced")]
    return cells


def _sums(cells: dict[Any, Any]) -> list[list[Any]]:
    """The report's published sums, each as its cells (members and total), read off its rows."""
    groups: list[list[Any]] = []
    for kind in ("j", "c"):
        names = {key[1] for key in cells if key[0] == kind}
        columns = {key[2] for key in cells if key[0] == kind}
        for name in [*names, None]:
            row = (kind, name) if name is not None else ("all",)
            groups.append([(*row, s) for s in (*STATUSES, "produced")])
        groups.extend(
            [*((kind, name, column) for name in names), ("all", column)] for column in columns
        )
    for channel in {key[1] for key in cells if key[0] == "c"}:
        reasons = [key for key in cells if key[0] == "r" and key[1] == channel]
        if reasons:
            groups.append([*reasons, ("c", channel, "cancelled")])
    return groups


@settings(max_examples=8, deadline=None)
@given(people=PEOPLE, k=st.integers(min_value=1, max_value=6))
def test_journeys_report_equals_the_truth_of_journeys_run(
    people: list[tuple[str, str, bool]], k: int
) -> None:
    """Every shown count is the truth; every count from 1 to k - 1 is hidden; and no published
    sum has exactly one hidden cell, so no hidden count can be recomputed from a total."""
    clock = FixedClock(NOW)
    with open_kit(clock=clock) as kit:
        truth = _run(kit, clock, people)
        doc = kit.reports.build("journeys", k=k)
        assert kit.reports.validate(doc) == []
    cells = _published(doc)
    assert {key for key, n in truth.items() if n} <= set(cells)
    for key, value in cells.items():
        if 0 < truth[key] < k:  # suppressed as small, exactly these
            assert value == SUPPRESSED, key
        elif is_suppressed(value):  # any other hidden cell says it is a complement
            assert value == COMPLEMENTARY, key
        else:
            assert value == truth[key], key
    for group in _sums(cells):
        hidden = [key for key in group if is_suppressed(cells.get(key, 0))]
        assert len(hidden) != 1, (group, hidden)
    if k == 1:  # nothing to hide: the whole truth is shown
        assert all(not is_suppressed(v) for v in cells.values())
