"""Profiles: the identity graph (identifiers to subjects), traits and retention."""

from personakit.profiles._identity import (
    IDENTIFIER_KINDS,
    Identifier,
    IdentityIndex,
    parse_identifier,
)

__all__ = ["IDENTIFIER_KINDS", "Identifier", "IdentityIndex", "parse_identifier"]
