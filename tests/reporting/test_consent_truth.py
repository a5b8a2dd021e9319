"""The consent report equals the truth of a generated scenario in every unsuppressed cell; it
hides every count from 1 to k - 1, and with it the cells that would let a row's total give it
away (complementary suppression), and every rate computed from a hidden count."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from personakit.reporting import COMPLEMENTARY, SUPPRESSED, is_suppressed

from ._scenario import ACTIONS, NOW, OLD_VERSION, apply_consents, open_kit

DECISIONS = ("given", "refused", "withdrawn", "expired")
STATE_COUNTS = ("subjects", *DECISIONS, "stale")
PEOPLE = st.lists(st.tuples(st.sampled_from(ACTIONS), st.booleans()), max_size=24)


def _cell(n: int, k: int) -> Any:
    return dict(SUPPRESSED) if 0 < n < k else n


def _rate(part: int, whole: int, k: int) -> Any:
    if 0 < part < k or 0 < whole < k:
        return dict(SUPPRESSED)
    return None if whole == 0 else round(part / whole, 4)


def _check_rows(
    shown: list[dict[str, Any]], truth: list[dict[str, Any]], total: str, k: int
) -> None:
    """Each row: shown counts are true, small ones hidden, the row's sum never has exactly one
    hidden cell, and the grant share is shown exactly when both its counts are."""
    assert [(r.get("purpose"), r.get("month"), r.get("notice_version")) for r in shown] == [
        (r.get("purpose"), r.get("month"), r.get("notice_version")) for r in truth
    ]
    for row, true in zip(shown, truth, strict=True):
        for column, n in true.items():
            if not isinstance(n, int) or column in {"purpose", "month", "notice_version"}:
                continue
            if 0 < n < k:  # suppressed as small, exactly these
                assert row[column] == SUPPRESSED, (column, row)
            elif is_suppressed(row[column]):  # any other hidden cell says it is a complement
                assert row[column] == COMPLEMENTARY, (column, row)
            else:
                assert row[column] == n, (column, row)
        cells = [row[c] for c in (*DECISIONS, total)]
        assert sum(is_suppressed(c) for c in cells) != 1, row
        if is_suppressed(row["given"]) or is_suppressed(row[total]):
            assert is_suppressed(row["given_rate"])
        else:
            assert row["given_rate"] == (
                None if true[total] == 0 else round(true["given"] / true[total], 4)
            )


def _truth(people: list[tuple[str, bool]], gpc_purposes: list[str], k: int) -> dict[str, Any]:
    """The expected tables, from the scenario alone."""
    current = "2026-01"
    states: dict[tuple[str, str], Counter[str]] = {}
    monthly: dict[tuple[str, str], Counter[str]] = {}
    now_month = NOW.strftime("%Y-%m")
    old_month = (NOW - timedelta(days=400)).strftime("%Y-%m")
    outcome = {
        "grant": ("given", current, [("given", now_month)]),
        "refuse": ("refused", current, [("refused", now_month)]),
        "withdraw": ("withdrawn", current, [("given", now_month), ("withdrawn", now_month)]),
        "stale": ("given", OLD_VERSION, [("given", now_month)]),
        "expired": ("expired", current, [("given", old_month)]),
    }
    for action, gpc in people:
        if action != "none":
            status, version, records = outcome[action]
            counts = states.setdefault(("personalization", version), Counter())
            counts["subjects"] += 1
            counts[status] += 1
            counts["stale"] += action == "stale"
            for record_status, month in records:
                monthly.setdefault((month, "personalization"), Counter())[record_status] += 1
        if gpc:
            for purpose in gpc_purposes:
                counts = states.setdefault((purpose, "none"), Counter())
                counts["subjects"] += 1
                counts["refused"] += 1
                monthly.setdefault((now_month, purpose), Counter())["refused"] += 1
    with_ledger = sum(1 for action, gpc in people if action != "none" or gpc)
    gpc_count = sum(1 for _, gpc in people if gpc)
    return {
        "states": [
            {"purpose": purpose, "notice_version": version, **{s: c[s] for s in STATE_COUNTS}}
            for (purpose, version), c in sorted(states.items())
        ],
        "decisions_by_month": [
            {
                "month": month,
                "purpose": purpose,
                **{s: c[s] for s in DECISIONS},
                "decisions": sum(c.values()),
            }
            for (month, purpose), c in sorted(monthly.items())
        ],
        "summary": {
            "subjects": len(people),
            "subjects_with_ledger": _cell(with_ledger, k),
            "gpc_subjects": _cell(gpc_count, k),
            "gpc_share": _rate(gpc_count, with_ledger, k),
            "tcf_subjects": 0,
            "tcf_share": _rate(0, with_ledger, k),
        },
    }


@settings(max_examples=25, deadline=None)
@given(people=PEOPLE, k=st.integers(min_value=1, max_value=6))
def test_consent_report_equals_the_truth(people: list[tuple[str, bool]], k: int) -> None:
    """Every cell of the consent report is the scenario's truth, or suppressed iff 1 <= n < k."""
    with open_kit() as kit:
        apply_consents(kit, people)
        gpc_purposes = [p.id for p in kit.manifest.purposes if p.gpc_opt_out and p.needs_consent]
        report = kit.reports.build("consent", k=k)
        assert kit.reports.validate(report) == []
    truth = _truth(people, gpc_purposes, k)
    tables = {t["id"]: t["rows"] for t in report["tables"]}
    _check_rows(tables["states"], truth["states"], "subjects", k)
    _check_rows(tables["decisions_by_month"], truth["decisions_by_month"], "decisions", k)
    assert report["summary"] == truth["summary"]
    if k == 1:  # nothing to hide: the whole truth is shown
        assert not any(is_suppressed(v) for t in tables.values() for r in t for v in r.values())
