"""Opening the demo's store and serving the shop (in the foreground or in a thread).

The demo directory holds the embedded store (``store/``) and, for the demo's convenience only,
its master key (``master.key``, mode 600) unless ``$PERSONAKIT_MASTER_KEY`` is set: a real shop
keeps the key away from the data (``SECURITY.md``). The operator page's password is
``$PERSONAKIT_DEMO_OPERATOR_PASSWORD``, else a random one made at start (``serve`` prints it
once). A :class:`~personakit.demo.Scheduler` runs the journeys (and sends their e-mail when an
SMTP server is given) while the shop is up.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from attrs import frozen
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from personakit import Clock, LocalKeyProvider, Personakit, generate_master_key
from personakit.demo._scheduler import DEFAULT_INTERVAL, Scheduler
from personakit.journeys.smtp import SmtpSender
from personakit_demo._app import create_app

__all__ = [
    "DEFAULT_DIR",
    "PASSWORD_ENV",
    "RunningShop",
    "open_demo_kit",
    "operator_password",
    "running_shop",
    "serve",
]

#: Where ``personakit demo`` keeps its store unless ``--dir`` says otherwise.
DEFAULT_DIR: Final = ".personakit-demo"
_KEY_FILE: Final = "master.key"
_UNSUBSCRIBE: Final = "/privacy/unsubscribe?token="
#: The environment variable that sets the operator page's password.
PASSWORD_ENV: Final = "PERSONAKIT_DEMO_OPERATOR_PASSWORD"  # noqa: S105 (a variable name)


def operator_password() -> str:
    """``$PERSONAKIT_DEMO_OPERATOR_PASSWORD``, else a random password for this run."""
    given = os.environ.get(PASSWORD_ENV, "")
    return given if len(given) >= 8 else secrets.token_urlsafe(12)  # noqa: PLR2004


def open_demo_kit(directory: Path, *, clock: Clock | None = None) -> Personakit:
    """Open (creating on first start) the demo's store in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = os.environ.get("PERSONAKIT_MASTER_KEY")
    if not key:
        path = directory / _KEY_FILE
        if not path.exists():
            # O_EXCL and mode 600: never overwrite a key, never make it readable to others.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(generate_master_key() + "\n")
        key = path.read_text(encoding="ascii").strip()
    return Personakit.open(directory / "store", keys=LocalKeyProvider(key), clock=clock)


class _QuietHandler(WSGIRequestHandler):
    """No access log for the tour's and tests' server (``serve`` keeps werkzeug's)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing."""


@frozen
class RunningShop:
    """A shop served in a background thread: its base URL, kit, scheduler and password."""

    url: str
    kit: Personakit
    server: BaseWSGIServer
    scheduler: Scheduler
    operator_password: str


@contextmanager
def running_shop(
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
    interval: float = DEFAULT_INTERVAL,
    smtp: SmtpSender | None = None,
    password: str | None = None,
) -> Iterator[RunningShop]:
    """Serve the shop in a thread (``port=0``: a free port) until the block ends.

    ``clock`` (tests: a FixedClock), ``interval`` (seconds between scheduler runs) and
    ``smtp`` (deliver the journeys' e-mail) configure the scheduler; ``password`` the
    operator page (default: :func:`operator_password`).
    """
    kit = open_demo_kit(directory, clock=clock)
    secret = password or operator_password()
    try:
        app = create_app(kit, directory, operator_password=secret)
        server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="personakit-demo", daemon=True)
        scheduler = Scheduler(kit, interval=interval, sender=smtp)
        url = f"http://{host}:{server.server_port}"
        kit.journeys.outbox.unsubscribe_url = f"{url}{_UNSUBSCRIBE}"
        thread.start()
        scheduler.start()
        try:
            yield RunningShop(f"http://{host}:{server.server_port}", kit, server, scheduler, secret)
        finally:
            scheduler.stop()
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
    finally:
        kit.close()


def serve(
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    interval: float = DEFAULT_INTERVAL,
    smtp: SmtpSender | None = None,
) -> None:
    """Serve the shop in the foreground until interrupted, printing its address first."""
    kit = open_demo_kit(directory)
    secret = operator_password()
    scheduler = Scheduler(kit, interval=interval, sender=smtp)
    try:
        app = create_app(kit, directory, operator_password=secret)
        server = make_server(host, port, app, threaded=True)
        # The e-mails' one-click unsubscribe link: the privacy center's endpoint on this shop.
        kit.journeys.outbox.unsubscribe_url = f"http://{host}:{server.server_port}{_UNSUBSCRIBE}"
        print(f"personakit demo shop: http://{host}:{server.server_port}/  (Ctrl-C stops it)")  # noqa: T201
        print(f"store: {directory / 'store'}", flush=True)  # noqa: T201
        if not os.environ.get(PASSWORD_ENV):
            # Printed once, to the terminal that started the demo; never logged or stored.
            print(f"operator page password (this run only): {secret}", flush=True)  # noqa: T201
        scheduler.start()
        try:
            server.serve_forever()
        finally:
            scheduler.stop()
            server.server_close()
    finally:
        kit.close()
