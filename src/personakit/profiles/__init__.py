"""Profiles: the identity graph (identifiers to subjects) and traits."""

from personakit.profiles._identity import (
    IDENTIFIER_KINDS,
    Identifier,
    IdentityIndex,
    parse_identifier,
)
from personakit.profiles._traits import (
    TRAITS_RECORD,
    CompiledTrait,
    TraitStore,
    TraitUpdate,
    compile_manifest_traits,
    compile_traits,
    trait_values,
)

__all__ = [
    "IDENTIFIER_KINDS",
    "TRAITS_RECORD",
    "CompiledTrait",
    "Identifier",
    "IdentityIndex",
    "TraitStore",
    "TraitUpdate",
    "compile_manifest_traits",
    "compile_traits",
    "parse_identifier",
    "trait_values",
]
