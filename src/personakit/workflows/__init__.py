"""Workflows: what combines the base features (consent, profiles, events), and the registries.

Below the capabilities and above the base features: getting data in (:class:`Ingestor`:
``track`` and bulk ``ingest`` with checkpoints), linking and merging identities
(:class:`IdentityLinker`) and re-normalizing stored identifiers (:class:`IdentityReindexer`),
retention (:class:`RetentionSweeper`) and the withdrawal cascade
of the core record kinds (:class:`ProfileWithdrawal`). :class:`Registries` (``kit.registries``)
is where capabilities plug in: record kinds, hooks, segments and datasets.

Import rule: this package imports the base features and never a capability (rights,
personalization, journeys, analytics, reporting, adapters, the CLI); ``tests/test_layering.py``
enforces it.
"""

from personakit.workflows._cascade import ProfileWithdrawal
from personakit.workflows._ingest import DEFAULT_BATCH, Ingestor
from personakit.workflows._lines import MAX_LINE_BYTES
from personakit.workflows._link import IdentityLinker, LinkResult
from personakit.workflows._registry import (
    BatchEndHook,
    ContributionRemover,
    DatasetProvider,
    DatasetRegistry,
    EventsHook,
    ExportRecord,
    Hooks,
    MergeHook,
    RecordExporter,
    RecordKind,
    RecordKinds,
    Registries,
    RestrictionHook,
    RetentionSweep,
    SegmentChange,
    SegmentChangeHook,
    SegmentProvider,
    SegmentRegistry,
    TraitsHook,
    WithdrawalEraser,
)
from personakit.workflows._reindex import IdentityReindexer, ReindexReport
from personakit.workflows._results import IngestError, IngestSummary, TrackResult
from personakit.workflows._retention import (
    CategoryRetention,
    RetentionReport,
    RetentionSweeper,
    category_retention,
)
from personakit.workflows._wiring import Workflows

__all__ = [
    "DEFAULT_BATCH",
    "MAX_LINE_BYTES",
    "BatchEndHook",
    "CategoryRetention",
    "ContributionRemover",
    "DatasetProvider",
    "DatasetRegistry",
    "EventsHook",
    "ExportRecord",
    "Hooks",
    "IdentityLinker",
    "IdentityReindexer",
    "IngestError",
    "IngestSummary",
    "Ingestor",
    "LinkResult",
    "MergeHook",
    "ProfileWithdrawal",
    "RecordExporter",
    "RecordKind",
    "RecordKinds",
    "Registries",
    "ReindexReport",
    "RestrictionHook",
    "RetentionReport",
    "RetentionSweep",
    "RetentionSweeper",
    "SegmentChange",
    "SegmentChangeHook",
    "SegmentProvider",
    "SegmentRegistry",
    "TrackResult",
    "TraitsHook",
    "WithdrawalEraser",
    "Workflows",
    "category_retention",
]
