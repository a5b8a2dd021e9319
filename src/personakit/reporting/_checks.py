"""The ``minimization`` and ``audit`` reports: is the data used, and is the chain intact."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from personakit.reporting._doc import document, small, table
from personakit.reporting._sources import Census, ReportSources

__all__ = ["ReadsSource", "audit_report", "minimization_report"]

#: ``{definition: {"fields": [...], "categories": [...], ...}}``, as ``Reads.to_json()`` gives.
ReadsSource = Callable[[], Mapping[str, Mapping[str, Any]]]


def _reads(
    sources: Mapping[str, ReadsSource],
    trait_category: Mapping[str, str],
    event_category: Mapping[str, str],
    event_purposes: Mapping[str, set[str]],
) -> dict[str, tuple[set[str], set[str]]]:
    """``owner:definition -> (fields, categories)`` over every registered reads source.

    A reader may leave the categories to the manifest: a field ``traits.<name>`` reads the
    trait's category, ``events.<kind>`` and ``events.<kind>.<property>`` the event's, and
    ``events.*`` (every event's kind and time, no property) every event category, or only
    those of the kinds collected for one of ``event_purposes`` when the reader lists them.
    """
    out: dict[str, tuple[set[str], set[str]]] = {}
    for owner, source in sorted(sources.items()):
        for definition, reads in sorted(source().items()):
            fields = {str(f) for f in reads.get("fields", ())}
            categories = {str(c) for c in reads.get("categories", ())}
            only = {str(p) for p in reads.get("event_purposes", ())}
            every = {
                category
                for kind, category in event_category.items()
                if not only or only & event_purposes[kind]
            }
            for name in fields:
                head, _, rest = name.partition(".")
                if head == "traits" and rest in trait_category:
                    categories.add(trait_category[rest])
                elif head == "events" and rest == "*":
                    categories.update(every)
                elif head == "events" and rest.partition(".")[0] in event_category:
                    categories.add(event_category[rest.partition(".")[0]])
            out[f"{owner}:{definition}"] = (fields, categories)
    return out


def _reads_property(fields: set[str], kind: str, prop: str) -> bool:
    # Event-qualified fields name one kind's property; any other field names a property by
    # its name alone (as personalization's vocabulary does).
    for name in fields:
        if name.startswith("events."):
            if name == f"events.{kind}.{prop}":
                return True
        elif name == prop or name.endswith("." + prop):
            return True
    return False


def minimization_report(
    sources: ReportSources, census: Census, reads: Mapping[str, ReadsSource], k: int
) -> dict[str, Any]:
    """What the manifest lets the shop collect against what registered definitions read."""
    manifest = sources.manifest
    trait_category = {t.name: t.category for t in manifest.traits}
    event_category = {e.kind: e.category for e in manifest.events}
    event_purposes = {e.kind: set(e.purposes) for e in manifest.events}
    definitions = _reads(reads, trait_category, event_category, event_purposes)
    special = {c.id for c in manifest.data_categories if c.special}

    def purposes(category: str) -> list[str]:
        return [p.id for p in manifest.purposes if category in p.data_categories]

    def read_by(
        *,
        field: str | None = None,
        prop: tuple[str, str] | None = None,
        category: str,
    ) -> list[str]:
        found = []
        for name, (fields, categories) in definitions.items():
            if (
                (field is not None and field in fields)
                or (prop is not None and _reads_property(fields, *prop))
                or (field is None and prop is None and category in categories)
            ):
                found.append(name)
        return found

    trait_holders: Counter[str] = Counter()
    property_holders: Counter[tuple[str, str]] = Counter()
    category_holders: Counter[str] = Counter()
    for facts in census.facts():
        trait_holders.update(facts.traits)
        property_holders.update(facts.event_properties)
        held = {trait_category[t] for t in facts.traits if t in trait_category}
        held |= {event_category[kind] for kind in facts.event_kinds if kind in event_category}
        category_holders.update(held)
    category_rows = []
    for c in manifest.data_categories:
        users = read_by(category=c.id)
        category_rows.append(
            {
                "category": c.id,
                "special": c.special,
                "read_by": users,
                "used": bool(users),
                "justified_by": purposes(c.id),
                "subjects_holding": small(category_holders[c.id], k),
            }
        )
    trait_rows = []
    for t in manifest.traits:
        users = read_by(field=f"traits.{t.name}", category=t.category)
        trait_rows.append(
            {
                "trait": t.name,
                "category": t.category,
                "special": t.category in special,
                "read_by": users,
                "used": bool(users),
                "justified_by": purposes(t.category),
                "subjects_holding": small(trait_holders[t.name], k),
            }
        )
    property_rows = []
    for e in manifest.events:
        declared = e.schema.get("properties", {}) if isinstance(e.schema, Mapping) else {}
        for prop in sorted(declared):
            users = read_by(prop=(e.kind, prop), category=e.category)
            property_rows.append(
                {
                    "event": e.kind,
                    "property": prop,
                    "category": e.category,
                    "special": e.category in special,
                    "read_by": users,
                    "used": bool(users),
                    "justified_by": list(e.purposes),
                    "subjects_holding": small(property_holders[(e.kind, prop)], k),
                }
            )
    columns = ("read_by", "used", "justified_by", "subjects_holding")
    tables = [
        table(
            "categories",
            "Data categories: collected against read",
            ("category", "special", *columns),
            category_rows,
        ),
        table("traits", "Traits", ("trait", "category", "special", *columns), trait_rows),
        table(
            "event_properties",
            "Event properties",
            ("event", "property", "category", "special", *columns),
            property_rows,
        ),
    ]
    unused = [row for row in (*category_rows, *trait_rows, *property_rows) if not row["used"]]
    return document(
        "minimization",
        "Data minimization: collected against read",
        generated_at=sources.clock.now(),
        k=k,
        summary={
            "definitions": len(definitions),
            "readers": sorted(reads),
            "categories_unused": sum(1 for r in category_rows if not r["used"]),
            "traits_unused": sum(1 for r in trait_rows if not r["used"]),
            "properties_unused": sum(1 for r in property_rows if not r["used"]),
            "special_categories": sorted(special),
            "unused_without_purpose": sum(1 for r in unused if not r["justified_by"]),
        },
        tables=tables,
        notes=[
            (
                "A row is used when a registered definition reads it; unused rows list the "
                "purposes that justify keeping the data (none: nothing does)."
            ),
            f"Counts of subjects from 1 to {k - 1} are suppressed.",
        ],
    )


def audit_report(sources: ReportSources, k: int) -> dict[str, Any]:
    """The chain's verification result, head, length and the recorded report packs."""
    verified = sources.audit.verify()
    actions: Counter[str] = Counter()
    packs = []
    for entry in sources.audit.entries():
        actions[entry.action] += 1
        if entry.action == "report.pack":
            packs.append(
                {
                    "seq": entry.seq,
                    "at": entry.at.isoformat(),
                    "manifest_sha256": str(entry.data.get("manifest_sha256")),
                    "files": int(entry.data.get("files", 0)),
                }
            )
    heads = verified.heads or ((verified.head_seq, verified.head_hash),)
    tables = [
        table(
            "chains",
            "Chain heads (entries spread over this many hash chains)",
            ("chain", "head_seq", "head_hash"),
            (
                {"chain": chain, "head_seq": seq, "head_hash": digest}
                for chain, (seq, digest) in enumerate(heads)
            ),
        ),
        table(
            "problems",
            "Problems found",
            ("seq", "kind", "detail"),
            ({"seq": p.seq, "kind": p.kind, "detail": p.detail} for p in verified.problems),
        ),
        table(
            "actions",
            "Entries per action",
            ("action", "entries"),
            ({"action": a, "entries": n} for a, n in sorted(actions.items())),
        ),
        table("packs", "Audit packs recorded", ("seq", "at", "manifest_sha256", "files"), packs),
    ]
    return document(
        "audit",
        "Audit chain",
        generated_at=sources.clock.now(),
        k=k,
        summary={
            "ok": verified.ok,
            "entries": verified.entries,
            "head_seq": verified.head_seq,
            "head_hash": verified.head_hash,
            "checkpoint_seq": verified.checkpoint_seq,
            "chains": len(heads),
        },
        tables=tables,
        notes=["Verified now by recomputing every hash of the chain."],
    )
