"""``personakit demo``: serve the demo bakery, or run its scripted tour (``--check``)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from personakit.cli._common import Handler

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``demo`` command."""
    parser = commands.add_parser(
        "demo",
        help="serve the demo bakery shop (needs the demo extra)",
        description=(
            "Serve the demo bakery on the embedded store, printing its address. With --check, "
            "run a scripted tour over HTTP and exit 0 or 1: against the shop on --port if "
            "given, else against one started on a free port in a fresh temporary directory."
        ),
    )
    parser.add_argument("--port", type=int, help="port to serve on (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--dir", help="demo directory (default ./.personakit-demo)")
    parser.add_argument("--check", action="store_true", help="run the scripted tour, exit 0 or 1")
    parser.add_argument(
        "--interval",
        type=float,
        default=30.0,
        help="seconds between two runs of the journeys scheduler (default 30)",
    )
    parser.add_argument(
        "--smtp",
        metavar="HOST:PORT",
        help="send the journeys' e-mail through this SMTP server (default: keep it in the outbox)",
    )
    handler: Handler = _demo
    parser.set_defaults(func=handler)


def _demo(args: argparse.Namespace) -> int:
    from personakit.demo import run_tour  # noqa: PLC0415 (loaded for this command only)

    # The operator step logs in only when it knows the password (a shop started elsewhere).
    password = os.environ.get("PERSONAKIT_DEMO_OPERATOR_PASSWORD") or None
    if args.check and args.port is not None:  # a shop already running: HTTP only, no Flask
        found = run_tour(f"http://{args.host}:{args.port}", out=sys.stdout, operator=password)
        return 0 if found else 1
    try:
        import personakit_demo as demo  # noqa: PLC0415 (Flask is imported only for this command)
    except ImportError:
        print("personakit demo needs Flask: pip install 'personakit[demo]'", file=sys.stderr)
        return 1

    if args.check:
        with tempfile.TemporaryDirectory(prefix="personakit-demo-") as scratch:
            where = Path(args.dir) if args.dir else Path(scratch)
            with demo.running_shop(where, host=args.host) as shop:
                print(f"personakit demo shop (check): {shop.url}/")
                ok = run_tour(shop.url, out=sys.stdout, operator=shop.operator_password)
        print("demo check: OK" if ok else "demo check: FAILED")
        return 0 if ok else 1
    smtp = None
    if args.smtp:
        from personakit.journeys.smtp import SmtpSender  # noqa: PLC0415 (this option only)

        host, _, port = args.smtp.rpartition(":")
        if not host or not port.isdecimal():
            print("--smtp: expected HOST:PORT", file=sys.stderr)
            return 2
        smtp = SmtpSender(host=host, port=int(port), sender="shop@bakery.example")
    if args.interval <= 0:
        print("--interval: expected seconds > 0", file=sys.stderr)
        return 2
    demo.serve(
        Path(args.dir or demo.DEFAULT_DIR),
        host=args.host,
        port=args.port or 8000,
        interval=args.interval,
        smtp=smtp,
    )
    return 0
