"""``personakit report KIND``: audit reports (RoPA, consent, requests, budget …) and packs.

``report all --out DIR`` writes the whole audit pack (every report as JSON, Markdown and HTML,
an index and a SHA-256 manifest recorded in the audit chain); ``report verify DIR`` checks a
pack against its manifest and the chain.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from personakit.cli._common import add_manifest_option, open_kit, print_json
from personakit.exceptions import UsageError

__all__ = ["register"]

# Kept here (not imported from personakit.reporting): `personakit --help` stays light. A test
# checks they equal reporting.KINDS and FORMATS.
KINDS = (
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
FORMATS = ("json", "md", "html")


def register(subcommands: Any) -> None:
    """Add the ``report`` command to the CLI's subparsers."""
    report = subcommands.add_parser(
        "report",
        help="audit reports: " + ", ".join(KINDS) + "; all (the pack), verify (a pack)",
    )
    report.add_argument("kind", metavar="KIND", choices=(*KINDS, "all", "verify"))
    report.add_argument(
        "path", nargs="?", metavar="DIR", help="for verify: the pack directory to check"
    )
    report.add_argument("--format", choices=FORMATS, default="json")
    report.add_argument(
        "--out", help="write here (a new or empty file; for all, a new or empty directory)"
    )
    report.add_argument(
        "--subject", help="consent only: the proof dossier of this identifier or pseudonym"
    )
    add_manifest_option(report)
    report.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    if args.kind == "verify":
        if not args.path:
            raise UsageError("report verify needs the pack directory")
        with open_kit(args) as kit:
            check = kit.reports.verify_pack(args.path)
        print_json(check.to_json())
        return 0 if check.ok else 1
    if args.path:
        raise UsageError("only report verify takes a directory argument")
    if args.kind == "all":
        if not args.out:
            raise UsageError("report all needs --out DIR")
        with open_kit(args) as kit:
            receipt = kit.reports.pack(args.out)
        print_json(receipt.to_json())
        return 0
    with open_kit(args) as kit:
        if args.out:
            path = kit.reports.write(args.kind, args.out, format=args.format, subject=args.subject)
            print_json({"report": args.kind, "format": args.format, "path": str(path)})
        else:
            text = kit.reports.render(args.kind, format=args.format, subject=args.subject)
            sys.stdout.write(text)
    return 0
