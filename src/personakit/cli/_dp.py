"""``personakit dp count|sum|mean|quantile|histogram|groupby|metric|budget``: DP analytics.

Every query takes the privacy it may spend (``--epsilon E [--delta D]``, ``--rho R`` or
``--accuracy A``), ``--dry-run`` for its cost and 95% interval without spending, and
``--reason`` (recorded with the release). ``budget`` prints a dataset's cap, spent, remaining
and releases, or sets the cap (``--cap-epsilon`` [``--cap-delta``] or ``--cap-rho``).
"""

from __future__ import annotations

import argparse
from typing import Any

from personakit._codec import loads
from personakit.cli._common import add_command, add_command_group, open_kit, print_json
from personakit.exceptions import Problem, UsageError

__all__ = ["register"]


def _privacy(command: argparse.ArgumentParser) -> None:
    spend = command.add_mutually_exclusive_group(required=True)
    spend.add_argument("--epsilon", type=float, help="pure (or, with --delta, approximate) DP")
    spend.add_argument("--rho", type=float, help="zero-concentrated DP")
    spend.add_argument("--accuracy", type=float, help="95%% noise half-width wanted")
    command.add_argument("--delta", type=float, help="with --epsilon")
    command.add_argument("--dry-run", action="store_true", help="cost and interval; spend nothing")
    command.add_argument("--fresh", action="store_true", help="new noise even if already answered")
    command.add_argument("--reason", default="cli query", help="why (kept in the ledger)")


def _bounds(command: argparse.ArgumentParser) -> None:
    command.add_argument("--lower", type=float, required=True, help="clamp bound (cents)")
    command.add_argument("--upper", type=float, required=True, help="clamp bound (cents)")
    command.add_argument("--impute", type=float, help="replaces NaN and infinity")


def register(subcommands: Any) -> None:
    """Add the ``dp`` command group to the CLI's subparsers."""
    commands = add_command_group(subcommands, "dp", "differentially private analytics")
    count = add_command(commands, "count", _cmd_query, "how many rows (customers, orders)")
    count.add_argument("dataset")
    for name in ("sum", "mean"):
        command = add_command(commands, name, _cmd_query, f"the clamped {name} of a column")
        command.add_argument("dataset")
        command.add_argument("column")
        _bounds(command)
    quantile = add_command(commands, "quantile", _cmd_query, "a quantile of a column")
    quantile.add_argument("dataset")
    quantile.add_argument("column")
    quantile.add_argument("--q", type=float, required=True, help="between 0 and 1")
    _bounds(quantile)
    histogram = add_command(commands, "histogram", _cmd_query, "counts over explicit bins")
    histogram.add_argument("dataset")
    histogram.add_argument("column")
    histogram.add_argument("--bins", required=True, help="edges as a JSON list: [0,1000,5000]")
    histogram.add_argument("--impute", type=float, help="replaces NaN and infinity")
    groupby = add_command(commands, "groupby", _cmd_query, "count or sum per group")
    groupby.add_argument("dataset")
    groupby.add_argument("by")
    groupby.add_argument("--keys", help="public keys as a JSON list (omit: thresholded)")
    groupby.add_argument("--sum", dest="column", help="sum this column (needs --keys)")
    groupby.add_argument("--lower", type=float, help="clamp bound for --sum")
    groupby.add_argument("--upper", type=float, help="clamp bound for --sum")
    metric = add_command(commands, "metric", _cmd_query, "aov, repeat_rate, clv_by_cohort, ...")
    metric.add_argument("metric", choices=("aov", "repeat_rate", "clv_by_cohort", "segment_sizes"))
    metric.add_argument("--upper", type=int, help="largest value counted, in cents")
    metric.add_argument("--cohorts", help="months as a JSON list: [202601,202602]")
    metric.add_argument("--segments", help='segment_sizes: names as a JSON list: ["vip"]')
    for each in (count, *_commands(commands), quantile, histogram, groupby, metric):
        _privacy(each)
    budget = add_command(commands, "budget", _cmd_budget, "cap, spent, remaining, releases")
    budget.add_argument("--dataset", help="one dataset (default: every one with a budget)")
    budget.add_argument("--cap-epsilon", type=float, help="set the cap: epsilon")
    budget.add_argument("--cap-delta", type=float, help="set the cap: delta (with epsilon)")
    budget.add_argument("--cap-rho", type=float, help="set the cap: rho (zCDP)")
    budget.add_argument("--reason", default="cli budget", help="why (kept in the audit log)")


def _commands(commands: Any) -> list[argparse.ArgumentParser]:
    return [commands.choices["sum"], commands.choices["mean"]]


def _json_list(value: str | None, option: str) -> list[Any] | None:
    if value is None:
        return None
    try:
        found = loads(value)
    except ValueError:
        found = None
    if not isinstance(found, list):
        raise UsageError(f"bad {option}", [Problem(where=option, what="a JSON list")])
    return found


def _cmd_query(args: argparse.Namespace) -> int:
    spend: dict[str, Any] = {
        "epsilon": args.epsilon,
        "delta": args.delta,
        "rho": args.rho,
        "accuracy": args.accuracy,
        "dry_run": args.dry_run,
        "reuse": not args.fresh,
        "actor": "cli",
        "reason": args.reason,
    }
    command = args.dp_command
    with open_kit(args) as kit:
        analytics = kit.analytics
        if command == "count":
            result = analytics.count(args.dataset, **spend)
        elif command in {"sum", "mean"}:
            method = analytics.sum if command == "sum" else analytics.mean
            bounds = (args.lower, args.upper)
            result = method(args.dataset, args.column, bounds=bounds, impute=args.impute, **spend)
        elif command == "quantile":
            result = analytics.quantile(
                args.dataset,
                args.column,
                q=args.q,
                bounds=(args.lower, args.upper),
                impute=args.impute,
                **spend,
            )
        elif command == "histogram":
            bins = _json_list(args.bins, "--bins") or []
            result = analytics.histogram(
                args.dataset, args.column, bins=bins, impute=args.impute, **spend
            )
        elif command == "groupby":
            clamp = None if args.lower is None else (args.lower, args.upper)
            result = analytics.groupby(
                args.dataset,
                args.by,
                keys=_json_list(args.keys, "--keys"),
                column=args.column,
                bounds=clamp,
                **spend,
            )
        else:
            cohorts = _json_list(args.cohorts, "--cohorts")
            segments = _json_list(args.segments, "--segments")
            result = analytics.metric(
                args.metric, upper=args.upper, cohorts=cohorts, segments=segments, **spend
            )
        print_json(result.to_json())
    return 0


def _cmd_budget(args: argparse.Namespace) -> int:
    with open_kit(args) as kit:
        if args.cap_epsilon is not None or args.cap_rho is not None:
            if args.dataset is None:
                raise UsageError(
                    "--cap-* needs --dataset", [Problem(where="--dataset", what="required")]
                )
            budget = kit.analytics.set_budget(
                args.dataset,
                epsilon=args.cap_epsilon,
                delta=args.cap_delta,
                rho=args.cap_rho,
                actor="cli",
                reason=args.reason,
            )
            print_json(budget.to_json())
        elif args.dataset is not None:
            print_json(kit.analytics.budget(args.dataset).to_json())
        else:
            print_json([b.to_json() for b in kit.analytics.budgets()])
    return 0
