"""The reports over what happened: consent (and the dossier), dsr, budget.

Figures are exact counts over the store's own records; the consent report suppresses counts
from 1 to k - 1 and the cells by which a row's total would give them back (:mod:`._suppress`).
The budget report reads the ledger and never spends: an auditor may run it at will.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from personakit.consent import decide
from personakit.reporting._doc import chart, document, rate, small, table
from personakit.reporting._sources import Census, ReportSources
from personakit.reporting._suppress import protect_rows, shown_rate

__all__ = [
    "SectionSource",
    "budget_report",
    "consent_report",
    "dossier",
    "dsr_report",
]

_DECISIONS: Final = ("given", "refused", "withdrawn", "expired")

#: A section another capability provides through the facade (e.g. the budget ledger).
SectionSource = Callable[[], Any]


def _month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def consent_report(sources: ReportSources, census: Census, k: int) -> dict[str, Any]:
    """Per purpose and notice version: current states; per month: decisions; GPC, TCF shares."""
    manifest = sources.manifest
    now = sources.clock.now()
    purposes = [p.id for p in manifest.consent_purposes()]
    current, monthly, (with_ledger, gpc, tcf) = _consent_counts(sources, census, purposes)
    # Each row publishes its total (subjects; the decisions a month's grant share divides by),
    # so its small cells are protected with complementary suppression.
    state_rows = [
        {**row, "given_rate": shown_rate(row, "given", "subjects")}
        for row in protect_rows(
            [
                {
                    "purpose": purpose,
                    "notice_version": version,
                    "subjects": counts["subjects"],
                    **{s: counts[s] for s in (*_DECISIONS, "stale")},
                }
                for (purpose, version), counts in sorted(current.items())
            ],
            ("subjects", *_DECISIONS, "stale"),
            [(_DECISIONS, "subjects")],
            k,
        )
    ]
    month_rows = [
        {**row, "given_rate": shown_rate(row, "given", "decisions")}
        for row in protect_rows(
            [
                {
                    "month": month,
                    "purpose": purpose,
                    **{s: counts[s] for s in _DECISIONS},
                    "decisions": sum(counts.values()),
                }
                for (month, purpose), counts in sorted(monthly.items())
            ],
            (*_DECISIONS, "decisions"),
            [(_DECISIONS, "decisions")],
            k,
        )
    ]
    months = sorted({month for month, _ in monthly})
    shares = {(r["month"], r["purpose"]): r["given_rate"] for r in month_rows}
    series: dict[str, list[float | None]] = {}
    for purpose in purposes:
        values: list[float | None] = []
        for month in months:
            value = shares.get((month, purpose))
            values.append(value if isinstance(value, float) else None)
        if any(v is not None for v in values):
            series[purpose] = values
    return document(
        "consent",
        "Consent: states, decisions over time, signals",
        generated_at=now,
        k=k,
        summary={
            "subjects": len(census.facts()),
            "subjects_with_ledger": small(with_ledger, k),
            "gpc_subjects": small(gpc, k),
            "gpc_share": rate(gpc, with_ledger, k),
            "tcf_subjects": small(tcf, k),
            "tcf_share": rate(tcf, with_ledger, k),
        },
        tables=[
            table(
                "states",
                "Current state per purpose and notice version (subjects)",
                ("purpose", "notice_version", "subjects", *_DECISIONS, "stale", "given_rate"),
                state_rows,
            ),
            table(
                "decisions_by_month",
                "Decisions recorded per month (ledger records)",
                ("month", "purpose", *_DECISIONS, "decisions", "given_rate"),
                month_rows,
            ),
        ],
        charts=[
            chart(
                "given_rate",
                "Share of decisions that were grants, per month",
                "line",
                months,
                series,
                unit="share",
            )
        ],
        notes=[
            "stale: given under a notice version that is no longer current.",
            "GPC and TCF shares: subjects with a ledger who sent that signal at least once.",
            (
                f"Counts from 1 to {k - 1} are suppressed, and so are the cells that would let "
                "a row's total give them away (complementary suppression) and the rates "
                "computed from any of them."
            ),
        ],
    )


def _consent_counts(
    sources: ReportSources, census: Census, purposes: list[str]
) -> tuple[
    dict[tuple[str, str], Counter[str]], dict[tuple[str, str], Counter[str]], tuple[int, int, int]
]:
    """Current states per (purpose, version), decisions per (month, purpose), signal counts."""
    manifest = sources.manifest
    now = sources.clock.now()
    current: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    monthly: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    with_ledger = gpc = tcf = 0
    for facts in census.facts():
        if not facts.ledger:
            continue
        with_ledger += 1
        gpc += any(r.source == "gpc" for r in facts.ledger)
        tcf += any(r.source == "tcf" for r in facts.ledger)
        for record in facts.ledger:
            if record.purpose in purposes and record.status in _DECISIONS:
                monthly[(_month(record.occurred_at), record.purpose)][record.status] += 1
        for purpose, record in decide(facts.ledger).items():
            if purpose not in purposes or record.status not in _DECISIONS:
                continue
            status: str = record.status
            if status == "given" and record.expires_at is not None and record.expires_at <= now:
                status = "expired"
            version = record.notice_version or "none"
            counts = current[(purpose, version)]
            counts["subjects"] += 1
            counts[status] += 1
            latest = manifest.current_notice_version(record.notice_id or "")
            if status == "given" and record.notice_version != latest:
                counts["stale"] += 1
    return current, monthly, (with_ledger, gpc, tcf)


def dossier(sources: ReportSources, subject: str, k: int) -> dict[str, Any]:
    """The Art. 7(1) proof for one subject asked for by name: every ledger record."""
    ledger = sources.consent.ledger(subject)
    notices = {(r.notice_id, r.notice_version) for r in ledger}
    ref = sources.subject_ref(subject)
    receipts = {r.receipt_id for r in ledger}
    anchored = [
        {
            "receipt": str(entry.data.get("receipt")),
            "action": entry.action,
            "audit_seq": entry.seq,
            "at": entry.at.isoformat(),
            "records": len(entry.data.get("records", ())),
            "entry_hash": entry.hash,
        }
        for entry in sources.audit.entries()
        if entry.subject == ref and entry.data.get("receipt") in receipts
    ]
    return document(
        "consent-dossier",
        "Consent proof for one subject (GDPR Art. 7(1))",
        generated_at=sources.clock.now(),
        k=k,
        summary={"subject": subject, "records": len(ledger), "receipts": len(anchored)},
        tables=[
            table(
                "records",
                "Ledger records, in append order",
                (
                    "seq",
                    "id",
                    "purpose",
                    "status",
                    "notice_id",
                    "notice_version",
                    "notice_sha256",
                    "source",
                    "method",
                    "jurisdiction",
                    "occurred_at",
                    "expires_at",
                    "receipt_id",
                    "manifest_sha256",
                ),
                (
                    {
                        "seq": r.seq,
                        "id": r.id,
                        "purpose": r.purpose,
                        "status": r.status,
                        "notice_id": r.notice_id,
                        "notice_version": r.notice_version,
                        "notice_sha256": r.notice_sha256,
                        "source": r.source,
                        "method": r.method,
                        "jurisdiction": r.jurisdiction,
                        "occurred_at": r.occurred_at.isoformat(),
                        "expires_at": None if r.expires_at is None else r.expires_at.isoformat(),
                        "receipt_id": r.receipt_id,
                        "manifest_sha256": r.manifest_sha256,
                    }
                    for r in ledger
                ),
            ),
            table(
                "current",
                "Deciding record per purpose",
                ("purpose", "status", "record"),
                (
                    {"purpose": p, "status": r.status, "record": r.id}
                    for p, r in sorted(decide(ledger).items())
                ),
            ),
            table(
                "receipts",
                "Receipts, as the audit chain recorded them (each change, hash-chained)",
                ("receipt", "action", "audit_seq", "at", "records", "entry_hash"),
                anchored,
            ),
            table(
                "notices",
                "Notices shown, as the manifest lists them",
                ("id", "version", "language", "text_sha256", "url"),
                (
                    {
                        "id": n.id,
                        "version": n.version,
                        "language": n.language,
                        "text_sha256": n.text_sha256,
                        "url": n.url,
                    }
                    for n in sources.manifest.notices
                    if (n.id, n.version) in notices
                ),
            ),
        ],
        notes=["This dossier holds one subject's personal data: hand it to that subject only."],
    )


def _days(start: datetime, end: datetime) -> int:
    return (end.date() - start.date()).days


def dsr_report(sources: ReportSources, k: int) -> dict[str, Any]:
    """The request log, CCPA section 7102 yearly metrics, on-time share, overdue list."""
    now = sources.clock.now()
    log = []
    for request in sources.requests():
        received = datetime.fromisoformat(request["received_at"])
        deadline = datetime.fromisoformat(request["deadline"])
        answered_raw = request.get("answered_at")
        answered = None if answered_raw is None else datetime.fromisoformat(answered_raw)
        state = request["state"]
        outcome = {"completed": "complied", "denied": "denied"}.get(state, "open")
        if outcome == "complied" and request.get("withheld") is True:
            outcome = "complied_in_part"
        log.append(
            {
                "id": request["id"],
                "kind": request["kind"],
                "jurisdiction": request["jurisdiction"],
                "channel": request["channel"],
                "state": state,
                "received_at": received.isoformat(),
                "deadline": deadline.isoformat(),
                "answered_at": None if answered is None else answered.isoformat(),
                "outcome": outcome,
                "denial_basis": request.get("denial_basis"),
                "days_to_respond": None if answered is None else _days(received, answered),
                "on_time": None if answered is None else answered <= deadline,
                "overdue": answered is None and now > deadline,
                "days_overdue": _days(deadline, now) if answered is None and now > deadline else 0,
                "_year": received.year,
                "_month": _month(received),
            }
        )
    yearly = []
    for year, kind in sorted({(r["_year"], r["kind"]) for r in log}):
        rows = [r for r in log if r["_year"] == year and r["kind"] == kind]
        yearly.append(_metrics(rows) | {"year": year, "kind": kind})
    months = sorted({r["_month"] for r in log})
    timeliness = {
        "on time": [
            float(sum(1 for r in log if r["_month"] == m and r["on_time"])) for m in months
        ],
        "late": [
            float(sum(1 for r in log if r["_month"] == m and r["on_time"] is False)) for m in months
        ],
        "overdue": [
            float(sum(1 for r in log if r["_month"] == m and r["overdue"])) for m in months
        ],
    }
    columns = (
        "id",
        "kind",
        "jurisdiction",
        "channel",
        "state",
        "received_at",
        "deadline",
        "answered_at",
        "outcome",
        "denial_basis",
        "days_to_respond",
        "on_time",
    )
    return document(
        "dsr",
        "Data-subject requests",
        generated_at=now,
        k=k,
        summary=_metrics(log) | {"overdue": sum(1 for r in log if r["overdue"])},
        tables=[
            table("requests", "Request log", columns, log),
            table(
                "yearly",
                "Metrics per calendar year and request type (CCPA regulations section 7102)",
                (
                    "year",
                    "kind",
                    "received",
                    "complied",
                    "complied_in_part",
                    "denied",
                    "open",
                    "median_days",
                    "mean_days",
                    "on_time_share",
                ),
                yearly,
            ),
            table(
                "overdue",
                "Overdue requests",
                ("id", "kind", "deadline", "days_overdue"),
                (r for r in log if r["overdue"]),
            ),
        ],
        charts=[chart("timeliness", "Requests per month received", "bar", months, timeliness)],
        notes=[
            (
                "complied: completed in whole or in part (the CCPA section 7102 figure); "
                "complied_in_part: of those, completed with a result naming what was withheld; "
                "days are calendar days from receipt to the answer (UTC dates)."
            )
        ],
    )


def _metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    days = [int(r["days_to_respond"]) for r in rows if r["days_to_respond"] is not None]
    answered = [r for r in rows if r["on_time"] is not None]
    return {
        "received": len(rows),
        "complied": sum(1 for r in rows if r["outcome"] in {"complied", "complied_in_part"}),
        "complied_in_part": sum(1 for r in rows if r["outcome"] == "complied_in_part"),
        "denied": sum(1 for r in rows if r["outcome"] == "denied"),
        "open": sum(1 for r in rows if r["outcome"] == "open"),
        "median_days": float(statistics.median(days)) if days else None,
        "mean_days": round(statistics.fmean(days), 2) if days else None,
        "on_time_share": round(sum(1 for r in answered if r["on_time"]) / len(answered), 4)
        if answered
        else None,
    }


def _loss_value(loss: Mapping[str, Any] | None) -> float:
    if not loss:
        return 0.0
    return float(loss["rho"] if loss.get("model") == "zcdp" else loss["epsilon"])


def budget_report(sources: ReportSources, provider: SectionSource | None, k: int) -> dict[str, Any]:
    """Per DP dataset: cap, spent, and each release with who, why and when (never spends)."""
    datasets: list[Mapping[str, Any]] = list(provider()) if provider is not None else []
    releases = [
        {
            "dataset": d["dataset"],
            "seq": int(r["seq"]),
            "at": str(r["at"]),
            "actor": str(r["actor"]),
            "reason": str(r["reason"]),
            "epsilon": float(r["loss"]["epsilon"]),
            "delta": float(r["loss"]["delta"]),
            "rho": float(r["loss"]["rho"]),
            "_value": _loss_value(r["loss"]),
        }
        for d in datasets
        for r in d["releases"]
    ]
    stamps = sorted({r["at"] for r in releases})
    series: dict[str, list[float | None]] = {}
    for d in datasets:
        own = sorted((r for r in releases if r["dataset"] == d["dataset"]), key=lambda r: r["at"])
        if own:
            series[d["dataset"]] = [
                round(sum(r["_value"] for r in own if r["at"] <= at), 6) for at in stamps
            ]
    rows = [
        {
            "dataset": d["dataset"],
            "model": (d["cap"] or d["spent"])["model"],
            "cap": None if d["cap"] is None else _loss_value(d["cap"]),
            "spent": _loss_value(d["spent"]),
            "releases": len(d["releases"]),
        }
        for d in datasets
    ]
    return document(
        "budget",
        "Differential privacy budget",
        generated_at=sources.clock.now(),
        k=k,
        summary={
            "enabled": provider is not None,
            "datasets": len(rows),
            "releases": len(releases),
        },
        tables=[
            table(
                "datasets",
                "Budget per dataset",
                ("dataset", "model", "cap", "spent", "releases"),
                rows,
            ),
            table(
                "releases",
                "Releases (who, why, when, loss)",
                ("dataset", "seq", "at", "actor", "reason", "epsilon", "delta", "rho"),
                releases,
            ),
        ],
        charts=[chart("use", "Budget spent over time", "line", stamps, series, unit="loss")],
        notes=[
            (
                "cap and spent are epsilon (rho for zCDP datasets). This report reads the ledger "
                "and spends nothing."
            )
        ]
        + ([] if provider is not None else ["analytics not enabled"]),
    )
