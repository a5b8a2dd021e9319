"""The built-in message templates and the six built-in journeys ready to enable.

A template names what its payload carries; the host renders it (personakit decides who gets
what, when and on which channel, the host sends). The payload builder personalizes it from the
subject's traits, the trigger's context and, for ``post_purchase``, an optional
recommendations provider (the kit passes ``kit.recommend`` when that capability is present;
this package never imports it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from attrs import frozen

__all__ = [
    "BUILTIN_JOURNEYS",
    "CONTEXT_KEYS",
    "TEMPLATES",
    "RecommendationsProvider",
    "Template",
    "build_payload",
]

#: ``provider(subject, items) -> [{"item": …, "reason": …}, …]``: "goes well with" items.
RecommendationsProvider = Callable[[str, Sequence[str]], Sequence[Mapping[str, Any]]]

#: Trigger event properties kept (sealed) in the journey state for the payload.
CONTEXT_KEYS: Final = ("item", "items", "order_id", "category")
_MAX_RECOMMENDATIONS: Final = 4


@frozen(kw_only=True)
class Template:
    """A message template: its id, a default subject line and whether it recommends items."""

    id: str
    subject: str
    recommends: bool = False


TEMPLATES: Final[Mapping[str, Template]] = {
    t.id: t
    for t in (
        Template(id="welcome", subject="Welcome"),
        Template(id="birthday", subject="Happy birthday"),
        Template(id="cart_abandonment", subject="You left something in your cart"),
        Template(id="browse_abandonment", subject="Still thinking about it?"),
        Template(id="post_purchase", subject="Thank you for your order", recommends=True),
        Template(id="win_back", subject="We miss you"),
    )
}


def build_payload(
    template: Template,
    *,
    subject: str,
    step_payload: Mapping[str, Any],
    traits: Mapping[str, Any],
    context: Mapping[str, Any],
    recommend: RecommendationsProvider | None,
) -> dict[str, Any]:
    """The personalized payload of one action (sealed in the outbox with it)."""
    payload: dict[str, Any] = {"subject_line": template.subject, **dict(step_payload)}
    first = traits.get("first_name")
    if isinstance(first, str):
        payload["first_name"] = first
    if context:
        payload["context"] = dict(context)
    if template.recommends and recommend is not None:
        items = _items(context)
        try:
            found = list(recommend(subject, items))[:_MAX_RECOMMENDATIONS]
        except Exception:  # noqa: BLE001 (a failing provider must not stop the message)
            found = []
        payload["recommendations"] = [
            {"item": str(r.get("item")), "reason": str(r.get("reason", ""))}
            for r in found
            if isinstance(r, Mapping)
        ]
    return payload


def _items(context: Mapping[str, Any]) -> list[str]:
    items = context.get("items")
    if isinstance(items, list):
        return [str(i.get("item") if isinstance(i, Mapping) else i) for i in items][:20]
    product = context.get("item")
    return [str(product)] if product is not None else []


def _journey(**doc: Any) -> dict[str, Any]:
    return doc


#: The six built-in journeys, as JSON documents (``Journeys.enable_builtin`` loads them).
BUILTIN_JOURNEYS: Final[Mapping[str, Mapping[str, Any]]] = {
    "welcome": _journey(
        id="welcome",
        description="A welcome message the first time a customer is seen",
        trigger={"type": "event"},
        steps=[{"id": "welcome", "template": "welcome"}],
        channels=["email"],
        reentry={"mode": "never"},
    ),
    "birthday": _journey(
        id="birthday",
        description="A birthday treat at 9:00 local time on the day",
        trigger={"type": "date", "trait": "birthday", "hour": 9},
        steps=[{"id": "treat", "template": "birthday", "payload": {"offer": "BIRTHDAY10"}}],
        channels=["email", "sms"],
        reentry={"mode": "after_days", "days": 300},
    ),
    "cart_abandonment": _journey(
        id="cart_abandonment",
        description="Remind a cart left without a purchase, 4 hours then a day later",
        trigger={"type": "event", "event": "add_to_cart"},
        steps=[
            {"id": "reminder", "template": "cart_abandonment", "delay": {"hours": 4}},
            {"id": "second", "template": "cart_abandonment", "delay": {"days": 1}},
        ],
        channels=["email", "push", "sms"],
        exit=["purchase"],
        reentry={"mode": "after_exit"},
    ),
    "browse_abandonment": _journey(
        id="browse_abandonment",
        description="A nudge a day after viewing a product without adding it to the cart",
        trigger={"type": "event", "event": "product_view"},
        steps=[{"id": "nudge", "template": "browse_abandonment", "delay": {"days": 1}}],
        channels=["email", "push"],
        exit=["add_to_cart", "purchase"],
        reentry={"mode": "after_days", "days": 7},
    ),
    "post_purchase": _journey(
        id="post_purchase",
        description="Thank you two days after a purchase, with what goes well with it",
        trigger={"type": "event", "event": "purchase"},
        steps=[{"id": "thanks", "template": "post_purchase", "delay": {"days": 2}}],
        channels=["email"],
        reentry={"mode": "after_exit"},
    ),
    "win_back": _journey(
        id="win_back",
        description="Win back a customer who has not bought for 90 days",
        trigger={"type": "inactivity", "event": "purchase", "days": 90},
        steps=[{"id": "miss_you", "template": "win_back", "payload": {"offer": "COMEBACK15"}}],
        channels=["email", "sms"],
        exit=["purchase"],
        reentry={"mode": "after_exit"},
    ),
}
