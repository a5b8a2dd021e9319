"""The demo bakery's framework-free parts: its data, its logic and the ``--check`` tour.

The Flask app that serves it is :mod:`personakit_demo` (next to the Flask adapter: the core
imports no web framework). ``personakit demo [--port P] [--dir D]`` serves it; ``personakit
demo --check`` runs :func:`run_tour` over HTTP. See ``docs/demo.md``.
"""

from personakit.demo._check import Client, TourFailed, run_tour
from personakit.demo._data import CATALOGUE, NOTICE, SEED, Product, history_lines, product
from personakit.demo._shop import DP_CAP_EPSILON, NOT_ENABLED, Shop, choices_body

__all__ = [
    "CATALOGUE",
    "DP_CAP_EPSILON",
    "NOTICE",
    "NOT_ENABLED",
    "SEED",
    "Client",
    "Product",
    "Shop",
    "TourFailed",
    "choices_body",
    "history_lines",
    "product",
    "run_tour",
]
