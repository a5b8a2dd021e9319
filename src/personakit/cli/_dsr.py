"""``personakit dsr open|verify|run|extend|deny|list|show``: data-subject requests.

A request is opened with the requester's identifiers, verified, then run; its statutory
deadline can be extended once, with a reason. ``list`` orders requests by deadline.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import Any

from personakit._codec import loads
from personakit.cli._common import Parser, open_kit, print_json
from personakit.exceptions import InvalidInput, Problem, UsageError
from personakit.rights import Jurisdiction, OperatorAttestation, RequestKind, RequestState

__all__ = ["register"]

# Ten years: any longer window lists every open request anyway, and huge ones overflow.
_MAX_DUE_WITHIN = 3653


def register(subcommands: Any) -> None:
    """Add the ``dsr`` command group to the CLI's subparsers."""
    dsr = subcommands.add_parser("dsr", help="data-subject requests and their deadlines")
    commands = dsr.add_subparsers(dest="dsr_command", required=True, parser_class=Parser)

    opened = commands.add_parser("open", help="log a new request; prints it")
    opened.add_argument("kind", choices=[k.value for k in RequestKind])
    opened.add_argument("idents", metavar="IDENT", nargs="+", help="the requester's identifiers")
    opened.add_argument(
        "--jurisdiction", required=True, choices=sorted({"gdpr", "uk_gdpr", "ccpa"})
    )
    opened.add_argument("--channel", required=True, help="email, web_form, phone, mail, …")
    opened.add_argument("--received-at", help="ISO 8601 with a zone (default: now)")
    opened.add_argument("--format", choices=("json", "csv"), help="export format (access)")
    opened.add_argument(
        "--set", action="append", default=[], metavar="TRAIT=JSON", help="rectification value"
    )
    opened.add_argument("--purpose", action="append", default=[], help="objection purpose")
    opened.add_argument("--lift", action="store_true", help="restriction: lift it")
    opened.set_defaults(func=_cmd_open)

    verify = commands.add_parser("verify", help="record that the identity was verified")
    verify.add_argument("request_id", metavar="ID")
    verify.add_argument("--method", required=True, help="how: email_link, document_check, …")
    verify.add_argument("--failed", action="store_true", help="verification failed")
    verify.set_defaults(func=_cmd_verify)

    run = commands.add_parser("run", help="execute a verified request")
    run.add_argument("request_id", metavar="ID")
    run.add_argument("--out-dir", help="where access/portability exports are written")
    run.set_defaults(func=_cmd_run)

    extend = commands.add_parser("extend", help="take the one extension, with a reason")
    extend.add_argument("request_id", metavar="ID")
    extend.add_argument("--reason", required=True)
    extend.set_defaults(func=_cmd_extend)

    deny = commands.add_parser("deny", help="deny a request, citing the legal basis")
    deny.add_argument("request_id", metavar="ID")
    deny.add_argument("--basis", required=True, help="e.g. 'GDPR Art 12(5)(b)'")
    deny.set_defaults(func=_cmd_deny)

    listing = commands.add_parser("list", help="requests by deadline")
    listing.add_argument("--state", choices=[s.value for s in RequestState])
    listing.add_argument("--overdue", action="store_true", help="only overdue requests")
    listing.add_argument("--due-within", type=int, metavar="DAYS", help="only due soon")
    listing.set_defaults(func=_cmd_list)

    show = commands.add_parser("show", help="one request in full (identifiers included)")
    show.add_argument("request_id", metavar="ID")
    show.set_defaults(func=_cmd_show)


def _cmd_open(args: argparse.Namespace) -> int:
    received = None
    if args.received_at:
        try:
            received = datetime.fromisoformat(args.received_at)
        except ValueError:
            raise UsageError(
                "bad --received-at", [Problem(where="--received-at", what="not ISO 8601")]
            ) from None
    parameters: dict[str, Any] = {}
    if args.format:
        parameters["format"] = args.format
    if args.set:
        parameters["values"] = _trait_values(args.set)
    if args.purpose:
        parameters["purposes"] = list(args.purpose)
    if args.lift:
        parameters["lift"] = True
    with open_kit(args) as kit:
        request = kit.rights.requests.open(
            args.kind,
            args.idents,
            jurisdiction=Jurisdiction.__members__[args.jurisdiction.upper()],
            channel=args.channel,
            received_at=received,
            parameters=parameters,
            actor="cli",
        )
        print_json(request.summary(kit.clock.now()))
    return 0


def _trait_values(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for index, pair in enumerate(pairs):
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            problems.append(Problem(where=f"--set[{index}]", what="expected TRAIT=JSON"))
            continue
        try:
            values[name] = loads(raw)
        except ValueError:
            values[name] = raw  # a bare string is the common case: --set first_name=Ann
    if problems:
        raise UsageError("bad --set", problems)
    return values


def _cmd_verify(args: argparse.Namespace) -> int:
    attestation = OperatorAttestation(method=args.method, verified=not args.failed)
    with open_kit(args) as kit:
        request = kit.rights.requests.verify(args.request_id, verifier=attestation, actor="cli")
        print_json(request.summary(kit.clock.now()))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        request = kit.rights.run_request(args.request_id, out_dir=args.out_dir, actor="cli")
        print_json({**request.summary(kit.clock.now()), "result": request.result})
    return 0


def _cmd_extend(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        request = kit.rights.requests.extend(args.request_id, reason=args.reason, actor="cli")
        print_json(request.summary(kit.clock.now()))
    return 0


def _cmd_deny(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        request = kit.rights.requests.deny(args.request_id, basis=args.basis, actor="cli")
        print_json(request.summary(kit.clock.now()))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    if args.due_within is not None and not 0 <= args.due_within <= _MAX_DUE_WITHIN:
        raise InvalidInput(
            "bad --due-within",
            [Problem(where="--due-within", what=f"must be 0 to {_MAX_DUE_WITHIN} days")],
        )
    with open_kit(args) as kit:
        now = kit.clock.now()
        book = kit.rights.requests
        if args.overdue:
            requests = book.overdue(now)
        elif args.due_within is not None:
            requests = book.due_soon(timedelta(days=args.due_within), now)
        else:
            requests = book.list(state=args.state)
        if args.state:
            requests = [r for r in requests if r.state.value == args.state]
        print_json([r.summary(now) for r in requests])
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        request = kit.rights.requests.get(args.request_id)
        print_json({**request.to_json(), "overdue": request.overdue(kit.clock.now())})
    return 0
