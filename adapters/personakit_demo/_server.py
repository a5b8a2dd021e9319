"""Opening the demo's store and serving the shop (in the foreground or in a thread).

The demo directory holds the embedded store (``store/``) and, for the demo's convenience only,
its master key (``master.key``, mode 600) unless ``$PERSONAKIT_MASTER_KEY`` is set: a real shop
keeps the key away from the data (``SECURITY.md``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from attrs import frozen
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from personakit import LocalKeyProvider, Personakit, generate_master_key
from personakit_demo._app import create_app

__all__ = ["DEFAULT_DIR", "RunningShop", "open_demo_kit", "running_shop", "serve"]

#: Where ``personakit demo`` keeps its store unless ``--dir`` says otherwise.
DEFAULT_DIR: Final = ".personakit-demo"
_KEY_FILE: Final = "master.key"


def open_demo_kit(directory: Path) -> Personakit:
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
    return Personakit.open(directory / "store", keys=LocalKeyProvider(key))


class _QuietHandler(WSGIRequestHandler):
    """No access log for the tour's and tests' server (``serve`` keeps werkzeug's)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing."""


@frozen
class RunningShop:
    """A shop served in a background thread: its base URL and its kit."""

    url: str
    kit: Personakit
    server: BaseWSGIServer


@contextmanager
def running_shop(
    directory: Path, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningShop]:
    """Serve the shop in a thread (``port=0``: a free port) until the block ends."""
    kit = open_demo_kit(directory)
    try:
        app = create_app(kit, directory)
        server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="personakit-demo", daemon=True)
        thread.start()
        try:
            yield RunningShop(f"http://{host}:{server.server_port}", kit, server)
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
    finally:
        kit.close()


def serve(directory: Path, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the shop in the foreground until interrupted, printing its address first."""
    kit = open_demo_kit(directory)
    try:
        server = make_server(host, port, create_app(kit, directory), threaded=True)
        print(f"personakit demo shop: http://{host}:{server.server_port}/  (Ctrl-C stops it)")  # noqa: T201
        print(f"store: {directory / 'store'}", flush=True)  # noqa: T201
        try:
            server.serve_forever()
        finally:
            server.server_close()
    finally:
        kit.close()
