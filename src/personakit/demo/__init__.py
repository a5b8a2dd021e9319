"""The demo bakery's framework-free parts: its data, its logic and the ``--check`` tour.

The Flask app that serves it is :mod:`personakit_demo` (next to the Flask adapter: the core
imports no web framework). ``personakit demo [--port P] [--dir D]`` serves it; ``personakit
demo --check`` runs :func:`run_tour` over HTTP. See ``docs/demo.md``.
"""

from personakit.demo._check import Client, TourFailed, run_tour
from personakit.demo._data import (
    CATALOGUE,
    MARKETING_NOTICE,
    MARKETING_TEXT,
    NOTICE,
    SEED,
    Product,
    history_lines,
    product,
)
from personakit.demo._scheduler import DEFAULT_INTERVAL, Scheduler, Tick
from personakit.demo._shop import DP_CAP_EPSILON, NOT_ENABLED, RECENT_VIEWS, Shop, choices_body

__all__ = [
    "CATALOGUE",
    "DEFAULT_INTERVAL",
    "DP_CAP_EPSILON",
    "MARKETING_NOTICE",
    "MARKETING_TEXT",
    "NOTICE",
    "NOT_ENABLED",
    "RECENT_VIEWS",
    "SEED",
    "Client",
    "Product",
    "Scheduler",
    "Shop",
    "Tick",
    "TourFailed",
    "choices_body",
    "history_lines",
    "product",
    "run_tour",
]
