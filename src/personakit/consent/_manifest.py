"""The purposes manifest: controller, purposes with their lawful basis, notices, mappings.

The manifest is a JSON document validated by ``schemas/manifest.schema.json`` and then checked
for cross-references (a purpose's notice, data categories and recipients must be declared;
trait and event declarations must name declared categories and purposes). Every problem is
reported at once in one :class:`~personakit.exceptions.InvalidManifest`.

Notice versions are listed oldest first for each notice id; the last one listed is *current*.
A grant given under any other version of its purpose's notice is *stale*.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Literal

from attrs import field, frozen

from personakit._codec import canonical_json, loads
from personakit.exceptions import InvalidInput, InvalidManifest, Problem

__all__ = [
    "CONSENT_MODE_TYPES",
    "LAWFUL_BASES",
    "Controller",
    "DataCategory",
    "EventDeclaration",
    "LawfulBasis",
    "Manifest",
    "Notice",
    "Purpose",
    "Recipient",
    "TraitDeclaration",
]

LawfulBasis = Literal["consent", "contract", "legal_obligation", "legitimate_interest"]

#: The lawful bases of GDPR Art. 6(1) that personakit distinguishes (vital and public interest
#: are outside what a shop does).
LAWFUL_BASES: Final[tuple[LawfulBasis, ...]] = (
    "consent",
    "contract",
    "legal_obligation",
    "legitimate_interest",
)

#: The Google Consent Mode v2 types, in Google's documentation order.
CONSENT_MODE_TYPES: Final = (
    "ad_storage",
    "analytics_storage",
    "ad_user_data",
    "ad_personalization",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
)

_DEFAULT_RESOURCE: Final = "default_manifest.json"
_OPTABLE: Final = frozenset({"consent", "legitimate_interest"})


@frozen(kw_only=True)
class Controller:
    """The controller (GDPR Art. 4(7)): who decides why and how personal data is processed."""

    name: str
    contact: str
    address: str | None = None
    dpo_name: str | None = None
    dpo_contact: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The controller as it appears in receipts."""
        out: dict[str, Any] = {"name": self.name, "contact": self.contact}
        if self.address is not None:
            out["address"] = self.address
        if self.dpo_contact is not None:
            out["dpo"] = {"name": self.dpo_name, "contact": self.dpo_contact}
        return out


@frozen(kw_only=True)
class DataCategory:
    """A category of personal data (``contact``, ``browsing``, …); ``special`` per Art. 9."""

    id: str
    name: str
    description: str | None = None
    special: bool = False
    never_personalize: bool = False


@frozen(kw_only=True)
class Recipient:
    """Someone personal data is disclosed to (Art. 13(1)(e)), with their role."""

    id: str
    name: str
    role: str
    country: str | None = None
    safeguards: str | None = None


@frozen(kw_only=True)
class Notice:
    """One version of a notice in one language, identified by the SHA-256 of its text."""

    id: str
    version: str
    language: str
    text_sha256: str
    url: str | None = None


@frozen(kw_only=True)
class Purpose:
    """A purpose of processing and everything the guards and reports need to know about it.

    Attributes:
        id: Stable identifier (``personalization``, ``marketing.email``).
        name: Human-readable name.
        lawful_basis: ``consent`` (default deny), ``legitimate_interest`` (allowed unless the
            subject objected), ``contract`` or ``legal_obligation`` (no consent needed).
        data_categories: Ids of the data categories processed.
        retention_days: How long data for this purpose is kept.
        retention_from: What the retention period counts from.
        notice: Id of the notice that informs about this purpose.
        max_consent_age: How long a grant stays valid.
        channel: The contact channel of a marketing purpose.
        recipients: Ids of the recipients.
        tcf_purposes: IAB TCF v2.2 purpose ids that together mean this purpose.
        consent_mode: Google Consent Mode v2 types this purpose governs.
        gpc_opt_out: Whether a Global Privacy Control signal opts out of this purpose.
        description: Longer description.
        explicit_consent: The consent asked is explicit (Art. 9(2)(a)): only such a purpose
            may read a special category of data.
    """

    id: str
    name: str
    lawful_basis: LawfulBasis
    data_categories: tuple[str, ...]
    retention_days: int
    retention_from: str
    notice: str | None
    max_consent_age: timedelta
    channel: str | None = None
    recipients: tuple[str, ...] = ()
    tcf_purposes: frozenset[int] = frozenset()
    consent_mode: tuple[str, ...] = ()
    gpc_opt_out: bool = False
    description: str | None = None
    explicit_consent: bool = False

    @property
    def needs_consent(self) -> bool:
        """True when the lawful basis is consent (processing is denied by default)."""
        return self.lawful_basis == "consent"

    @property
    def objectable(self) -> bool:
        """True when the lawful basis is legitimate interest (the subject may object)."""
        return self.lawful_basis == "legitimate_interest"


