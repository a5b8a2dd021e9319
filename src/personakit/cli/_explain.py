"""``personakit explain IDENT --placement P --rules FILE``: the developer trace of a decision.

Rule sets live in the host's process, not in the store: the command loads ``FILE`` (or the
file ``$PERSONAKIT_RULES`` names) through ``kit.personalization.load_rules`` (an audited load,
actor ``cli``), optionally defines JSON segments first (``--segments FILE``), then prints
``kit.personalization.decide(IDENT, P, context, explain=True)`` as JSON: the content, the
matched rule, the reasons, the digest of the rule set and every rule tried. A subject that
does not exist, has no current personalization consent or is restricted is explained as an
unknown subject (``personalization_off``). Exit 1 for an invalid file or call, 2 for usage.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Final

from personakit.cli._common import add_manifest_option, open_kit, print_json

__all__ = ["RULES_ENV", "read_json_file", "register"]

RULES_ENV: Final = "PERSONAKIT_RULES"


def register(subcommands: Any) -> None:
    """Add the ``explain`` command to the CLI's subparsers."""
    explain = subcommands.add_parser(
        "explain", help="decide a placement for a subject and print why (JSON)"
    )
    explain.add_argument("ident", metavar="IDENT", help="identifier (customer:42) or pseudonym")
    explain.add_argument("--placement", required=True, help="the placement to decide")
    explain.add_argument("--rules", help=f"rule set JSON file (default: ${RULES_ENV})")
    explain.add_argument("--segments", help="JSON segment definitions to define first")
    explain.add_argument("--context", help='request context as a JSON object ({"channel": "web"})')
    add_manifest_option(explain)
    explain.set_defaults(func=_cmd_explain)


def read_json_file(path: str, where: str) -> Any:
    """The JSON value in ``path``; :class:`InvalidInput` if unreadable or not JSON."""
    from personakit._codec import loads_input  # noqa: PLC0415 (keeps --help fast)
    from personakit.exceptions import InvalidInput, Problem  # noqa: PLC0415

    try:
        raw = Path(os.fsdecode(path)).read_bytes()
    except OSError as exc:
        problem = Problem(where=where, what=f"unreadable file ({type(exc).__name__})")
        raise InvalidInput(f"cannot read {where}", [problem]) from None
    return loads_input(raw)


def _cmd_explain(args: argparse.Namespace) -> int:
    from personakit._codec import loads_input  # noqa: PLC0415
    from personakit.exceptions import UsageError  # noqa: PLC0415

    path = args.rules or os.environ.get(RULES_ENV)
    if not path:
        raise UsageError(f"explain needs --rules FILE (or ${RULES_ENV})")
    document = read_json_file(path, "rules")
    segments = None if args.segments is None else read_json_file(args.segments, "segments")
    context = None if args.context is None else loads_input(os.fsencode(args.context))
    with open_kit(args) as kit:
        if segments is not None:
            kit.personalization.define_segments(segments)
        kit.personalization.load_rules(document, actor="cli")
        decision = kit.personalization.decide(args.ident, args.placement, context, explain=True)
        print_json(decision.to_json())
    return 0
