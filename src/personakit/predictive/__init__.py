"""Predictive customer analytics: churn risk, expected purchases and lifetime value.

``kit.predict`` is the :class:`Predictive` service. It keeps each customer's purchase
statistics (:class:`PurchaseStats`) through the workflows hooks, fits BG/NBD (Fader, Hardie and
Lee 2005) and Gamma-Gamma by maximum likelihood over the customers with a basis for
``personalization``, scores one customer in O(1) with an explanation in words
(:class:`Prediction`), and offers the segments ``predictive.at_risk``,
``predictive.likely_to_buy_soon`` and ``predictive.high_value`` and the dataset
``predictive.scores``. Fitting needs numpy and scipy (``personakit[predict]``), imported only
when a model is fitted; :mod:`personakit.predictive.replication` reproduces the published
CDNOW results.
"""

from personakit.predictive._attribution import (
    MODELS,
    AttributionModel,
    ChannelCredit,
    Path,
    Touch,
    attribute,
    smoothed_rates,
    suppress_small_cells,
)
from personakit.predictive._options import ScoreOptions
from personakit.predictive._params import (
    BgNbdParams,
    GammaGammaParams,
    InsufficientData,
    Prediction,
)
from personakit.predictive._service import FitSummary, Predictive
from personakit.predictive._stats import PurchaseStats
from personakit.predictive._summary import CustomerSummary, Purchase, summarize

__all__ = [
    "MODELS",
    "AttributionModel",
    "BgNbdParams",
    "ChannelCredit",
    "CustomerSummary",
    "FitSummary",
    "GammaGammaParams",
    "InsufficientData",
    "Path",
    "Prediction",
    "Predictive",
    "Purchase",
    "PurchaseStats",
    "ScoreOptions",
    "Touch",
    "attribute",
    "smoothed_rates",
    "summarize",
    "suppress_small_cells",
]
