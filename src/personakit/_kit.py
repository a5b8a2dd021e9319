"""The :class:`Personakit` facade: wires the store, keyring, clock and audit log together."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from personakit._clock import Clock, SystemClock
from personakit._vault import Vault
from personakit.audit import AuditLog
from personakit.consent import BasisRule, ConsentManager, Manifest
from personakit.crypto import DEFAULT_KEY_CACHE, KeyProvider, Keyring, LocalKeyProvider
from personakit.events import EventCatalog, EventLog
from personakit.exceptions import ConfigurationError
from personakit.profiles import IdentityIndex, TraitStore, compile_manifest_traits
from personakit.storage import DiskStore, MemoryStore, PostgresStore, Store
from personakit.workflows import (
    DEFAULT_BATCH,
    IngestSummary,
    LinkResult,
    Registries,
    TrackResult,
    Workflows,
)

if TYPE_CHECKING:
    from personakit.analytics import Analytics
    from personakit.personalization import PersonalizationConfig
    from personakit.reporting import Reports

__all__ = ["Personakit"]

_DATA_DIR: Final = "data"
_KEYS_DIR: Final = "keys"


# Audit chains of a new log on PostgreSQL: enough that writers of different subjects rarely
# meet on one head (docs/architecture.md, PostgreSQL).
_PG_AUDIT_CHAINS: Final = 16


class Personakit:
    """The embedded personalization kit: one instance per store, shared by the whole process.

    Build it from parts (``Personakit(store=…, key_store=…, keys=…)``) or with :meth:`open`.
    It owns no logic of its own: each capability lives in its component and is reached through
    an attribute (``kit.identity``, ``kit.audit``, ``kit.vault``, ``kit.keyring``,
    ``kit.manifest``, ``kit.consent``, ``kit.basis``, ``kit.traits``, ``kit.events``,
    ``kit.catalog``, ``kit.ingestor``, ``kit.linker``, ``kit.retention``, ``kit.rights``,
    ``kit.analytics``, ``kit.predict``, ``kit.personalization``, ``kit.journeys``,
    ``kit.reports``), and
    capabilities plug into ``kit.registries``. :meth:`track`,
    :meth:`ingest` and :meth:`link` are shortcuts for the calls a shop backend makes most.
    """

    def __init__(
        self,
        *,
        store: Store,
        key_store: Store,
        keys: KeyProvider,
        clock: Clock | None = None,
        tenant: str = "default",
        manifest: Manifest | str | os.PathLike[str] | None = None,
        key_cache_size: int = DEFAULT_KEY_CACHE,
        audit_chains: int | None = None,
        personalization: PersonalizationConfig | None = None,
    ) -> None:
        """Wire a kit over a data store and a separate key store.

        ``manifest`` is the purposes manifest: a :class:`~personakit.consent.Manifest`, the
        path of a JSON file, or None for the default shop manifest. ``key_cache_size`` is how
        many unwrapped data keys the process keeps (least recently used go first; about 300
        bytes each): size it to the customers active at once, since a miss costs a key-store
        read and an unwrap. ``audit_chains`` is how many audit chains a new log gets (default:
        16 on a :class:`~personakit.storage.PostgresStore`, so audited writes of different
        subjects do not queue on one head; 1 elsewhere); a log keeps the count it was made with.
        ``personalization`` configures ``kit.personalization`` (affinity
        weights and half-life, extra dimensions, segment thresholds).

        Raises :class:`~personakit.exceptions.MasterKeyMismatch` if ``keys`` cannot open the
        keyring already in ``key_store``, :class:`~personakit.exceptions.InvalidManifest` if
        the manifest does not validate.
        """
        if store is key_store:
            raise ConfigurationError(
                "the key store must be separate from the data store (a data backup must hold "
                "no keys)"
            )
        self.store = store
        self.key_store = key_store
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.tenant = tenant
        self.manifest = Manifest.coerce(manifest)
        self.keyring = Keyring(key_store, keys, tenant=tenant, cache_size=key_cache_size)
        self.vault = Vault(store, self.keyring)
        self.identity = IdentityIndex(store, self.vault, self.clock)
        self.audit = AuditLog(
            store,
            self.clock,
            tenant=tenant,
            signer=functools.partial(self.keyring.mac, "audit-checkpoint"),
            check_signature=functools.partial(self.keyring.verify_mac, "audit-checkpoint"),
            chains=audit_chains
            if audit_chains is not None
            else _PG_AUDIT_CHAINS
            if isinstance(store, PostgresStore)
            else 1,
        )
        self.consent = ConsentManager(
            store=store,
            vault=self.vault,
            audit=self.audit,
            clock=self.clock,
            manifest=self.manifest,
            subject_ref=self.keyring.subject_ref,
            subject_exists=self.identity.exists,
        )
        self.basis = BasisRule(self.manifest, self.consent)
        self.catalog = EventCatalog.from_manifest(self.manifest.events)
        self.events = EventLog(self.vault)
        self.traits = TraitStore(
            self.vault,
            self.audit,
            self.clock,
            compile_manifest_traits(self.manifest.traits),
            subject_ref=self.keyring.subject_ref,
            may_store=self.basis.may_store_category,
            subject_exists=self.identity.exists,
        )
        workflows = Workflows.build(
            store=store,
            clock=self.clock,
            manifest=self.manifest,
            keyring=self.keyring,
            vault=self.vault,
            identity=self.identity,
            consent=self.consent,
            basis=self.basis,
            catalog=self.catalog,
            events=self.events,
            traits=self.traits,
            audit=self.audit,
            subject_ref=self.keyring.subject_ref,
        )
        self.registries: Registries = workflows.registries
        self.ingestor = workflows.ingestor
        self.linker = workflows.linker
        self.retention = workflows.retention
        # The capability packages are imported when the first kit is built, not at
        # ``import personakit``: they are most of the import time (docs/architecture.md), and a
        # process that only imports the package (a CLI's --help, a web app's module scan) never
        # needs them. Building a kit registers their hooks, so nothing is missed by waiting.
        from personakit.journeys import Journeys  # noqa: PLC0415 - lazily, see above
        from personakit.personalization import Personalization  # noqa: PLC0415
        from personakit.predictive import Predictive  # noqa: PLC0415
        from personakit.recommendations import Recommender  # noqa: PLC0415
        from personakit.rights import Rights  # noqa: PLC0415

        self.rights = Rights.build(
            store=store,
            key_store=key_store,
            vault=self.vault,
            keyring=self.keyring,
            identity=self.identity,
            consent=self.consent,
            manifest=self.manifest,
            audit=self.audit,
            clock=self.clock,
            subject_ref=self.keyring.subject_ref,
            traits=self.traits,
            kinds=self.registries.record_kinds,
        )
        self.predict = Predictive.build(
            registries=self.registries,
            store=store,
            vault=self.vault,
            basis=self.basis,
            clock=self.clock,
            subjects=self.retention.subjects,
            read_events=self.events.read,
        )
        self.personalization = Personalization(
            store=store,
            vault=self.vault,
            clock=self.clock,
            manifest=self.manifest,
            identity=self.identity,
            consent=self.consent,
            traits=self.traits,
            events=self.events,
            registries=self.registries,
            subjects=self.retention.subjects,
            audit=self.audit,
            keyring=self.keyring,
            config=personalization,
        )
        self.recommend = Recommender.build(
            registries=self.registries,
            store=store,
            vault=self.vault,
            basis=self.basis,
            clock=self.clock,
            subjects=self.retention.subjects,
            read_events=self.events.read,
        )
        # Stored segment definitions may read any capability's segments: read them once all
        # are offered, and before journeys, which may trigger on them.
        self.personalization.defined.reload()
        self.journeys = Journeys.build(
            registries=self.registries,
            store=store,
            vault=self.vault,
            consent=self.consent,
            clock=self.clock,
            traits=self.traits.get,
            trait_names=[trait.name for trait in self.manifest.traits],
            event_kinds=self.catalog.kinds,
            mac=self.keyring.mac,
            verify_mac=self.keyring.verify_mac,
            subjects=self.retention.subjects,
            recommend=self.recommend.goes_with,
            # Opens, clicks and delivery reports come back as catalogue events of the
            # message's channel, stored under the purposes with a basis now (or not at all).
            record_event=lambda subject, kind, properties, at: self.ingestor.track_subject(
                subject, kind, channel=kind.partition("_")[0], properties=properties, at=at
            ),
            may_record=self.ingestor.has_basis,
        )
        self._closed = False

    @functools.cached_property
    def analytics(self) -> Analytics:
        """Differentially private analytics, built on first use (keeps the import fast)."""
        from personakit.analytics import Analytics  # noqa: PLC0415 - lazily, see the docstring

        return Analytics.build(
            store=self.store,
            audit=self.audit,
            clock=self.clock,
            mac=functools.partial(self.keyring.mac, "dp-answers"),
            registry=self.registries.datasets,
            subjects=self.retention.subjects,
            basis=self.basis,
            events=self.events,
        )

    @functools.cached_property
    def reports(self) -> Reports:
        """Audit reports and packs (:mod:`personakit.reporting`), built on first use.

        Reporting imports no other capability: the request log (rights), the budget ledger
        (analytics) and the security measures of this configuration are handed over here.
        """
        from personakit.reporting import Reports, ReportSources  # noqa: PLC0415 - lazily

        purpose = "analytics" if self.manifest.get_purpose("analytics") else None
        reports = Reports(
            ReportSources(
                manifest=self.manifest,
                audit=self.audit,
                clock=self.clock,
                tenant=self.tenant,
                registries=self.registries,
                consent=self.consent,
                traits=self.traits,
                events=self.events,
                subjects=self.retention.subjects,
                resolve=self.identity.subject_of,
                subject_ref=self.keyring.subject_ref,
                requests=self._request_log,
                security=self._security_measures,
                dataset_purpose=purpose or self.manifest.purposes[0].id,
            )
        )
        reports.add_section("budget", self._budget_ledger)
        reports.add_reads("personalization", self._segment_reads)
        reports.add_reads("journeys", self.journeys.reads)
        reports.add_reads("analytics", self._analytics_reads)
        reports.add_reads("predictive", self.predict.reads)
        reports.add_reads("recommendations", self.recommend.reads)
        return reports

    def _segment_reads(self) -> dict[str, dict[str, list[str]]]:
        # What each segment reads, with the data categories the vocabulary maps those fields
        # to (reporting cannot import personalization; the facade may).
        from personakit.personalization import Vocabulary  # noqa: PLC0415 - on report only

        fields = Vocabulary.from_manifest(self.manifest).fields
        out: dict[str, dict[str, list[str]]] = {}
        for segment in self.personalization.segments():
            reads = sorted(segment.reads)
            categories = {c for name in reads if name in fields for c in fields[name].categories}
            out[f"segment.{segment.name}"] = {"fields": reads, "categories": sorted(categories)}
        return out

    def _analytics_reads(self) -> dict[str, dict[str, list[str]]]:
        return self.analytics.reads()  # a method, so the report builds analytics only on use

    def _request_log(self) -> list[dict[str, Any]]:
        # The summary holds no identifier; the report adds when and how each was answered.
        return [
            {
                **request.summary(),
                "answered_at": None
                if request.answered_at is None
                else request.answered_at.isoformat(),
                "denial_basis": request.denial_basis,
                # A result that names what was withheld (by an operator completing the request
                # by hand: an exemption, a legal hold) was complied with in part.
                "withheld": bool(request.result and request.result.get("withheld")),
            }
            for request in self.rights.requests.list()
        ]

    def _budget_ledger(self) -> list[dict[str, Any]]:
        ledger = self.analytics.ledger
        out = []
        for name in ledger.datasets():
            budget = ledger.budget(name).to_json()
            out.append({**budget, "releases": ledger.releases(name)})
        return out

    def _security_measures(self) -> dict[str, Any]:
        measures: dict[str, Any] = {
            "encryption": "AES-256-GCM, one data key per subject (erasure crypto-shreds it)",
            "key_provider": type(self.keyring.provider).__name__,
            "key_store": type(self.key_store).__name__ + " (separate from the data store)",
            "data_store": type(self.store).__name__,
            "identifiers": "keyed HMAC blind indexes (no identifier in storage keys)",
            "audit_log": "SHA-256 hash chain with HMAC-signed checkpoints",
        }
        settings = getattr(self.store, "settings", None)
        if callable(settings):
            measures.update({f"store.{k}": v for k, v in sorted(settings().items())})
        return measures

    @classmethod
    def open(
        cls,
        location: str | os.PathLike[str],
        *,
        keys: KeyProvider | None = None,
        key_store: str | os.PathLike[str] | Store | None = None,
        clock: Clock | None = None,
        tenant: str = "default",
        manifest: Manifest | str | os.PathLike[str] | None = None,
        key_cache_size: int = DEFAULT_KEY_CACHE,
        personalization: PersonalizationConfig | None = None,
    ) -> Personakit:
        """Open (creating if needed) a kit.

        ``location`` is a directory (data in ``<dir>/data``, keys in ``<dir>/keys`` unless
        ``key_store`` names another directory), ``"memory:"`` for an ephemeral kit, or a
        ``postgresql://`` (or ``postgres://``) URL: data in a
        :class:`~personakit.storage.PostgresStore`, namespaced by ``tenant``, and then
        ``key_store`` is required, because keys must not live in the data's database.
        ``keys`` defaults to :meth:`LocalKeyProvider.from_env`; ``manifest`` is as for the
        constructor, and so are ``key_cache_size`` and ``personalization``.
        """
        manifest = Manifest.coerce(manifest)  # before opening anything: a bad one opens nothing
        provider = keys if keys is not None else LocalKeyProvider.from_env()
        text = os.fspath(location)
        if text == "memory:":
            data: Store = MemoryStore()
            default_keys: Path | None = None
        elif text.startswith(("postgresql://", "postgres://")):
            if key_store is None:
                raise ConfigurationError(
                    "a PostgreSQL location needs an explicit key_store (a directory or a Store): "
                    "keys must not live in the same database as the data, or one database "
                    "backup would hold both and crypto-shredding would erase nothing"
                )
            data = PostgresStore(text, namespace=tenant)
            default_keys = None
        else:
            root = Path(text)
            if root.exists() and not root.is_dir():
                raise ConfigurationError("store location exists and is not a directory")
            data = DiskStore(root / _DATA_DIR)
            default_keys = root / _KEYS_DIR
        key_backend: Store
        try:
            if key_store is None:
                key_backend = MemoryStore() if default_keys is None else DiskStore(default_keys)
            elif isinstance(key_store, (str, os.PathLike)):
                key_backend = DiskStore(key_store)
            else:
                key_backend = key_store
        except BaseException:
            data.close()  # e.g. a PostgreSQL connection must not leak when the key store fails
            raise
        try:
            return cls(
                store=data,
                key_store=key_backend,
                keys=provider,
                clock=clock,
                tenant=tenant,
                manifest=manifest,
                key_cache_size=key_cache_size,
                personalization=personalization,
            )
        except BaseException:
            data.close()
            key_backend.close()
            raise

    def __repr__(self) -> str:
        """Render with the store and tenant."""
        return f"Personakit(store={self.store!r}, tenant={self.tenant!r})"

    def track(
        self,
        identifier: str,
        name: str,
        *,
        channel: str,
        properties: Mapping[str, Any] | None = None,
        at: datetime | str | None = None,
    ) -> TrackResult:
        """Record one event for ``identifier``; see :meth:`Ingestor.track`."""
        return self.ingestor.track(identifier, name, channel=channel, properties=properties, at=at)

    def ingest(
        self,
        records: Iterable[str | bytes | Mapping[str, Any]],
        *,
        strict: bool = False,
        batch_size: int = DEFAULT_BATCH,
        progress: Callable[[int], None] | None = None,
        checkpoint: str | None = None,
    ) -> IngestSummary:
        """Apply bulk records (JSON lines or mappings); see :meth:`Ingestor.ingest`."""
        return self.ingestor.ingest(
            records, strict=strict, batch_size=batch_size, progress=progress, checkpoint=checkpoint
        )

    def link(self, anonymous: str, known: str, *, at: datetime | None = None) -> LinkResult:
        """Link an anonymous identifier to a known one; see :meth:`IdentityLinker.link`.

        Call it outside any transaction of yours: a merge shreds the merged subject's key right
        after its own commit. Inside a transaction, use ``kit.linker.link(…, shred_now=False)``
        and ``kit.linker.finish(result)`` after your commit.
        """
        return self.linker.link(anonymous, known, at=at)

    def subject_ref(self, subject: str) -> str:
        """An opaque, keyed reference to a subject; see :meth:`Keyring.subject_ref`."""
        return self.keyring.subject_ref(subject)

    def close(self) -> None:
        """Close both stores. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.store.close()
        self.key_store.close()

    def __enter__(self) -> Self:
        """Use as a context manager: closes on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the kit."""
        self.close()
