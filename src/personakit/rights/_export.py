"""Export of everything held about a subject (GDPR Art. 15 and 20, CCPA right to know).

One JSON document per subject, validated against the shipped schema
``schemas/export.schema.json`` (``personakit schema export`` prints it). It is built from one
prefix scan of the subject's records, so it costs O(that subject):

* every record kind with a registered exporter becomes its section (``identifiers``,
  ``traits``, ``events``, ``consent``, or ``derived_data.<section>``);
* every other record appears in ``other_records``, decrypted (JSON, or base64 if it is not
  JSON), so a record kind nobody registered is never silently left out;
* ``processing`` lists each purpose in the manifest with its lawful basis, data categories,
  retention and recipients, and whether it applies to the subject now; ``sources`` says where
  the data came from; ``controller`` says who is responsible.

The order of everything is deterministic: the same data gives byte-identical canonical JSON
(:meth:`ExportDocument.canonical`) apart from ``generated_at``, and a byte-identical CSV bundle
(:meth:`ExportDocument.csv_zip`) apart from the same field.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from attrs import define, field, frozen

from personakit._codec import canonical_json, loads
from personakit._vault import Vault
from personakit.consent import ConsentManager, Manifest
from personakit.rights._registry import TOP_LEVEL_SECTIONS, ExportRecord, RightsRegistry

__all__ = ["EXPORT_FORMAT", "ExportDocument", "Exporter"]

#: The ``format`` field of every export document.
EXPORT_FORMAT: Final = "personakit.export/1"

# A fixed timestamp for every member of the CSV zip: the bundle's bytes depend on the data only.
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_ZIP_UNIX: Final = 3
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_RE: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_README: Final = """personakit export (CSV bundle)

One CSV file per kind of data held about the data subject. The JSON export (personakit
subject export --format json) is the complete, machine-readable form; this bundle is for
reading in a spreadsheet.

