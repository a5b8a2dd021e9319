"""Builds the workflows layer over the base parts and registers the core record kinds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from attrs import frozen

from personakit._clock import Clock
from personakit._vault import Vault
from personakit.audit import AuditLog
from personakit.consent import BasisRule, ConsentManager, Manifest
from personakit.crypto import Keyring
from personakit.events import EventCatalog, EventLog
from personakit.profiles import Identifier, IdentityIndex, TraitStore
from personakit.storage import Store
from personakit.workflows._cascade import ProfileWithdrawal
from personakit.workflows._ingest import Ingestor
from personakit.workflows._link import IdentityLinker, LinkResult
from personakit.workflows._registry import RecordKind, RecordKinds, Registries
from personakit.workflows._retention import RetentionSweeper, category_retention

__all__ = ["Workflows"]

_CONSENT_KINDS: tuple[tuple[str, str], ...] = (
    ("consent", "the consent ledger: every decision with its proof (kept as proof until erasure)"),
    ("consent-state", "the current decision per purpose, derived from the ledger"),
    ("consent-head", "the ledger's last record, for ordering concurrent decisions"),
    ("restriction", "whether processing is restricted (GDPR Art 18), and why"),
)


@frozen(kw_only=True)
class Workflows:
    """The cross-feature workflows of one kit and the registries capabilities plug into."""

    registries: Registries
    ingestor: Ingestor
    linker: IdentityLinker
    retention: RetentionSweeper

    @classmethod
    def build(
        cls,
        *,
        store: Store,
        clock: Clock,
        manifest: Manifest,
        keyring: Keyring,
        vault: Vault,
        identity: IdentityIndex,
        consent: ConsentManager,
        basis: BasisRule,
        catalog: EventCatalog,
        events: EventLog,
        traits: TraitStore,
        audit: AuditLog,
        subject_ref: Callable[[str], str],
    ) -> Workflows:
        """Wire ingest, link, retention and the registries; register the core record kinds."""
        registries = Registries(record_kinds=RecordKinds(manifest, consent.cascade))
        # Every restriction change (kit.rights, restriction requests, kit.consent directly)
        # reaches the capabilities' restriction hooks in the transaction that records it, and
        # only when the restriction state changes: shared sums never count a subject twice.
        hooks = registries.hooks
        consent.cascade.on_restriction(
            "workflows",
            lambda subject, restricted: (
                hooks.restricted(subject) if restricted else hooks.restriction_lifted(subject)
            ),
        )
        # Trait writes (the API, bulk ingest, rectification) reach the traits hooks in their
        # own transaction: profiles cannot import workflows, so the store is handed the call.
        traits.on_change = registries.hooks.traits_changed
        linker = IdentityLinker(
            vault=vault,
            keyring=keyring,
            identity=identity,
            events=events,
            traits=traits,
            consent=consent,
            audit=audit,
            hooks=registries.hooks,
            subject_ref=subject_ref,
        )

        def link_in_batch(anonymous: Identifier, known: Identifier, at: datetime) -> LinkResult:
            # Bulk ingest links inside its own transaction: shredding waits for its commit.
            return linker.link(anonymous, known, at=at, shred_now=False)

        ingestor = Ingestor(
            store=store,
            clock=clock,
            manifest=manifest,
            catalog=catalog,
            identity=identity,
            consent=consent,
            basis=basis,
            traits=traits,
            events=events,
            audit=audit,
            hooks=registries.hooks,
            linker=link_in_batch,
            finish_link=linker.finish,
        )
        retention = RetentionSweeper(
            keyring=keyring,
            events=events,
            traits=traits,
            audit=audit,
            kinds=registries.record_kinds,
            retention=category_retention(
                (p.data_categories, p.retention_days, p.retention_from) for p in manifest.purposes
            ),
            event_category=catalog.category_of,
        )
        _register_core_kinds(
            registries.record_kinds,
            retention,
            ProfileWithdrawal(events=events, traits=traits, basis=basis),
        )
        return cls(registries=registries, ingestor=ingestor, linker=linker, retention=retention)


def _register_core_kinds(
    kinds: RecordKinds, retention: RetentionSweeper, withdrawal: ProfileWithdrawal
) -> None:
    register = kinds.register
    register(
        RecordKind(
            name="meta",
            owner="profiles",
            description="when the subject was created",
            section="profile",
        )
    )
    register(
        RecordKind(
            name="ident",
            owner="profiles",
            description="the subject's identifiers (e-mail, phone, customer id, cookie id)",
            section="identifiers",
        )
    )
    # Events before traits: the withdrawal cascade runs the kinds in registration order.
    register(
        RecordKind(
            name="events",
            owner="events",
            description="behavioural events, each with the purposes it may be used for",
            section="events",
            retention=retention.sweep_events,
            on_withdrawal=withdrawal.erase_events,
            cascade="profile",
        )
    )
    register(
        RecordKind(
            name="traits",
            owner="profiles",
            description="declared profile traits (name, birthday, preferences)",
            section="traits",
            retention=retention.sweep_traits,
            on_withdrawal=withdrawal.erase_traits,
            cascade="profile",
        )
    )
    for name, description in _CONSENT_KINDS:
        register(RecordKind(name=name, owner="consent", description=description, section="consent"))