@frozen(kw_only=True)
class TraitDeclaration:
    """A profile trait: the JSON Schema of its value, its data category, whether it is personal."""

    name: str
    schema: Mapping[str, Any]
    category: str
    personal: bool
    description: str | None = None


@frozen(kw_only=True)
class EventDeclaration:
    """An event kind: its data category and the purposes it may be processed for."""

    kind: str
    category: str
    purposes: tuple[str, ...]
    strict: bool | None = None
    schema: Mapping[str, Any] | None = None
    description: str | None = None


@frozen(kw_only=True)
class Manifest:
    """A validated purposes manifest.

    Build it with :meth:`from_json`, :meth:`load` or :meth:`default`; construct it directly
    only from already validated parts.
    """

    controller: Controller
    max_consent_age: timedelta
    purposes: tuple[Purpose, ...]
    notices: tuple[Notice, ...]
    data_categories: tuple[DataCategory, ...]
    recipients: tuple[Recipient, ...] = ()
    traits: tuple[TraitDeclaration, ...] = ()
    events: tuple[EventDeclaration, ...] = ()
    storage_locations: tuple[str, ...] = ()
    withdrawal_method: str | None = None
    #: Traits and event properties never used for personalization (whatever the consent).
    never_personalize_traits: frozenset[str] = frozenset()
    never_personalize_properties: frozenset[str] = frozenset()
    document: Mapping[str, Any] = field(factory=dict, repr=False, eq=False)
    sha256: str = ""
    _by_id: dict[str, Purpose] = field(init=False, repr=False, eq=False)
    _current: dict[str, str] = field(init=False, repr=False, eq=False)
    _max_age_us: dict[str, int] = field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        """Index purposes and current notice versions for the guards' hot path."""
        current: dict[str, str] = {}
        for notice in self.notices:
            current[notice.id] = notice.version  # later entries are newer
        object.__setattr__(self, "_by_id", {p.id: p for p in self.purposes})
        object.__setattr__(self, "_current", current)
        object.__setattr__(
            self,
            "_max_age_us",
            {p.id: p.max_consent_age // timedelta(microseconds=1) for p in self.purposes},
        )

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_json(cls, document: Any) -> Manifest:
        """Validate a manifest document and build it.

        :class:`InvalidManifest` lists every problem (schema violations, then dangling
        references and duplicates), never quoting values.
        """
        from personakit import schema  # noqa: PLC0415 (jsonschema loads on first manifest)

        problems = schema.validate(document, "manifest")
        if not problems:
            problems = _reference_problems(document)
        if problems:
            raise InvalidManifest("invalid purposes manifest", problems)
        return _build(document)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Manifest:
        """Read and validate a manifest file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidManifest(
                "cannot read purposes manifest",
                [Problem(where="manifest", what=f"unreadable file ({type(exc).__name__})")],
            ) from exc
        return cls.loads(text)

    @classmethod
    def loads(cls, text: str | bytes) -> Manifest:
        """Parse and validate a manifest from JSON text."""
        try:
            document = loads(text)
        except ValueError as exc:
            raise InvalidManifest(
                "invalid purposes manifest", [Problem(where="$", what="not valid JSON")]
            ) from exc
        return cls.from_json(document)

    @classmethod
    def default(cls) -> Manifest:
        """The manifest that ships for a typical shop (replace the notice hashes with yours)."""
        return _default_manifest()

    @classmethod
    def coerce(cls, manifest: Manifest | str | os.PathLike[str] | None) -> Manifest:
        """A manifest from a :class:`Manifest`, a path to a JSON file, or None (the default)."""
        if manifest is None:
            return cls.default()
        if isinstance(manifest, Manifest):
            return manifest
        return cls.load(manifest)

    def to_json(self) -> dict[str, Any]:
        """A copy of the validated document."""
        copied: dict[str, Any] = loads(canonical_json(dict(self.document)))
        return copied

    # -- lookups ----------------------------------------------------------------------------

    def purpose(self, purpose_id: str, *, where: str = "purpose") -> Purpose:
        """The purpose ``purpose_id``; :class:`InvalidInput` if the manifest has none."""
        found = self._by_id.get(purpose_id) if isinstance(purpose_id, str) else None
        if found is None:
            raise InvalidInput(
                "unknown purpose", [Problem(where=where, what="not a purpose in the manifest")]
            )
        return found

    def get_purpose(self, purpose_id: str) -> Purpose | None:
        """The purpose ``purpose_id``, or None."""
        return self._by_id.get(purpose_id)

    def max_age_us(self, purpose_id: str) -> int:
        """The purpose's maximum consent age in microseconds."""
        return self._max_age_us[purpose_id]

    def current_notice_version(self, notice_id: str) -> str | None:
        """The current (last listed) version of a notice, or None if the notice is unknown."""
        return self._current.get(notice_id)

    def notice_versions(self, notice_id: str) -> list[Notice]:
        """Every listed version/language of a notice, oldest first."""
        return [notice for notice in self.notices if notice.id == notice_id]

    def consent_purposes(self) -> tuple[Purpose, ...]:
        """The purposes whose lawful basis is consent, in manifest order."""
        return tuple(p for p in self.purposes if p.needs_consent)

    def purposes_for_consent_mode(self, mode_type: str) -> tuple[Purpose, ...]:
        """The purposes mapped to a Google Consent Mode type."""
        return tuple(p for p in self.purposes if mode_type in p.consent_mode)


@functools.cache
def _default_manifest() -> Manifest:
    # Memoized: package data, and Manifest is immutable.
    import importlib.resources  # noqa: PLC0415 (deferred: tempfile and shutil come with it)

    text = importlib.resources.files("personakit.schemas").joinpath(_DEFAULT_RESOURCE)
    return Manifest.loads(text.read_text("utf-8"))


def _reference_problems(doc: Mapping[str, Any]) -> list[Problem]:
    problems = _duplicate_problems(doc)
    declared = {
        "category": {c["id"] for c in doc["data_categories"]},
        "recipient": {r["id"] for r in doc.get("recipients", [])},
        "notice": {n["id"] for n in doc["notices"]},
        "purpose": {p["id"] for p in doc["purposes"]},
    }

    def need(kind: str, value: str, where: str) -> None:
        if value not in declared[kind]:
            problems.append(Problem(where=where, what=f"undeclared {kind}"))

    for index, purpose in enumerate(doc["purposes"]):
        where = f"$.purposes[{index}]"
        for pos, category in enumerate(purpose["data_categories"]):
            need("category", category, f"{where}.data_categories[{pos}]")
        for pos, recipient in enumerate(purpose.get("recipients", [])):
            need("recipient", recipient, f"{where}.recipients[{pos}]")
        if "notice" in purpose:
            need("notice", purpose["notice"], f"{where}.notice")
    problems.extend(
        Problem(
            where=f"$.purposes[{index}].gpc_opt_out",
            what="only a consent or legitimate-interest purpose can be opted out of",
        )
        for index, purpose in enumerate(doc["purposes"])
        if purpose.get("gpc_opt_out") and purpose["lawful_basis"] not in _OPTABLE
    )
    problems.extend(
        Problem(
            where=f"$.purposes[{index}].explicit_consent",
            what="only a purpose whose lawful basis is consent asks for explicit consent",
        )
        for index, purpose in enumerate(doc["purposes"])
        if purpose.get("explicit_consent") and purpose["lawful_basis"] != "consent"
    )
    problems.extend(_transfer_problems(doc, declared))
    for name, trait in doc.get("traits", {}).items():
        need("category", trait["category"], f"$.traits.{name}.category")
    problems.extend(
        Problem(where=f"$.never_personalize.traits[{pos}]", what="undeclared trait")
        for pos, name in enumerate(doc.get("never_personalize", {}).get("traits", ()))
        if name not in doc.get("traits", {})
    )
    for kind, event in doc.get("events", {}).items():
        need("category", event["category"], f"$.events.{kind}.category")
        for pos, purpose_id in enumerate(event["purposes"]):
            need("purpose", purpose_id, f"$.events.{kind}.purposes[{pos}]")
    return problems


def _transfer_problems(doc: Mapping[str, Any], declared: Mapping[str, set[str]]) -> list[Problem]:
    """Each transfer names a declared recipient and declared purposes."""
    problems = []
    for index, transfer in enumerate(doc.get("transfers", [])):
        if transfer["recipient"] not in declared["recipient"]:
            problems.append(
                Problem(where=f"$.transfers[{index}].recipient", what="undeclared recipient")
            )
        problems.extend(
            Problem(where=f"$.transfers[{index}].purposes[{pos}]", what="undeclared purpose")
            for pos, purpose_id in enumerate(transfer.get("purposes", []))
            if purpose_id not in declared["purpose"]
        )
    return problems


def _duplicate_problems(doc: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    sections: list[tuple[str, list[dict[str, Any]], tuple[str, ...]]] = [
        ("data_categories", doc["data_categories"], ("id",)),
        ("recipients", doc.get("recipients", []), ("id",)),
        ("purposes", doc["purposes"], ("id",)),
        ("notices", doc["notices"], ("id", "version", "language")),
    ]
    for section, items, key in sections:
        seen: set[tuple[Any, ...]] = set()
        for index, item in enumerate(items):
            ident = tuple(item[part] for part in key)
            if ident in seen:
                what = "duplicate " + " + ".join(key)
                problems.append(Problem(where=f"$.{section}[{index}]", what=what))
            seen.add(ident)
    return problems


def _build(doc: Mapping[str, Any]) -> Manifest:
    controller = doc["controller"]
    dpo = controller.get("dpo", {})
    default_age = int(doc["max_consent_age_days"])
    return Manifest(
        controller=Controller(
            name=controller["name"],
            contact=controller["contact"],
            address=controller.get("address"),
            dpo_name=dpo.get("name"),
            dpo_contact=dpo.get("contact"),
        ),
        max_consent_age=timedelta(days=default_age),
        purposes=tuple(
            Purpose(
                id=p["id"],
                name=p["name"],
                lawful_basis=p["lawful_basis"],
                data_categories=tuple(p["data_categories"]),
                retention_days=int(p["retention"]["days"]),
                retention_from=p["retention"].get("from", "collection"),
                notice=p.get("notice"),
                max_consent_age=timedelta(
                    days=min(default_age, p.get("max_consent_age_days", default_age))
                ),
                channel=p.get("channel"),
                recipients=tuple(p.get("recipients", ())),
                tcf_purposes=frozenset(p.get("tcf_purposes", ())),
                consent_mode=tuple(p.get("consent_mode", ())),
                gpc_opt_out=bool(p.get("gpc_opt_out", False)),
                description=p.get("description"),
                explicit_consent=bool(p.get("explicit_consent", False)),
            )
            for p in doc["purposes"]
        ),
        notices=tuple(
            Notice(
                id=n["id"],
                version=n["version"],
                language=n["language"],
                text_sha256=n["text_sha256"],
                url=n.get("url"),
            )
            for n in doc["notices"]
        ),
        data_categories=tuple(
            DataCategory(
                id=c["id"],
                name=c["name"],
                description=c.get("description"),
                special=bool(c.get("special", False)),
                never_personalize=bool(c.get("never_personalize", False)),
            )
            for c in doc["data_categories"]
        ),
        recipients=tuple(
            Recipient(
                id=r["id"],
                name=r["name"],
                role=r["role"],
                country=r.get("country"),
                safeguards=r.get("safeguards"),
            )
            for r in doc.get("recipients", ())
        ),
        traits=tuple(
            TraitDeclaration(
                name=name,
                schema=t["schema"],
                category=t["category"],
                personal=bool(t["personal"]),
                description=t.get("description"),
            )
            for name, t in doc.get("traits", {}).items()
        ),
        events=tuple(
            EventDeclaration(
                kind=kind,
                category=e["category"],
                purposes=tuple(e["purposes"]),
                strict=e.get("strict"),
                schema=e.get("schema"),
                description=e.get("description"),
            )
            for kind, e in doc.get("events", {}).items()
        ),
        storage_locations=tuple(doc.get("consent_records", {}).get("storage_locations", ())),
        withdrawal_method=doc.get("consent_records", {}).get("withdrawal_method"),
        never_personalize_traits=frozenset(doc.get("never_personalize", {}).get("traits", ())),
        never_personalize_properties=frozenset(
            doc.get("never_personalize", {}).get("properties", ())
        ),
        document=loads(canonical_json(dict(doc))),
        sha256=hashlib.sha256(canonical_json(dict(doc))).hexdigest(),
    )
