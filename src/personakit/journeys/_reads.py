"""What a journey definition reads, for the minimization report (``Journeys.reads``)."""

from __future__ import annotations

from personakit.journeys._definition import Journey
from personakit.journeys._engine import ADDRESS_TRAITS
from personakit.journeys._templates import CONTEXT_KEYS

__all__ = ["journey_reads"]


def journey_reads(journey: Journey) -> dict[str, list[str]]:
    """The fields ``journey`` reads, in the shape ``kit.reports.add_reads`` takes.

    ``traits.<name>`` for date triggers, step conditions, each channel's address, the
    ``timezone`` trait (quiet hours and send times are local) and ``first_name`` (every
    payload greets by it); ``events.<kind>`` and ``events.<kind>.<property>`` for event
    triggers, their conditions, the context properties a payload copies and exit events;
    ``events.*`` for an inactivity trigger on no one kind (the time of every event);
    ``segments.<name>`` for a segment trigger; ``events.purchase`` always (a purchase after
    entering is a conversion).
    The categories are left to the manifest (the report maps each field to its category).
    """
    trigger = journey.trigger
    fields = {"events.purchase", "traits.timezone", "traits.first_name"}
    if trigger.event is not None:
        fields.add(f"events.{trigger.event}")
        fields.update(f"events.{trigger.event}.{c.field}" for c in trigger.conditions)
        if trigger.type == "event":  # the entering event's context travels in the payload
            fields.update(f"events.{trigger.event}.{key}" for key in CONTEXT_KEYS)
    if trigger.segment is not None:
        fields.add(f"segments.{trigger.segment}")
    if trigger.trait is not None:
        fields.add(f"traits.{trigger.trait}")
    if trigger.type == "inactivity" and trigger.event is None:
        fields.add("events.*")
    for step in journey.steps:
        fields.update(f"traits.{c.field}" for c in step.conditions)
    fields.update(f"events.{kind}" for kind in journey.exit)
    fields.update(f"traits.{ADDRESS_TRAITS[channel]}" for channel in journey.channels)
    return {"fields": sorted(fields), "categories": []}
