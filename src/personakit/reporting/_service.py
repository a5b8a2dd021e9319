"""``kit.reports``: build, render, write and pack the audit reports."""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from personakit import schema
from personakit._codec import loads
from personakit.exceptions import InvalidInput, Problem
from personakit.reporting._activity import (
    SectionSource,
    budget_report,
    consent_report,
    dossier,
    dsr_report,
)
from personakit.reporting._checks import ReadsSource, audit_report, minimization_report
from personakit.reporting._journeys import journeys_report
from personakit.reporting._pack import (
    PackCheck,
    PackReceipt,
    check_pack,
    check_target,
    write_file,
    write_pack,
)
from personakit.reporting._render import to_html, to_markdown
from personakit.reporting._sources import Census, ReportSources
from personakit.reporting._static import inventory_report, retention_report, ropa

__all__ = ["DEFAULT_K", "FORMATS", "KINDS", "SECTIONS", "Reports", "report_schema"]

#: Every report kind, in the order the pack's index lists them.
KINDS: Final = (
    "ropa",
    "consent",
    "dsr",
    "budget",
    "inventory",
    "retention",
    "journeys",
    "minimization",
    "audit",
)
#: Output formats.
FORMATS: Final = ("json", "md", "html")
#: Sections another capability may provide through :meth:`Reports.add_section`.
SECTIONS: Final = ("budget",)
#: The default small-cell threshold.
DEFAULT_K: Final = 5
_MAX_K: Final = 1000
_OWNER_RE: Final = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_SUFFIX: Final = {"json": "json", "md": "md", "html": "html"}


@functools.cache
def _validator(kind: str) -> schema.SchemaValidator:
    return schema.compile_schema(_schema_text(kind))


def _schema_text(kind: str) -> Any:
    # One joinpath per part: the schemas directory is a namespace package on some installs.
    files = importlib.resources.files("personakit.schemas").joinpath("reports")
    return loads(files.joinpath(f"{kind}.schema.json").read_text("utf-8"))


def report_schema(kind: str) -> dict[str, Any]:
    """The shipped JSON Schema of report ``kind`` (``consent-dossier`` included)."""
    if kind not in (*KINDS, "consent-dossier"):
        raise InvalidInput("unknown report", [Problem(where="kind", what="not a report kind")])
    loaded: dict[str, Any] = _schema_text(kind)
    return loaded


def _check(kind: object, fmt: object, subject: object, k: object) -> list[Problem]:
    problems = []
    if not isinstance(kind, str) or kind not in KINDS:
        problems.append(Problem(where="kind", what="one of " + ", ".join(KINDS)))
    if not isinstance(fmt, str) or fmt not in FORMATS:
        problems.append(Problem(where="format", what="one of json, md, html"))
    if subject is not None and (not isinstance(subject, str) or kind != "consent"):
        problems.append(Problem(where="subject", what="a string, for the consent report only"))
    if k is not None and (type(k) is not int or not 1 <= k <= _MAX_K):
        problems.append(Problem(where="k", what="an integer from 1 to 1000"))
    return problems


