"""The demo bakery: a small shop on the Flask adapter that knows its regulars and respects choices.

``personakit demo [--port P] [--dir D]`` serves it; ``personakit demo --check`` runs a scripted
tour over HTTP (:func:`run_tour`). Needs Flask (``pip install 'personakit[demo]'``): this
package imports it. See ``docs/demo.md``.
"""

from personakit.demo._app import create_app
from personakit.demo._check import TourFailed, run_tour
from personakit.demo._data import CATALOGUE, Product, history_lines
from personakit.demo._server import (
    DEFAULT_DIR,
    RunningShop,
    open_demo_kit,
    running_shop,
    serve,
)
from personakit.demo._shop import DP_CAP_EPSILON, NOT_ENABLED, EventFacts, Shop

__all__ = [
    "CATALOGUE",
    "DEFAULT_DIR",
    "DP_CAP_EPSILON",
    "NOT_ENABLED",
    "EventFacts",
    "Product",
    "RunningShop",
    "Shop",
    "TourFailed",
    "create_app",
    "history_lines",
    "open_demo_kit",
    "run_tour",
    "running_shop",
    "serve",
]
