"""Omnichannel journeys: triggers, timed steps, channel choice, contact policy, an outbox.

``kit.journeys`` is the :class:`Journeys` service. Journeys are JSON documents validated by
``journey.schema.json`` and checked for meaning (:func:`parse_journey`); six built-in ones are
ready to enable (:data:`BUILTIN_JOURNEYS`). Triggers fire in the transaction that accepts the
events; timed steps wait in a due-time index that :meth:`Journeys.run_due` reads in time order
and turns into sealed outbox actions exactly once. The host drains the outbox
(:meth:`Journeys.pending`, :meth:`Journeys.mark_sent`, :meth:`Journeys.mark_failed`) or uses
the reference :class:`~personakit.journeys.smtp.SmtpSender`. See ``docs/journeys.md``.
"""

from personakit.journeys._definition import CHANNELS, Condition, Journey, Step, Trigger
from personakit.journeys._model import Action, Redeemed, RunSummary
from personakit.journeys._policy import Cap, ContactPolicy
from personakit.journeys._service import Journeys
from personakit.journeys._templates import BUILTIN_JOURNEYS, TEMPLATES, Template
from personakit.journeys._tokens import InvalidToken

__all__ = [
    "BUILTIN_JOURNEYS",
    "CHANNELS",
    "TEMPLATES",
    "Action",
    "Cap",
    "Condition",
    "ContactPolicy",
    "InvalidToken",
    "Journey",
    "Journeys",
    "Redeemed",
    "RunSummary",
    "Step",
    "Template",
    "Trigger",
]
