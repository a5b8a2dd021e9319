"""The demo bakery: the same shop ``personakit demo`` serves.

    python examples/bakery/app.py [DIR] [PORT]

The app lives in the installed package (``personakit_demo``, templates included), so that
``personakit demo`` works from any install; this file only starts it. See ``docs/demo.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from personakit_demo import DEFAULT_DIR, serve


def main(directory: str = DEFAULT_DIR, port: str = "8000") -> None:
    """Serve the shop from ``directory`` on ``port`` until Ctrl-C."""
    serve(Path(directory), port=int(port))


if __name__ == "__main__":
    main(*sys.argv[1:3])
