"""Consent management: purposes manifest, append-only consent ledger, guards and signals."""