class Reports:
    """Audit reports over this kit's own records (``kit.reports``).

    Every report is a JSON document (see ``docs/reporting.md`` for the shape) validated by a
    shipped schema, rendered to Markdown or one self-contained HTML page. Reports only read:
    they spend no privacy budget, and the only one that holds personal data is the consent
    dossier of one subject asked for by name.
    """

    def __init__(self, sources: ReportSources, *, k: int = DEFAULT_K) -> None:
        """Report over ``sources``; ``k`` is the small-cell threshold."""
        self._sources = sources
        self._k = k
        self._sections: dict[str, SectionSource] = {}
        self._reads: dict[str, ReadsSource] = {}

    @property
    def sources(self) -> ReportSources:
        """What the reports read, as the facade wired it."""
        return self._sources

    def __repr__(self) -> str:
        """Render with the registered sections and readers."""
        return f"Reports(sections={sorted(self._sections)!r}, reads={sorted(self._reads)!r})"

    def add_section(self, name: str, source: SectionSource) -> None:
        """Provide the data of a section only another capability holds (``budget``).

        For ``budget``, ``source()`` returns one mapping per dataset: ``dataset``, ``cap``
        and ``spent`` (loss objects or None) and ``releases`` (the ledger's entries).
        """
        problems = []
        if not isinstance(name, str) or name not in SECTIONS:
            problems.append(Problem(where="name", what="one of " + ", ".join(SECTIONS)))
        elif name in self._sections:
            problems.append(Problem(where="name", what="already provided"))
        given: object = source  # callers without a type checker can pass anything
        if not callable(given):
            problems.append(Problem(where="source", what="must be callable"))
        if problems:
            raise InvalidInput("cannot add report section", problems)
        self._sections[name] = source

    def add_reads(self, owner: str, source: ReadsSource) -> None:
        """Register what ``owner``'s definitions read, for the minimization report.

        ``source()`` returns ``{definition: {"fields": [...], "categories": [...]}}`` (the
        shape of personalization's ``RuleSet.reads()``); traits are fields ``traits.<name>``.
        """
        problems = []
        if not isinstance(owner, str) or not _OWNER_RE.fullmatch(owner):
            problems.append(Problem(where="owner", what="must match [a-z][a-z0-9_.-]{0,63}"))
        elif owner in self._reads:
            problems.append(Problem(where="owner", what="already registered"))
        given: object = source  # callers without a type checker can pass anything
        if not callable(given):
            problems.append(Problem(where="source", what="must be callable"))
        if problems:
            raise InvalidInput("cannot register reads", problems)
        self._reads[owner] = source

    def build(
        self, kind: str, *, subject: str | None = None, k: int | None = None
    ) -> dict[str, Any]:
        """Report ``kind`` as a JSON document; with ``subject`` (consent only), the dossier.

        ``subject`` is an identifier (``customer:42``) or a pseudonym;
        :class:`~personakit.exceptions.SubjectNotFound` if it resolves to nobody. ``k``
        overrides the small-cell threshold.
        """
        problems = _check(kind, "json", subject, k)
        if problems:
            raise InvalidInput("invalid report request", problems)
        return self._build(kind, Census(self._sources), subject=subject, k=k or self._k)

    def _build(self, kind: str, census: Census, *, subject: str | None, k: int) -> dict[str, Any]:
        src = self._sources
        if subject is not None:
            return dossier(src, src.resolve(subject), k)
        builders: dict[str, Callable[[], dict[str, Any]]] = {
            "ropa": lambda: ropa(src, census, k),
            "consent": lambda: consent_report(src, census, k),
            "dsr": lambda: dsr_report(src, k),
            "budget": lambda: budget_report(src, self._sections.get("budget"), k),
            "inventory": lambda: inventory_report(src, k),
            "retention": lambda: retention_report(src, census, k),
            "journeys": lambda: journeys_report(src, census, k),
            "minimization": lambda: minimization_report(src, census, self._reads, k),
            "audit": lambda: audit_report(src, k),
        }
        return builders[kind]()

    def validate(self, document: Any) -> list[Problem]:
        """Every way ``document`` fails its report's shipped schema (empty: it validates)."""
        kind = document.get("report") if isinstance(document, Mapping) else None
        if not isinstance(kind, str) or kind not in (*KINDS, "consent-dossier"):
            return [Problem(where="$.report", what="not a report kind")]
        return _validator(kind).problems(document)

    def render(
        self,
        kind: str,
        *,
        format: str = "json",  # noqa: A002 - the CLI's --format, named alike
        subject: str | None = None,
        k: int | None = None,
    ) -> str:
        """Report ``kind`` as text: JSON, Markdown or one self-contained HTML page."""
        problems = _check(kind, format, subject, k)
        if problems:
            raise InvalidInput("invalid report request", problems)
        document = self._build(kind, Census(self._sources), subject=subject, k=k or self._k)
        return _text(document, format)

    def write(
        self,
        kind: str,
        out: str | Path,
        *,
        format: str = "json",  # noqa: A002 - as in render
        subject: str | None = None,
    ) -> Path:
        """Write one report to ``out`` (a file that does not exist or is empty)."""
        problems = _check(kind, format, subject, None)
        if problems:
            raise InvalidInput("invalid report request", problems)
        path = check_target(out, "out", directory=False)
        write_file(path, self.render(kind, format=format, subject=subject))
        return path

    def pack(self, out: str | Path) -> PackReceipt:
        """Write every report in every format, an index and a SHA-256 manifest into ``out``.

        ``out`` must not exist or be an empty directory. The pack appears whole or not at all,
        and the manifest's digest is appended to the audit chain (``report.pack``).
        """
        target = check_target(out, "out", directory=True)
        census = Census(self._sources)

        def files() -> dict[str, str]:
            documents = {kind: self._build(kind, census, subject=None, k=self._k) for kind in KINDS}
            nav = [("index.html", "index"), *((f"{kind}.html", kind) for kind in KINDS)]
            out_files: dict[str, str] = {}
            for kind, document in documents.items():
                out_files[f"{kind}.json"] = _text(document, "json")
                out_files[f"{kind}.md"] = to_markdown(document)
                out_files[f"{kind}.html"] = to_html(document, nav=nav)
            index = _index(
                documents, self._sources.tenant, self._sources.clock.now().isoformat(), self._k
            )
            out_files["index.html"] = to_html(index, nav=nav)
            out_files["index.md"] = to_markdown(index)
            return out_files

        head = {
            "tenant": self._sources.tenant,
            "generated_at": self._sources.clock.now().isoformat(),
            "manifest_sha256": self._sources.manifest.sha256,
        }
        return write_pack(target, files, audit=self._sources.audit, head=head)

    def verify_pack(self, directory: str | Path) -> PackCheck:
        """Check a pack: every file's digest, and that its manifest is in the audit chain."""
        return check_pack(directory, self._sources.audit)


def _text(document: Mapping[str, Any], fmt: str) -> str:
    if fmt == "md":
        return to_markdown(document)
    if fmt == "html":
        return to_html(document)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _index(
    documents: Mapping[str, Mapping[str, Any]], tenant: str, at: str, k: int
) -> dict[str, Any]:
    from personakit.reporting._doc import table  # noqa: PLC0415 - keeps the import list short

    return {
        "report": "index",
        "title": f"Audit pack ({tenant})",
        "generated_at": at,
        "k": k,
        "notes": [
            (
                "manifest.json lists the SHA-256 of every file; its own digest is in the audit "
                "chain (action report.pack)."
            )
        ],
        "summary": {"tenant": tenant, "reports": len(documents)},
        "tables": [
            table(
                "reports",
                "Reports",
                ("report", "title", "json", "markdown", "html"),
                (
                    {
                        "report": kind,
                        "title": str(doc["title"]),
                        "json": f"{kind}.json",
                        "markdown": f"{kind}.md",
                        "html": f"{kind}.html",
                    }
                    for kind, doc in documents.items()
                ),
            )
        ],
        "charts": [],
    }
