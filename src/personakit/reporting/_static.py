"""The reports drawn from the manifest, the registries and the store's shape.

``ropa`` (GDPR Art. 30(1) a-g), ``inventory``, ``retention``, ``minimization`` and ``audit``.
None of them lists a subject: counts of subjects are the only per-subject figures, and the
minimization report suppresses the small ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from personakit.consent import Manifest
from personakit.reporting._doc import Cell, document, table
from personakit.reporting._sources import Census, ReportSources
from personakit.reporting._subjects import subject_categories
from personakit.workflows import category_retention

__all__ = ["inventory_report", "retention_report", "ropa"]


def _retention(manifest: Manifest) -> dict[str, Any]:
    return category_retention(
        (p.data_categories, p.retention_days, p.retention_from) for p in manifest.purposes
    )


def _purposes_of(manifest: Manifest, category: str) -> list[str]:
    return [p.id for p in manifest.purposes if category in p.data_categories]


def _event_category(manifest: Manifest) -> dict[str, str]:
    return {e.kind: e.category for e in manifest.events}


def _held_categories(census: Census, manifest: Manifest) -> Counter[str]:
    """How many subjects hold data of each category (a trait or an event of it)."""
    trait_category = {t.name: t.category for t in manifest.traits}
    event_category = _event_category(manifest)
    held: Counter[str] = Counter()
    for facts in census.facts():
        categories = {trait_category[t] for t in facts.traits if t in trait_category}
        categories |= {event_category[k] for k in facts.event_kinds if k in event_category}
        held.update(categories)
    return held


def ropa(sources: ReportSources, census: Census, k: int) -> dict[str, Any]:
    """The record of processing activities, Art. 30(1) (a) to (g)."""
    manifest = sources.manifest
    controller = manifest.controller
    held = _held_categories(census, manifest)
    transfers = [t for t in manifest.document.get("transfers", ()) if isinstance(t, Mapping)]
    recipients_of = {
        r.id: [p.id for p in manifest.purposes if r.id in p.recipients] for r in manifest.recipients
    }
    security = sources.security()
    tables = [
        table(
            "purposes",
            "(b) Purposes of the processing and their lawful basis",
            (
                "id",
                "name",
                "lawful_basis",
                "data_categories",
                "recipients",
                "retention_days",
                "retention_from",
                "notice",
            ),
            (
                {
                    "id": p.id,
                    "name": p.name,
                    "lawful_basis": p.lawful_basis,
                    "data_categories": list(p.data_categories),
                    "recipients": list(p.recipients),
                    "retention_days": p.retention_days,
                    "retention_from": p.retention_from,
                    "notice": p.notice,
                }
                for p in manifest.purposes
            ),
        ),
        table(
            "subjects",
            "(c) Categories of data subjects (declared per purpose, or derived from it)",
            ("category", "description", "purposes", "source", "subjects_held"),
            subject_categories(manifest, census),
        ),
        table(
            "data_categories",
            "(c) Categories of personal data",
            ("id", "name", "special", "purposes", "subjects_holding"),
            (
                {
                    "id": c.id,
                    "name": c.name,
                    "special": c.special,
                    "purposes": _purposes_of(manifest, c.id),
                    "subjects_holding": held.get(c.id, 0),
                }
                for c in manifest.data_categories
            ),
        ),
        table(
            "recipients",
            "(d) Categories of recipients",
            ("id", "name", "role", "country", "safeguards", "purposes"),
            (
                {
                    "id": r.id,
                    "name": r.name,
                    "role": r.role,
                    "country": r.country,
                    "safeguards": r.safeguards,
                    "purposes": recipients_of[r.id],
                }
                for r in manifest.recipients
            ),
        ),
        table(
            "transfers",
            "(e) Transfers to third countries or international organisations",
            ("recipient", "country", "safeguards", "purposes"),
            (
                {
                    "recipient": str(t.get("recipient")),
                    "country": str(t.get("country")),
                    "safeguards": str(t.get("safeguards")),
                    "purposes": [str(p) for p in t.get("purposes", ())],
                }
                for t in transfers
            ),
        ),
        table(
            "retention",
            "(f) Time limits for erasure, per data category",
            ("category", "days", "from"),
            (
                {"category": rule.category, "days": rule.days, "from": rule.since}
                for rule in sorted(_retention(manifest).values(), key=lambda r: r.category)
            ),
        ),
        table(
            "security",
            "(g) Technical and organisational security measures in force",
            ("measure", "value"),
            ({"measure": name, "value": _cell(value)} for name, value in security.items()),
        ),
    ]
    summary = {
        "controller": controller.name,
        "controller_contact": controller.contact,
        "controller_address": controller.address,
        "dpo_name": controller.dpo_name,
        "dpo_contact": controller.dpo_contact,
        "manifest_sha256": manifest.sha256,
        "subjects_held": len(census.facts()),
        "transfers": len(transfers),
    }
    return document(
        "ropa",
        "Record of processing activities (GDPR Art. 30(1))",
        generated_at=sources.clock.now(),
        k=k,
        summary=summary,
        tables=tables,
        notes=[
            (
                "Generated from the purposes manifest and from what the store holds; the security "
                "measures are read from the running configuration."
            )
        ],
    )


def _cell(value: object) -> Cell:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def inventory_report(sources: ReportSources, k: int) -> dict[str, Any]:
    """Every kind of record kept, every data category: where, encrypted or not, how long."""
    manifest = sources.manifest
    rules = _retention(manifest)
    trait_categories = {t.category for t in manifest.traits}
    event_categories = {e.category for e in manifest.events}
    kinds = list(sources.registries.record_kinds)
    offered = [
        {"name": name, "type": what, "owner": entry["owner"], "description": entry["description"]}
        for what, registry in (
            ("segment", sources.registries.segments),
            ("dataset", sources.registries.datasets),
        )
        for name, entry in registry.describe().items()
    ]
    tables = [
        table(
            "record_kinds",
            "Kinds of records kept",
            (
                "name",
                "owner",
                "description",
                "purposes",
                "storage",
                "export_section",
                "retention_sweep",
                "on_withdrawal",
                "on_erasure",
            ),
            (
                {
                    "name": kind.name,
                    "owner": kind.owner,
                    "description": kind.description,
                    "purposes": list(kind.purposes),
                    "storage": "shared state keyed by pseudonym"
                    if kind.shared
                    else "per subject, sealed with the subject's data key",
                    "export_section": kind.section or "other_records",
                    "retention_sweep": kind.retention is not None,
                    "on_withdrawal": kind.on_withdrawal is not None,
                    "on_erasure": "contribution removed"
                    if kind.shared
                    else "crypto-shredded with the subject's key",
                }
                for kind in kinds
            ),
        ),
        table(
            "data_categories",
            "Data categories",
            (
                "id",
                "name",
                "special",
                "stored_in",
                "encrypted",
                "retention_days",
                "retention_from",
                "purposes",
            ),
            (
                {
                    "id": c.id,
                    "name": c.name,
                    "special": c.special,
                    "stored_in": [
                        where
                        for where, used in (
                            ("traits", c.id in trait_categories),
                            ("events", c.id in event_categories),
                        )
                        if used
                    ],
                    "encrypted": True,
                    "retention_days": rules[c.id].days if c.id in rules else None,
                    "retention_from": rules[c.id].since if c.id in rules else None,
                    "purposes": _purposes_of(manifest, c.id),
                }
                for c in manifest.data_categories
            ),
        ),
        table(
            "offered",
            "Segments and datasets offered",
            ("name", "type", "owner", "description"),
            offered,
        ),
    ]
    return document(
        "inventory",
        "Data inventory",
        generated_at=sources.clock.now(),
        k=k,
        summary={"record_kinds": len(kinds), "data_categories": len(manifest.data_categories)},
        tables=tables,
        notes=[
            (
                "Per-subject records are sealed (AES-GCM) with the subject's own data key, so "
                "erasure crypto-shreds them; the storage column names what is kept elsewhere."
            )
        ],
    )


def retention_report(sources: ReportSources, census: Census, k: int) -> dict[str, Any]:
    """What is due for deletion now, per category, and what the last sweeps removed."""
    now = sources.clock.now()
    rules = census.rules
    due_events, due_traits = census.due()
    categories = sorted({*rules, *due_events, *due_traits})
    sweeps = [e for e in sources.audit.entries() if e.action == "retention.swept"][-10:]
    tables = [
        table(
            "rules",
            "Retention per data category",
            ("category", "days", "from"),
            (
                {"category": r.category, "days": r.days, "from": r.since}
                for r in sorted(rules.values(), key=lambda r: r.category)
            ),
        ),
        table(
            "due",
            "Due for deletion now (the next sweep removes these)",
            ("category", "events", "traits"),
            ({"category": c, "events": due_events[c], "traits": due_traits[c]} for c in categories),
        ),
        table(
            "sweeps",
            "Last sweeps (newest last)",
            ("at", "subjects", "removed"),
            (
                {
                    "at": str(e.data.get("at", e.at.isoformat())),
                    "subjects": int(e.data.get("subjects", 0)),
                    "removed": sum(int(v) for v in dict(e.data.get("removed", {})).values()),
                }
                for e in sweeps
            ),
        ),
    ]
    return document(
        "retention",
        "Retention: due for deletion and last sweeps",
        generated_at=now,
        k=k,
        summary={
            "events_due": sum(due_events.values()),
            "traits_due": sum(due_traits.values()),
            "sweeps_recorded": len(sweeps),
        },
        tables=tables,
    )
