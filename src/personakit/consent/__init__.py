"""Consent management: purposes manifest, append-only consent ledger, guards and signals.

``kit.manifest`` is the validated purposes manifest (:class:`Manifest`); ``kit.consent`` is
the :class:`ConsentManager`: ``allowed`` / ``require`` guard processing, ``grant`` /
``refuse`` / ``withdraw`` / ``object`` record decisions with proof and return a
:class:`ConsentReceipt`, ``record_gpc`` / ``apply_tc_string`` / ``consent_mode`` handle the
GPC, IAB TCF and Google Consent Mode signals, and ``merge`` joins two subjects' ledgers.
:class:`BasisRule` is the one lawful-basis rule (which purposes may use a subject's data now)
that ingest, traits and the withdrawal cascade ask.
"""

from personakit.consent._basis import BasisRule, ConsentGuard
from personakit.consent._bulk import BulkDecisions
from personakit.consent._cascade import CascadeRegistry, DerivedDataEraser
from personakit.consent._context import ConsentContext
from personakit.consent._gate import ConsentGate, GateRead
from personakit.consent._manager import ConsentManager, decide
from personakit.consent._manifest import (
    CONSENT_MODE_TYPES,
    LAWFUL_BASES,
    Controller,
    DataCategory,
    EventDeclaration,
    LawfulBasis,
    Manifest,
    Notice,
    Purpose,
    Recipient,
    TraitDeclaration,
)
from personakit.consent._records import (
    NEGATIVE_STATUSES,
    RECEIPT_SCHEMA_VERSION,
    SOURCES,
    STATUSES,
    Conflict,
    ConsentReceipt,
    ConsentRecord,
    ConsentState,
    EventType,
    StateName,
    Status,
)
from personakit.consent._restriction import RestrictionChange
from personakit.consent._tcf import (
    PublisherRestriction,
    PublisherTC,
    RestrictionType,
    TCString,
    decode_tc_string,
)

__all__ = [
    "CONSENT_MODE_TYPES",
    "LAWFUL_BASES",
    "NEGATIVE_STATUSES",
    "RECEIPT_SCHEMA_VERSION",
    "SOURCES",
    "STATUSES",
    "BasisRule",
    "BulkDecisions",
    "CascadeRegistry",
    "Conflict",
    "ConsentContext",
    "ConsentGate",
    "ConsentGuard",
    "ConsentManager",
    "ConsentReceipt",
    "ConsentRecord",
    "ConsentState",
    "Controller",
    "DataCategory",
    "DerivedDataEraser",
    "EventDeclaration",
    "EventType",
    "GateRead",
    "LawfulBasis",
    "Manifest",
    "Notice",
    "PublisherRestriction",
    "PublisherTC",
    "Purpose",
    "Recipient",
    "RestrictionChange",
    "RestrictionType",
    "StateName",
    "Status",
    "TCString",
    "TraitDeclaration",
    "decide",
    "decode_tc_string",
]