* Values that are JSON objects or lists are written as compact JSON in one cell.
* To protect spreadsheet users from formula injection, a text cell that starts with
  = + - @ or a control character (and is not a number) is prefixed with a single quote (').
* subject.csv names the controller, the subject's pseudonym and when the export was made.
"""


@frozen(kw_only=True)
class ExportDocument:
    """An export: the JSON document, with its canonical bytes and a CSV bundle.

    ``data`` follows ``schemas/export.schema.json``. Treat it as personal data: it holds the
    subject's identifiers and trait values in the clear.
    """

    data: Mapping[str, Any] = field(repr=False)

    def __repr__(self) -> str:
        """Never show the content: reprs end up in logs."""
        return f"ExportDocument(subject_ref={self.data.get('subject', {}).get('ref')!r})"

    def to_json(self) -> dict[str, Any]:
        """A fresh copy of the document."""
        copied: dict[str, Any] = loads(canonical_json(dict(self.data)))
        return copied

    def canonical(self) -> bytes:
        """Canonical JSON bytes (sorted keys, no spaces): identical for identical data."""
        return canonical_json(dict(self.data))

    def csv_zip(self) -> bytes:
        """A zip of one CSV file per record type (deterministic bytes; see the module docs)."""
        return _csv_zip(self.data)


@define(kw_only=True, repr=False)
class Exporter:
    """Builds export documents from a subject's vault records and the manifest."""

    vault: Vault
    registry: RightsRegistry
    manifest: Manifest
    consent: ConsentManager
    subject_ref: Callable[[str], str]

    def __repr__(self) -> str:
        """Render with the registry."""
        return f"Exporter({self.registry!r})"

    def build(self, subject: str, generated_at: datetime) -> ExportDocument:
        """The export of ``subject`` (which must exist), dated ``generated_at``."""
        by_kind: dict[str, list[ExportRecord]] = {}
        for kind, name, plaintext in self.vault.scan(subject):
            by_kind.setdefault(kind, []).append(
                ExportRecord(kind=kind, name=name, plaintext=plaintext)
            )
        document: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "generated_at": generated_at.isoformat(),
            "subject": {"id": subject, "ref": self.subject_ref(subject)},
            "controller": self.manifest.controller.to_json(),
            "manifest_sha256": self.manifest.sha256,
            "profile": {},
            "identifiers": [],
            "traits": {},
            "events": [],
            "consent": {"history": [], "current": {}, "restriction": None},
            "derived_data": {},
            "other_records": [],
        }
        for section, kinds, exporter in self.registry.exporters():
            records = [record for kind in sorted(kinds) for record in by_kind.get(kind, [])]
            content = exporter(subject, records)
            if section in TOP_LEVEL_SECTIONS:
                document[section] = content
            elif content is not None:
                document["derived_data"][section] = content
        document["other_records"] = [
            record.generic()
            for kind in sorted(by_kind)
            if self.registry.section_of(kind) is None
            for record in by_kind[kind]
        ]
        document["processing"] = self._processing(document["consent"].get("current", {}))
        document["sources"] = _sources(document)
        return ExportDocument(data=document)

    def _processing(self, current: Mapping[str, Any]) -> dict[str, Any]:
        purposes = []
        for purpose in self.manifest.purposes:
            state = current.get(purpose.id, {})
            purposes.append(
                {
                    "id": purpose.id,
                    "name": purpose.name,
                    "description": purpose.description,
                    "lawful_basis": purpose.lawful_basis,
                    "data_categories": list(purpose.data_categories),
                    "retention": {"days": purpose.retention_days, "from": purpose.retention_from},
                    "recipients": list(purpose.recipients),
                    "channel": purpose.channel,
                    "applies": bool(state.get("allowed", not purpose.needs_consent)),
                    "state": state.get("state"),
                }
            )
        return {
            "purposes": purposes,
            "data_categories": [
                {
                    "id": category.id,
                    "name": category.name,
                    "description": category.description,
                    "special": category.special,
                }
                for category in self.manifest.data_categories
            ],
            "recipients": [
                {
                    "id": recipient.id,
                    "name": recipient.name,
                    "role": recipient.role,
                    "country": recipient.country,
                    "safeguards": recipient.safeguards,
                }
                for recipient in self.manifest.recipients
            ],
        }

    # -- built-in sections ----------------------------------------------------------------

    def profile_section(self, _subject: str, records: Sequence[ExportRecord]) -> Any:
        """``profile``: when the subject was created (from the ``meta`` record)."""
        out: dict[str, Any] = {}
        for record in records:
            doc = record.json()
            if isinstance(doc, dict) and "created_at" in doc:
                out["created_at"] = doc["created_at"]
        return out

    @staticmethod
    def identifiers_section(_subject: str, records: Sequence[ExportRecord]) -> Any:
        """``identifiers``: every identifier attached to the subject, sorted by kind and value."""
        found = []
        for record in records:
            doc = record.json()
            found.append({"kind": doc["kind"], "value": doc["value"], "attached_at": doc.get("at")})
        return sorted(found, key=lambda item: (item["kind"], item["value"]))

    def traits_section(self, _subject: str, records: Sequence[ExportRecord]) -> Any:
        """``traits``: each trait's value, when and from where it was set, its category."""
        declared = {trait.name: trait for trait in self.manifest.traits}
        out: dict[str, Any] = {}
        for record in records:
            doc = record.json()
            if not isinstance(doc, dict):
                continue
            for name, entry in doc.items():
                item = dict(entry) if isinstance(entry, dict) else {"value": entry}
                declaration = declared.get(name)
                item["category"] = None if declaration is None else declaration.category
                item["personal"] = None if declaration is None else declaration.personal
                out[name] = item
        return out

    @staticmethod
    def events_section(_subject: str, records: Sequence[ExportRecord]) -> Any:
        """``events``: every event from every chunk, oldest first (ties by id)."""
        events = [event for record in records for event in _as_list(record.json())]
        return sorted(events, key=lambda e: (str(e.get("at", "")), str(e.get("id", ""))))

    def consent_section(self, subject: str, records: Sequence[ExportRecord]) -> Any:
        """``consent``: the ledger with notice versions, the current states, any restriction."""
        history = [record.json() for record in records if record.kind == "consent"]
        history.sort(key=lambda doc: int(doc.get("seq", 0)))
        current = {}
        for purpose, state in self.consent.states(subject).items():
            shown = state.to_json()
            shown.pop("record", None)
            shown["record_id"] = None if state.record is None else state.record.id
            current[purpose] = shown
        return {
            "history": history,
            "current": current,
            "restriction": self.consent.restriction(subject),
        }


def _as_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def _sources(document: Mapping[str, Any]) -> list[dict[str, str]]:
    """Where the data came from (GDPR Art. 15(1)(g)), per section, sorted."""
    found: set[tuple[str, str]] = set()
    for record in document["consent"].get("history", []):
        found.add(("consent", str(record.get("source"))))
    for entry in document["traits"].values():
        if isinstance(entry, dict) and entry.get("source"):
            found.add(("traits", str(entry["source"])))
    for event in document["events"]:
        if event.get("channel"):
            found.add(("events", str(event["channel"])))
    if document["identifiers"]:
        found.add(("identifiers", "controller_systems"))
    return [{"section": section, "source": source} for section, source in sorted(found)]


