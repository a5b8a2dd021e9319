"""Data-subject rights: export, erasure, rectification, restriction, objection, requests.

``kit.rights`` is the :class:`Rights` service. Components plug in through
``kit.rights.registry`` (:class:`RightsRegistry`): an exporter per record kind for a readable
export section, a :class:`ContributionRemover` for data they keep outside a subject's records.
Request deadlines follow :mod:`personakit.rights._deadlines` (GDPR one month + two, CCPA 45 + 45
days, CCPA opt-out 15 business days).
"""

from personakit.consent import RestrictionChange
from personakit.rights._deadlines import (
    DeadlinePolicy,
    Jurisdiction,
    PeriodUnit,
    RequestKind,
    days_left,
    due_date,
    extended_due_date,
    is_overdue,
    policy,
)
from personakit.rights._erase import (
    Eraser,
    ErasureLogEntry,
    ErasureReceipt,
    ReplayReport,
)
from personakit.rights._export import EXPORT_FORMAT, ExportDocument, Exporter
from personakit.rights._registry import (
    TOP_LEVEL_SECTIONS,
    ContributionRemover,
    ExportRecord,
    RecordExporter,
    RightsRegistry,
)
from personakit.rights._request_model import Request, RequestState, RequestTransition
from personakit.rights._requests import (
    IdentityVerifier,
    OperatorAttestation,
    RequestBook,
    VerificationResult,
)
from personakit.rights._rights import Rectifier, Rights, write_private

__all__ = [
    "EXPORT_FORMAT",
    "TOP_LEVEL_SECTIONS",
    "ContributionRemover",
    "DeadlinePolicy",
    "Eraser",
    "ErasureLogEntry",
    "ErasureReceipt",
    "ExportDocument",
    "ExportRecord",
    "Exporter",
    "IdentityVerifier",
    "Jurisdiction",
    "OperatorAttestation",
    "PeriodUnit",
    "RecordExporter",
    "Rectifier",
    "ReplayReport",
    "Request",
    "RequestBook",
    "RequestKind",
    "RequestState",
    "RequestTransition",
    "RestrictionChange",
    "Rights",
    "RightsRegistry",
    "VerificationResult",
    "days_left",
    "due_date",
    "extended_due_date",
    "is_overdue",
    "policy",
    "write_private",
]
