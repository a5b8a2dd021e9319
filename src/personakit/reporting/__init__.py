"""Audit reports: RoPA, consent, requests, budget, inventory, retention, minimization, audit.

``kit.reports`` builds each report from personakit's own records as a JSON document with a
shipped schema, renders it as Markdown or a self-contained HTML page, and writes the whole
audit pack with a SHA-256 manifest recorded in the audit chain. See ``docs/reporting.md``.
"""

from __future__ import annotations

from personakit.reporting._doc import COMPLEMENTARY, SUPPRESSED, is_suppressed
from personakit.reporting._journeys import JOURNEY_STATUSES, JOURNEYS_DATASET
from personakit.reporting._pack import MANIFEST_NAME, PACK_FORMAT, PackCheck, PackReceipt
from personakit.reporting._render import to_html, to_markdown
from personakit.reporting._service import (
    DEFAULT_K,
    FORMATS,
    KINDS,
    SECTIONS,
    Reports,
    report_schema,
)
from personakit.reporting._sources import ReportSources

__all__ = [
    "COMPLEMENTARY",
    "DEFAULT_K",
    "FORMATS",
    "JOURNEYS_DATASET",
    "JOURNEY_STATUSES",
    "KINDS",
    "MANIFEST_NAME",
    "PACK_FORMAT",
    "SECTIONS",
    "SUPPRESSED",
    "PackCheck",
    "PackReceipt",
    "ReportSources",
    "Reports",
    "is_suppressed",
    "report_schema",
    "to_html",
    "to_markdown",
]
