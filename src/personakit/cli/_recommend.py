"""``personakit recommend IDENT | similar ITEM | rebuild``: recommendations, and their repair."""

from __future__ import annotations

import argparse
from typing import Any

from personakit._vault import new_subject_id
from personakit.cli._common import (
    add_manifest_option,
    open_kit,
    print_json,
    progress_printer,
)
from personakit.exceptions import Problem, SubjectNotFound, UsageError
from personakit.recommendations import RebuildSummary, Recommendations

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``recommend`` command to the CLI's subparsers."""
    recommend = subcommands.add_parser(
        "recommend",
        help="recommendations for a customer (IDENT), items chosen with ITEM (similar ITEM), "
        "or rebuild the item model from stored events (rebuild)",
    )
    add_manifest_option(recommend)
    recommend.add_argument(
        "words",
        nargs="+",
        metavar="IDENT | similar ITEM | rebuild",
        help="an identifier (customer:42) or pseudonym; or `similar ITEM`; or `rebuild`",
    )
    recommend.add_argument("--k", type=int, default=10, help="how many items (1-1000, default 10)")
    recommend.set_defaults(func=_cmd_recommend)


def _cmd_recommend(args: argparse.Namespace) -> int:
    words: list[str] = args.words
    result: RebuildSummary | Recommendations
    with open_kit(args) as kit:
        if words == ["rebuild"]:
            result = kit.recommend.rebuild(progress=progress_printer("subjects", with_total=True))
        elif len(words) == 2 and words[0] == "similar":  # noqa: PLR2004 - `similar ITEM`
            result = kit.recommend.similar_items(words[1], args.k)
        elif len(words) == 1:
            try:
                subject = kit.rights.subject(words[0])
            except SubjectNotFound:
                # An unknown customer gets what everyone without history gets; a pseudonym
                # never issued asks for exactly that answer.
                subject = new_subject_id()
            result = kit.recommend.recommend(subject, args.k)
        else:
            msg = "expected IDENT, `similar ITEM` or `rebuild`"
            raise UsageError(msg, [Problem(where="recommend", what=msg)])
    print_json(result.as_dict())
    return 0
