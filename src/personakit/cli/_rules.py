"""``personakit rules check FILE``: check a rule set offline, every problem at once.

Nothing is opened but the file and the manifest: no store, no key. Segments the state half
of personalization offers (built-ins, provider segments) are named with ``--segment``; they
are assumed to read no special category here (the kit checks their real categories at load).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from personakit.cli._common import Parser, add_manifest_option, print_json

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``rules`` command group to the CLI's subparsers."""
    rules = subcommands.add_parser("rules", help="check personalization rule sets")
    commands = rules.add_subparsers(dest="rules_command", required=True, parser_class=Parser)
    check = commands.add_parser("check", help="check a rule set file offline (exit 1 if invalid)")
    check.add_argument("file", metavar="FILE", help="rule set JSON file")
    add_manifest_option(check)
    check.add_argument(
        "--segment",
        action="append",
        default=[],
        metavar="NAME",
        help="a segment rules may name (repeat); JSON segments are named by their files",
    )
    check.add_argument(
        "--dimension",
        action="append",
        default=None,
        metavar="NAME",
        help="an affinity dimension rules may name (repeat; default: category, brand, tag)",
    )
    check.add_argument("--format", choices=("json", "text"), default="json")
    check.set_defaults(func=_cmd_check)


def _cmd_check(args: argparse.Namespace) -> int:
    # Imported here: `personakit --help` must not load the condition compiler.
    from personakit._codec import loads_input  # noqa: PLC0415
    from personakit.consent import Manifest  # noqa: PLC0415
    from personakit.exceptions import InvalidInput, Problem  # noqa: PLC0415
    from personakit.personalization import Vocabulary, compile_rule_set  # noqa: PLC0415

    manifest = Manifest.coerce(args.manifest)
    vocabulary = Vocabulary.from_manifest(
        manifest,
        segments=dict.fromkeys(args.segment, ()),
        dimensions=args.dimension,
    )
    try:
        raw = Path(os.fsdecode(args.file)).read_bytes()
    except OSError as exc:
        problems = [Problem(where="FILE", what=f"unreadable file ({type(exc).__name__})")]
        return _report(args.format, None, problems)
    try:
        rules = compile_rule_set(loads_input(raw), vocabulary)
    except InvalidInput as exc:
        return _report(args.format, None, list(exc.problems))
    return _report(args.format, rules, [])


def _report(form: str, rules: Any, problems: list[Any]) -> int:
    if form == "json":
        out: dict[str, Any] = {
            "valid": not problems,
            "problems": [{"where": p.where, "what": p.what} for p in problems],
        }
        if rules is not None:
            out |= rules.summary()
            out["reads"] = rules.reads()
            out["experiment_reads"] = rules.experiment_reads()
        print_json(out)
    elif problems:
        print(f"invalid rule set: {len(problems)} problem(s)")
        for problem in problems:
            print(f"  {problem}")
    else:
        summary = rules.summary()
        print(
            f"valid rule set: {summary['rules']} rule(s), {summary['placements']} placement(s), "
            f"{summary['experiments']} experiment(s); sha256 {summary['sha256']}"
        )
    return 1 if problems else 0
