"""The report schemas, written as Python: ``python -m tests.reporting.report_schemas`` writes
``src/personakit/schemas/reports/*.schema.json``, and a test checks the shipped files equal it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).parents[2] / "src" / "personakit" / "schemas" / "reports"

SUPPRESSED = {
    "type": "object",
    "properties": {"suppressed": {"const": True}, "complementary": {"const": True}},
    "required": ["suppressed"],
    "additionalProperties": False,
}
TYPES: dict[str, Any] = {
    "str": {"type": "string"},
    "str?": {"type": ["string", "null"]},
    "int": {"type": "integer", "minimum": 0},
    "int?": {"type": ["integer", "null"]},
    "num": {"type": "number", "minimum": 0},
    "num?": {"type": ["number", "null"]},
    "bool": {"type": "boolean"},
    "bool?": {"type": ["boolean", "null"]},
    "list": {"type": "array", "items": {"type": "string"}},
    "count": {"oneOf": [{"type": "integer", "minimum": 0}, {"$ref": "#/$defs/suppressed"}]},
    "rate": {
        "oneOf": [
            {"type": "number", "minimum": 0, "maximum": 1},
            {"type": "null"},
            {"$ref": "#/$defs/suppressed"},
        ]
    },
    "scalar": {"type": ["string", "number", "boolean", "null"]},
}

Columns = dict[str, str]

CONSENT_STATES: Columns = {
    "purpose": "str",
    "notice_version": "str",
    "subjects": "count",
    "given": "count",
    "refused": "count",
    "withdrawn": "count",
    "expired": "count",
    "stale": "count",
    "given_rate": "rate",
}
REPORTS: dict[str, dict[str, Any]] = {
    "ropa": {
        "summary": {
            "controller": "str",
            "controller_contact": "str",
            "controller_address": "str?",
            "dpo_name": "str?",
            "dpo_contact": "str?",
            "manifest_sha256": "str",
            "subjects_held": "int",
            "transfers": "int",
        },
        "tables": {
            "purposes": {
                "id": "str",
                "name": "str",
                "lawful_basis": "str",
                "data_categories": "list",
                "recipients": "list",
                "retention_days": "int",
                "retention_from": "str",
                "notice": "str?",
            },
            "subjects": {
                "category": "str",
                "description": "str",
                "purposes": "list",
                "source": "str",
                "subjects_held": "int?",
            },
            "data_categories": {
                "id": "str",
                "name": "str",
                "special": "bool",
                "purposes": "list",
                "subjects_holding": "int",
            },
            "recipients": {
                "id": "str",
                "name": "str",
                "role": "str",
                "country": "str?",
                "safeguards": "str?",
                "purposes": "list",
            },
            "transfers": {
                "recipient": "str",
                "country": "str",
                "safeguards": "str",
                "purposes": "list",
            },
            "retention": {"category": "str", "days": "int", "from": "str"},
            "security": {"measure": "str", "value": "scalar"},
        },
        "charts": [],
    },
    "consent": {
        "summary": {
            "subjects": "int",
            "subjects_with_ledger": "count",
            "gpc_subjects": "count",
            "gpc_share": "rate",
            "tcf_subjects": "count",
            "tcf_share": "rate",
        },
        "tables": {
            "states": CONSENT_STATES,
            "decisions_by_month": {
                "month": "str",
                "purpose": "str",
                "given": "count",
                "refused": "count",
                "withdrawn": "count",
                "expired": "count",
                "decisions": "count",
                "given_rate": "rate",
            },
        },
        "charts": ["given_rate"],
    },
    "consent-dossier": {
        "summary": {"subject": "str", "records": "int", "receipts": "int"},
        "tables": {
            "records": {
                "seq": "int",
                "id": "str",
                "purpose": "str",
                "status": "str",
                "notice_id": "str?",
                "notice_version": "str?",
                "notice_sha256": "str?",
                "source": "str",
                "method": "str",
                "jurisdiction": "str?",
                "occurred_at": "str",
                "expires_at": "str?",
                "receipt_id": "str",
                "manifest_sha256": "str",
            },
            "current": {"purpose": "str", "status": "str", "record": "str"},
            "receipts": {
                "receipt": "str",
                "action": "str",
                "audit_seq": "int",
                "at": "str",
                "records": "int",
                "entry_hash": "str",
            },
            "notices": {
                "id": "str",
                "version": "str",
                "language": "str",
                "text_sha256": "str",
                "url": "str?",
            },
        },
        "charts": [],
    },
    "dsr": {
        "summary": {
            "received": "int",
            "complied": "int",
            "complied_in_part": "int",
            "denied": "int",
            "open": "int",
            "median_days": "num?",
            "mean_days": "num?",
            "on_time_share": "num?",
            "overdue": "int",
        },
        "tables": {
            "requests": {
                "id": "str",
                "kind": "str",
                "jurisdiction": "str",
                "channel": "str",
                "state": "str",
                "received_at": "str",
                "deadline": "str",
                "answered_at": "str?",
                "outcome": "str",
                "denial_basis": "str?",
                "days_to_respond": "int?",
                "on_time": "bool?",
            },
            "yearly": {
                "year": "int",
                "kind": "str",
                "received": "int",
                "complied": "int",
                "complied_in_part": "int",
                "denied": "int",
                "open": "int",
                "median_days": "num?",
                "mean_days": "num?",
                "on_time_share": "num?",
            },
            "overdue": {"id": "str", "kind": "str", "deadline": "str", "days_overdue": "int"},
        },
        "charts": ["timeliness"],
    },
    "budget": {
        "summary": {"enabled": "bool", "datasets": "int", "releases": "int"},
        "tables": {
            "datasets": {
                "dataset": "str",
                "model": "str",
                "cap": "num?",
                "spent": "num",
                "releases": "int",
            },
            "releases": {
                "dataset": "str",
                "seq": "int",
                "at": "str",
                "actor": "str",
                "reason": "str",
                "epsilon": "num",
                "delta": "num",
                "rho": "num",
            },
        },
        "charts": ["use"],
    },
    "inventory": {
        "summary": {"record_kinds": "int", "data_categories": "int"},
        "tables": {
            "record_kinds": {
                "name": "str",
                "owner": "str",
                "description": "str",
                "purposes": "list",
                "storage": "str",
                "export_section": "str",
                "retention_sweep": "bool",
                "on_withdrawal": "bool",
                "on_erasure": "str",
            },
            "data_categories": {
                "id": "str",
                "name": "str",
                "special": "bool",
                "stored_in": "list",
                "encrypted": "bool",
                "retention_days": "int?",
                "retention_from": "str?",
                "purposes": "list",
            },
            "offered": {"name": "str", "type": "str", "owner": "str", "description": "str"},
        },
        "charts": [],
    },
    "retention": {
        "summary": {"events_due": "int", "traits_due": "int", "sweeps_recorded": "int"},
        "tables": {
            "rules": {"category": "str", "days": "int", "from": "str"},
            "due": {"category": "str", "events": "int", "traits": "int"},
            "sweeps": {"at": "str", "subjects": "int", "removed": "int"},
        },
        "charts": [],
    },
    "journeys": {
        "summary": {
            "enabled": "bool",
            "actions": "count",
            "holdout": "count",
            "unsubscribes": "count",
        },
        "tables": {
            "journeys": {
                "journey": "str",
                "produced": "count",
                "deferred": "count",
                "pending": "count",
                "sent": "count",
                "failed": "count",
                "cancelled": "count",
                "other": "count",
                "holdout": "count",
            },
            "channels": {
                "channel": "str",
                "produced": "count",
                "deferred": "count",
                "pending": "count",
                "sent": "count",
                "failed": "count",
                "cancelled": "count",
                "other": "count",
                "unsubscribes": "count",
            },
            "cancellations": {"channel": "str", "reason": "str", "actions": "count"},
        },
        "charts": [],
    },
    "minimization": {
        "summary": {
            "definitions": "int",
            "readers": "list",
            "categories_unused": "int",
            "traits_unused": "int",
            "properties_unused": "int",
            "special_categories": "list",
            "unused_without_purpose": "int",
        },
        "tables": {
            name: {
                **first,
                "special": "bool",
                "read_by": "list",
                "used": "bool",
                "justified_by": "list",
                "subjects_holding": "count",
            }
            for name, first in (
                ("categories", {"category": "str"}),
                ("traits", {"trait": "str", "category": "str"}),
                ("event_properties", {"event": "str", "property": "str", "category": "str"}),
            )
        },
        "charts": [],
    },
    "audit": {
        "summary": {
            "ok": "bool",
            "entries": "int",
            "head_seq": "int",
            "head_hash": "str",
            "checkpoint_seq": "int?",
            "chains": "int",
        },
        "tables": {
            "chains": {"chain": "int", "head_seq": "int", "head_hash": "str"},
            "problems": {"seq": "int?", "kind": "str", "detail": "str"},
            "actions": {"action": "str", "entries": "int"},
            "packs": {"seq": "int", "at": "str", "manifest_sha256": "str", "files": "int"},
        },
        "charts": [],
    },
}


def _object(columns: Columns) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: TYPES[kind] for name, kind in columns.items()},
        "required": list(columns),
        "additionalProperties": False,
    }


def _table(table_id: str, columns: Columns) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "id": {"const": table_id},
            "title": {"type": "string"},
            "columns": {"const": list(columns)},
            "rows": {"type": "array", "items": _object(columns)},
        },
        "required": ["id", "title", "columns", "rows"],
        "additionalProperties": False,
    }


def _chart(chart_id: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "id": {"const": chart_id},
            "title": {"type": "string"},
            "kind": {"enum": ["line", "bar"]},
            "unit": {"type": "string"},
            "labels": {"type": "array", "items": {"type": "string"}},
            "series": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "values": {"type": "array", "items": {"type": ["number", "null"]}},
                    },
                    "required": ["name", "values"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["id", "title", "kind", "unit", "labels", "series"],
        "additionalProperties": False,
    }


def _tuple(items: list[dict[str, Any]]) -> dict[str, Any]:
    if not items:
        return {"type": "array", "maxItems": 0}
    return {"type": "array", "prefixItems": items, "items": False, "minItems": len(items)}


def build(kind: str) -> dict[str, Any]:
    """The JSON Schema of report ``kind``."""
    spec = REPORTS[kind]
    tables = [_table(name, columns) for name, columns in spec["tables"].items()]
    charts = [_chart(name) for name in spec["charts"]]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://personakit.dev/schemas/reports/{kind}.schema.json",
        "title": f"personakit {kind} report",
        "type": "object",
        "$defs": {"suppressed": SUPPRESSED},
        "properties": {
            "report": {"const": kind},
            "title": {"type": "string"},
            "generated_at": {"type": "string"},
            "k": {"type": "integer", "minimum": 1},
            "notes": {"type": "array", "items": {"type": "string"}},
            "summary": _object(spec["summary"]),
            "tables": _tuple(tables),
            "charts": _tuple(charts),
        },
        "required": [
            "report",
            "title",
            "generated_at",
            "k",
            "notes",
            "summary",
            "tables",
            "charts",
        ],
        "additionalProperties": False,
    }


def text(kind: str) -> str:
    """The schema file's text."""
    return json.dumps(build(kind), indent=2) + "\n"


if __name__ == "__main__":
    for name in REPORTS:
        (SCHEMAS / f"{name}.schema.json").write_text(text(name), encoding="utf-8")
