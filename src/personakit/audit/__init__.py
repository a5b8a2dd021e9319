"""The hash-chained audit log.

Every consent change, right exercised, erasure, DP release and key rotation is appended in the
same transaction as the change, and the chain is verifiable against checkpoints kept elsewhere.
"""

from personakit.audit._log import AuditEntry, AuditLog, AuditProblem, Checkpoint, VerifyReport

__all__ = ["AuditEntry", "AuditLog", "AuditProblem", "Checkpoint", "VerifyReport"]
