"""``personakit subject|erasure|dsr|schema …``: data-subject rights from the command line.

* ``subject export IDENT [--format json|csv] [--out PATH]``: the subject's export (JSON on
  standard output, or written to a new file with mode 600; CSV needs ``--out``).
* ``subject erase IDENT [--reason TEXT]``: erase, print the receipt.
* ``subject restrict|unrestrict|object-marketing|opt-out-sale IDENT``: Art. 18, 21, CCPA.
* ``erasure replay``: re-apply the erasure log after restoring a data backup;
  ``erasure log``: the tombstones.
* ``dsr open|verify|run|extend|deny|list|show``: the request workflow.
* ``schema NAME``: print a shipped JSON Schema (``personakit schema export``).

``IDENT`` is a host identifier (``customer:42``, ``email:…``) or a pseudonym (``sub_…``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from personakit._codec import loads
from personakit.consent import SOURCES
from personakit.exceptions import InvalidInput, Problem, UsageError
from personakit.rights._deadlines import Jurisdiction, RequestKind
from personakit.rights._requests import OperatorAttestation, RequestState
from personakit.rights._rights import write_private

__all__ = ["register"]

_IDENT_HELP = "customer:42, email:…, sub_…"
# Ten years: any longer window lists every open request anyway, and huge ones overflow.
_MAX_DUE_WITHIN = 3653


def register(subcommands: Any) -> None:
    """Add the ``subject``, ``erasure``, ``dsr`` and ``schema`` groups to the CLI's subparsers."""
    _register_subject(subcommands)
    _register_erasure(subcommands)
    _register_dsr(subcommands)
    schema = subcommands.add_parser("schema", help="print a JSON Schema that ships with personakit")
    schema.add_argument("name", metavar="NAME", help="schema name, e.g. export or manifest")
    schema.set_defaults(func=_cmd_schema)


def _register_subject(subcommands: Any) -> None:
    subject = subcommands.add_parser("subject", help="export, erase, restrict a data subject")
    commands = subject.add_subparsers(
        dest="subject_command", required=True, parser_class=type(subject)
    )
    export = commands.add_parser("export", help="everything held about a subject")
    export.add_argument("ident", metavar="IDENT", help=_IDENT_HELP)
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--out", help="write to this new file (mode 600)")
    export.set_defaults(func=_cmd_export)
    erase = commands.add_parser("erase", help="erase a subject; print the receipt")
    erase.add_argument("ident", metavar="IDENT", help=_IDENT_HELP)
    erase.add_argument("--reason", help="why (no personal data: it is audited)")
    erase.set_defaults(func=_cmd_erase)
    for verb, text in (
        ("restrict", "restrict processing (GDPR Art 18)"),
        ("unrestrict", "lift a restriction of processing"),
        ("object-marketing", "object to direct marketing (GDPR Art 21(2))"),
        ("opt-out-sale", "opt out of sale/sharing (CCPA)"),
    ):
        command = commands.add_parser(verb, help=text)
        command.add_argument("ident", metavar="IDENT", help=_IDENT_HELP)
        command.add_argument("--source", choices=SOURCES, default="api", help="where")
        command.add_argument("--method", default="cli", help="how (default: cli)")
        command.add_argument("--jurisdiction", help="EU, GB, US-CA, …")
        command.set_defaults(func=_cmd_gate, verb=verb)


def _register_erasure(subcommands: Any) -> None:
    erasure = subcommands.add_parser("erasure", help="the erasure log (kept in the key store)")
    commands = erasure.add_subparsers(
        dest="erasure_command", required=True, parser_class=type(erasure)
    )
    replay = commands.add_parser(
        "replay", help="re-apply the erasure log after restoring a data backup"
    )
    replay.set_defaults(func=_cmd_replay)
    log = commands.add_parser("log", help="list the tombstones")
    log.set_defaults(func=_cmd_log)


