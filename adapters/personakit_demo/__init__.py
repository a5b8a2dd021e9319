"""The demo bakery served with Flask on :mod:`personakit_flask` (``personakit demo``).

::

    from personakit_demo import running_shop
    with running_shop(Path("/tmp/bakery")) as shop:   # a free port, in a thread
        print(shop.url)

The shop's logic, data and tour are framework-free, in :mod:`personakit.demo`; this package
holds the Flask app, its templates and static files, and the server. See ``docs/demo.md``.
"""

from __future__ import annotations

try:
    import flask  # noqa: F401 (checked here so the error names the extra)
except ImportError:  # pragma: no cover (exercised by the packaging test with Flask absent)
    raise ImportError("personakit_demo needs Flask: pip install 'personakit[demo]'") from None

from personakit_demo._app import create_app
from personakit_demo._server import (
    DEFAULT_DIR,
    PASSWORD_ENV,
    RunningShop,
    open_demo_kit,
    operator_password,
    running_shop,
    serve,
)

__all__ = [
    "DEFAULT_DIR",
    "PASSWORD_ENV",
    "RunningShop",
    "create_app",
    "open_demo_kit",
    "operator_password",
    "running_shop",
    "serve",
]
