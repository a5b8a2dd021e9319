"""Differentially private analytics on OpenDP, with a persistent, audited privacy-budget ledger.

``kit.analytics`` is the :class:`Analytics` service. Datasets are numpy columns with each
customer's rows bounded (:class:`Dataset`): built in from the store's events (``orders``,
``events``, ``customers``: only subjects with a lawful basis for ``analytics`` now, only events
collected for it) or offered by other capabilities through ``kit.registries.datasets``.
Each release's exact loss (OpenDP's ``map``) is written to the :class:`BudgetLedger` and the
audit log before the answer is returned. OpenDP and numpy are imported only when a query runs.
"""

from personakit.analytics._dataset import Column, Dataset, build_dataset, events_datasets
from personakit.analytics._ledger import BudgetLedger
from personakit.analytics._result import Budget, DPResult, Loss, Privacy
from personakit.analytics._service import PURPOSE, Analytics

__all__ = [
    "PURPOSE",
    "Analytics",
    "Budget",
    "BudgetLedger",
    "Column",
    "DPResult",
    "Dataset",
    "Loss",
    "Privacy",
    "build_dataset",
    "events_datasets",
]
