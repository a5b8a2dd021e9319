"""``personakit subject …``: one data subject's rights, from the command line.

* ``subject export IDENT [--format json|csv] [--out PATH]``: the subject's export (JSON on
  standard output, or written to a new file with mode 600; CSV needs ``--out``).
* ``subject erase IDENT [--reason TEXT]``: erase, print the receipt.
* ``subject restrict|unrestrict|object-marketing|opt-out-sale IDENT``: Art. 18, 21, CCPA.

``IDENT`` is a host identifier (``customer:42``, ``email:…``) or a pseudonym (``sub_…``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from personakit.cli._common import IDENT_HELP, Parser, open_kit, print_json
from personakit.consent import SOURCES
from personakit.exceptions import UsageError
from personakit.rights import write_private

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``subject`` command group to the CLI's subparsers."""
    subject = subcommands.add_parser("subject", help="export, erase, restrict a data subject")
    commands = subject.add_subparsers(dest="subject_command", required=True, parser_class=Parser)
    export = commands.add_parser("export", help="everything held about a subject")
    export.add_argument("ident", metavar="IDENT", help=IDENT_HELP)
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--out", help="write to this new file (mode 600)")
    export.set_defaults(func=_cmd_export)
    erase = commands.add_parser("erase", help="erase a subject; print the receipt")
    erase.add_argument("ident", metavar="IDENT", help=IDENT_HELP)
    erase.add_argument("--reason", help="why (no personal data: it is audited)")
    erase.set_defaults(func=_cmd_erase)
    for verb, text in (
        ("restrict", "restrict processing (GDPR Art 18)"),
        ("unrestrict", "lift a restriction of processing"),
        ("object-marketing", "object to direct marketing (GDPR Art 21(2))"),
        ("opt-out-sale", "opt out of sale/sharing (CCPA)"),
    ):
        command = commands.add_parser(verb, help=text)
        command.add_argument("ident", metavar="IDENT", help=IDENT_HELP)
        command.add_argument("--source", choices=SOURCES, default="api", help="where")
        command.add_argument("--method", default="cli", help="how (default: cli)")
        command.add_argument("--jurisdiction", help="EU, GB, US-CA, …")
        command.set_defaults(func=_cmd_gate, verb=verb)


def _cmd_export(args: argparse.Namespace) -> int:
    if args.format == "csv" and not args.out:
        raise UsageError("--format csv writes a zip file: pass --out PATH")
    with open_kit(args) as kit:
        document = kit.rights.export_document(args.ident, fmt=args.format, actor="cli")
    if args.format == "csv":
        payload = document.csv_zip()
    else:
        text = json.dumps(document.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
        payload = (text + "\n").encode("utf-8")
    if args.out:
        write_private(Path(args.out), payload)
        print(f"export written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(payload.decode("utf-8"))
    return 0


def _cmd_erase(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        receipt = kit.rights.erase(args.ident, reason=args.reason, actor="cli")
    print_json(receipt.to_json())
    return 0


def _cmd_gate(args: argparse.Namespace) -> int:
    common = {
        "source": args.source,
        "method": args.method,
        "jurisdiction": args.jurisdiction,
        "actor": "cli",
    }
    with open_kit(args) as kit:
        rights = kit.rights
        if args.verb in {"restrict", "unrestrict"}:
            call = rights.restrict if args.verb == "restrict" else rights.lift_restriction
            out: Any = call(args.ident, **common).to_json()
        else:
            call_stop = (
                rights.object_to_direct_marketing
                if args.verb == "object-marketing"
                else rights.opt_out_of_sale
            )
            out = [receipt.to_json() for receipt in call_stop(args.ident, **common)]
    print_json(out)
    return 0
