"""Predictive customer analytics: churn risk, expected purchases and lifetime value.

placeholder
"""

from personakit.predictive._params import InsufficientData

__all__ = ["InsufficientData"]
