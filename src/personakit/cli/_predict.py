"""``personakit predict fit|score``: fit the purchase models, score one customer."""

from __future__ import annotations

import argparse
from typing import Any

from personakit.cli._common import (
    Parser,
    add_manifest_option,
    open_kit,
    print_json,
    progress_printer,
)
from personakit.events import parse_timestamp

__all__ = ["register"]


def register(subcommands: Any) -> None:
    """Add the ``predict`` command group to the CLI's subparsers."""
    predict = subcommands.add_parser(
        "predict", help="churn risk, expected purchases and lifetime value (BG/NBD, Gamma-Gamma)"
    )
    add_manifest_option(predict)
    commands = predict.add_subparsers(dest="predict_command", required=True, parser_class=Parser)
    fit = commands.add_parser(
        "fit", help="fit the models on the customers with a basis; print the parameters"
    )
    fit.add_argument("--now", help="fit as of this ISO 8601 instant (default: now)")
    fit.set_defaults(func=_cmd_fit)
    score = commands.add_parser("score", help="one customer's predictions, explained")
    score.add_argument("identifier", help="an identifier (customer:42) or a pseudonym (sub_…)")
    score.add_argument("--now", help="score as of this ISO 8601 instant (default: now)")
    score.set_defaults(func=_cmd_score)


def _cmd_fit(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        now = parse_timestamp(args.now, where="--now") if args.now else None
        summary = kit.predict.fit(now=now, progress=progress_printer("customers", with_total=True))
    print_json(summary.as_dict())
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        now = parse_timestamp(args.now, where="--now") if args.now else None
        subject = kit.rights.subject(args.identifier)
        prediction = kit.predict.score(subject, now=now)
    print_json(prediction.as_dict())
    return 0