def _register_dsr(subcommands: Any) -> None:
    dsr = subcommands.add_parser("dsr", help="data-subject requests and their deadlines")
    commands = dsr.add_subparsers(dest="dsr_command", required=True, parser_class=type(dsr))

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
    opened.set_defaults(func=_cmd_dsr_open)

    verify = commands.add_parser("verify", help="record that the identity was verified")
    verify.add_argument("request_id", metavar="ID")
    verify.add_argument("--method", required=True, help="how: email_link, document_check, …")
    verify.add_argument("--failed", action="store_true", help="verification failed")
    verify.set_defaults(func=_cmd_dsr_verify)

    run = commands.add_parser("run", help="execute a verified request")
    run.add_argument("request_id", metavar="ID")
    run.add_argument("--out-dir", help="where access/portability exports are written")
    run.set_defaults(func=_cmd_dsr_run)

    extend = commands.add_parser("extend", help="take the one extension, with a reason")
    extend.add_argument("request_id", metavar="ID")
    extend.add_argument("--reason", required=True)
    extend.set_defaults(func=_cmd_dsr_extend)

    deny = commands.add_parser("deny", help="deny a request, citing the legal basis")
    deny.add_argument("request_id", metavar="ID")
    deny.add_argument("--basis", required=True, help="e.g. 'GDPR Art 12(5)(b)'")
    deny.set_defaults(func=_cmd_dsr_deny)

    listing = commands.add_parser("list", help="requests by deadline")
    listing.add_argument("--state", choices=[s.value for s in RequestState])
    listing.add_argument("--overdue", action="store_true", help="only overdue requests")
    listing.add_argument("--due-within", type=int, metavar="DAYS", help="only due soon")
    listing.set_defaults(func=_cmd_dsr_list)

    show = commands.add_parser("show", help="one request in full (identifiers included)")
    show.add_argument("request_id", metavar="ID")
    show.set_defaults(func=_cmd_dsr_show)


# -- commands -------------------------------------------------------------------------------


def _cmd_schema(args: argparse.Namespace) -> int:
    from personakit.cli import _print_json  # noqa: PLC0415 (cli imports this module)
    from personakit.schema import load_schema  # noqa: PLC0415 (jsonschema-free, but lazy)

    _print_json(load_schema(args.name))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit  # noqa: PLC0415

    if args.format == "csv" and not args.out:
        raise UsageError("--format csv writes a zip file: pass --out PATH")
    with _open_kit(args) as kit:
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
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

    with _open_kit(args) as kit:
        receipt = kit.rights.erase(args.ident, reason=args.reason, actor="cli")
    _print_json(receipt.to_json())
    return 0


def _cmd_gate(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

    common = {
        "source": args.source,
        "method": args.method,
        "jurisdiction": args.jurisdiction,
        "actor": "cli",
    }
    with _open_kit(args) as kit:
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
    _print_json(out)
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

    with _open_kit(args) as kit:
        report = kit.rights.replay_erasures(actor="cli")
    _print_json(report.to_json())
    return 0


def _cmd_log(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

    with _open_kit(args) as kit:
        entries = kit.rights.erasure_log()
    _print_json(
        [
            {
                "tombstone": e.tombstone,
                "status": e.status,
                "requested_at": e.requested_at.isoformat(),
                "completed_at": None if e.completed_at is None else e.completed_at.isoformat(),
                "receipt_id": e.receipt_id,
            }
            for e in entries
        ]
    )
    return 0


def _cmd_dsr_open(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

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
    with _open_kit(args) as kit:
        request = kit.rights.requests.open(
            args.kind,
            args.idents,
            jurisdiction=Jurisdiction.__members__[args.jurisdiction.upper()],
            channel=args.channel,
            received_at=received,
            parameters=parameters,
            actor="cli",
        )
        _print_json(request.summary(kit.clock.now()))
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


def _cmd_dsr_verify(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

    attestation = OperatorAttestation(method=args.method, verified=not args.failed)
    with _open_kit(args) as kit:
        request = kit.rights.requests.verify(args.request_id, verifier=attestation, actor="cli")
        _print_json(request.summary(kit.clock.now()))
    return 0


def _cmd_dsr_run(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

    with _open_kit(args) as kit:
        request = kit.rights.run_request(args.request_id, out_dir=args.out_dir, actor="cli")
        _print_json({**request.summary(kit.clock.now()), "result": request.result})
    return 0


def _cmd_dsr_extend(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

    with _open_kit(args) as kit:
        request = kit.rights.requests.extend(args.request_id, reason=args.reason, actor="cli")
        _print_json(request.summary(kit.clock.now()))
    return 0


def _cmd_dsr_deny(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

    with _open_kit(args) as kit:
        request = kit.rights.requests.deny(args.request_id, basis=args.basis, actor="cli")
        _print_json(request.summary(kit.clock.now()))
    return 0


def _cmd_dsr_list(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

    if args.due_within is not None and not 0 <= args.due_within <= _MAX_DUE_WITHIN:
        raise InvalidInput(
            "bad --due-within",
            [Problem(where="--due-within", what=f"must be 0 to {_MAX_DUE_WITHIN} days")],
        )
    with _open_kit(args) as kit:
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
        _print_json([r.summary(now) for r in requests])
    return 0


def _cmd_dsr_show(args: argparse.Namespace) -> int:
    from personakit.cli import _open_kit, _print_json  # noqa: PLC0415

    with _open_kit(args) as kit:
        request = kit.rights.requests.get(args.request_id)
        _print_json({**request.to_json(), "overdue": request.overdue(kit.clock.now())})
    return 0