# -- CSV bundle ---------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int | float):
        text = canonical_json(value).decode()
    else:
        text = canonical_json(value).decode("utf-8")
    if text.startswith(_FORMULA_START) and not _NUMBER_RE.fullmatch(text):
        return "'" + text
    return text


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _leaves(value: Any, path: str = "$") -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _leaves(value[key], f"{path}.{key}")
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _csv_files(data: Mapping[str, Any]) -> dict[str, bytes]:
    consent = data["consent"]
    processing = data["processing"]
    files = {
        "subject.csv": _table(
            ("field", "value"),
            [
                ("format", data["format"]),
                ("generated_at", data["generated_at"]),
                ("subject", data["subject"]["id"]),
                ("subject_ref", data["subject"]["ref"]),
                ("manifest_sha256", data["manifest_sha256"]),
                ("controller", data["controller"]),
                ("created_at", data["profile"].get("created_at")),
                ("restriction", consent.get("restriction")),
            ],
        ),
        "identifiers.csv": _table(
            ("kind", "value", "attached_at"),
            [(i["kind"], i["value"], i.get("attached_at")) for i in data["identifiers"]],
        ),
        "traits.csv": _table(
            ("trait", "value", "updated_at", "source", "category", "personal"),
            [
                (
                    name,
                    entry.get("value"),
                    entry.get("updated_at"),
                    entry.get("source"),
                    entry.get("category"),
                    entry.get("personal"),
                )
                for name, entry in sorted(data["traits"].items())
            ],
        ),
        "events.csv": _table(
            ("id", "at", "kind", "channel", "purposes", "properties"),
            [
                (
                    e.get("id"),
                    e.get("at"),
                    e.get("kind"),
                    e.get("channel"),
                    ";".join(e.get("purposes", [])),
                    e.get("properties", {}),
                )
                for e in data["events"]
            ],
        ),
        "consent_history.csv": _consent_history(consent.get("history", [])),
        "consent_current.csv": _table(
            ("purpose", "lawful_basis", "state", "allowed", "reason", "expires_at", "record_id"),
            [
                (
                    purpose,
                    state.get("lawful_basis"),
                    state.get("state"),
                    state.get("allowed"),
                    state.get("reason"),
                    state.get("expires_at"),
                    state.get("record_id"),
                )
                for purpose, state in sorted(consent.get("current", {}).items())
            ],
        ),
        "purposes.csv": _table(
            (
                "id",
                "name",
                "lawful_basis",
                "data_categories",
                "retention_days",
                "retention_from",
                "recipients",
                "applies",
                "state",
            ),
            [
                (
                    p["id"],
                    p["name"],
                    p["lawful_basis"],
                    ";".join(p["data_categories"]),
                    p["retention"]["days"],
                    p["retention"]["from"],
                    ";".join(p["recipients"]),
                    p["applies"],
                    p["state"],
                )
                for p in processing["purposes"]
            ],
        ),
        "recipients.csv": _table(
            ("id", "name", "role", "country", "safeguards"),
            [
                (r["id"], r["name"], r["role"], r["country"], r["safeguards"])
                for r in processing["recipients"]
            ],
        ),
        "sources.csv": _table(
            ("section", "source"), [(s["section"], s["source"]) for s in data["sources"]]
        ),
        "other_records.csv": _table(
            ("kind", "name", "encoding", "content"),
            [(r["kind"], r["name"], r["encoding"], r["content"]) for r in data["other_records"]],
        ),
    }
    for section, content in sorted(data["derived_data"].items()):
        files[f"derived_{section}.csv"] = _table(("path", "value"), _leaves(content))
    return files


def _consent_history(history: Sequence[Mapping[str, Any]]) -> bytes:
    header = (
        "seq",
        "id",
        "purpose",
        "status",
        "lawful_basis",
        "notice_id",
        "notice_version",
        "notice_language",
        "notice_sha256",
        "source",
        "method",
        "jurisdiction",
        "occurred_at",
        "recorded_at",
        "expires_at",
        "supersedes",
        "origin",
        "conflict",
    )
    rows = []
    for record in history:
        notice = record.get("notice") or {}
        rows.append(
            (
                record.get("seq"),
                record.get("id"),
                record.get("purpose"),
                record.get("status"),
                record.get("lawful_basis"),
                notice.get("id"),
                notice.get("version"),
                notice.get("language"),
                notice.get("text_sha256"),
                record.get("source"),
                record.get("method"),
                record.get("jurisdiction"),
                record.get("occurred_at"),
                record.get("recorded_at"),
                record.get("expires_at"),
                record.get("supersedes"),
                record.get("origin"),
                record.get("conflict"),
            )
        )
    return _table(header, rows)


def _csv_zip(data: Mapping[str, Any]) -> bytes:
    import zipfile  # noqa: PLC0415 (only a CSV export needs it: kept out of import personakit)

    files = {"README.txt": _README.encode("utf-8"), **_csv_files(data)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = _ZIP_UNIX
            info.external_attr = 0o600 << 16
            bundle.writestr(info, files[name])
    return buffer.getvalue()
