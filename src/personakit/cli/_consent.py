"""``personakit consent show|grant|refuse|withdraw``: show and record consent.

``IDENT`` is a host identifier (``customer:42``, ``email:a@b.example``) or a pseudonym
(``sub_…``), resolved through the identity index: ``grant`` and ``refuse`` create the subject
if it is new, ``show`` and ``withdraw`` fail with "no such … identifier" (exit 1) instead.
Results are JSON on standard output; errors one line on standard error.
"""

from __future__ import annotations

import argparse
from typing import Any

from personakit.cli._common import IDENT_HELP, Parser, add_manifest_option, open_kit, print_json
from personakit.consent import SOURCES

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``consent`` command group to the CLI's subparsers."""
    consent = subcommands.add_parser("consent", help="show and record consent (the ledger)")
    add_manifest_option(consent)
    commands = consent.add_subparsers(dest="consent_command", required=True, parser_class=Parser)

    show = commands.add_parser("show", help="current state of every purpose, as JSON")
    show.add_argument("ident", metavar="IDENT", help=IDENT_HELP)
    show.add_argument("--history", action="store_true", help="include the full ledger")
    show.set_defaults(func=_cmd_show)

    for status, verb in (("given", "grant"), ("refused", "refuse"), ("withdrawn", "withdraw")):
        command = commands.add_parser(verb, help=f"record that consent was {status}")
        command.add_argument("ident", metavar="IDENT", help=IDENT_HELP)
        command.add_argument(
            "purpose",
            metavar="PURPOSE",
            help="a purpose id" + (", or 'all'" if verb == "withdraw" else ""),
        )
        required = verb != "withdraw"
        command.add_argument(
            "--notice", required=required, help="id of the notice shown to the subject"
        )
        command.add_argument(
            "--notice-version", required=required, help="version of the notice shown"
        )
        command.add_argument("--language", help="language of the notice text shown")
        command.add_argument("--source", required=True, choices=SOURCES, help="where")
        command.add_argument("--method", default="cli", help="how (default: cli)")
        command.add_argument("--jurisdiction", help="EU, GB, US-CA, …")
        command.set_defaults(func=_cmd_record, verb=verb)


def _cmd_show(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        subject = kit.identity.resolve(args.ident)
        states = kit.consent.states(subject)
        out: dict[str, Any] = {
            "subject": subject,
            "manifest_sha256": kit.manifest.sha256,
            "purposes": {purpose: state.to_json() for purpose, state in states.items()},
            "consent_mode": kit.consent.consent_mode(subject),
            "conflicts": [record.to_json() for record in kit.consent.conflicts(subject)],
        }
        if args.history:
            out["ledger"] = [record.to_json() for record in kit.consent.ledger(subject)]
    print_json(out)
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        common: dict[str, Any] = {
            "source": args.source,
            "method": args.method,
            "jurisdiction": args.jurisdiction,
            "language": args.language,
            "actor": "cli",
        }
        if args.verb == "withdraw":
            subject = kit.identity.resolve(args.ident)
            receipt = kit.consent.withdraw(
                subject,
                args.purpose,
                notice=args.notice,
                notice_version=args.notice_version,
                **common,
            )
        else:
            # Validate everything before a new subject is created: bad input writes nothing.
            kit.consent.validate_decision(
                "given" if args.verb == "grant" else "refused",
                args.purpose,
                notice=args.notice,
                notice_version=args.notice_version,
                **common,
            )
            subject = kit.identity.resolve(args.ident, create=True)
            record = kit.consent.grant if args.verb == "grant" else kit.consent.refuse
            receipt = record(
                subject,
                args.purpose,
                notice=args.notice,
                notice_version=args.notice_version,
                **common,
            )
    print_json(receipt.to_json())
    return 0
