"""Tracking tokens: anything but a genuine one changes nothing, and a click only goes home."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _journey_kit import customer
from personakit import Personakit, testing
from personakit._clock import FixedClock
from personakit.journeys import InvalidToken
from personakit.journeys._tracking import PIXEL, collect_links, replace_links

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LINKS = {"url": "https://shop.example/cart", "help_url": "https://shop.example/help"}
_KIT: list[tuple[Personakit, str]] = []


def _kit() -> tuple[Personakit, str]:
    """One kit with one sent, tracked action (built once: the properties only read it)."""
    if not _KIT:
        kit, _ = testing.memory_kit(clock=FixedClock(START))
        kit.journeys.outbox.tracking_url = "https://shop.example/pk/"
        kit.journeys.load(
            [
                {
                    "id": "cart",
                    "trigger": {"type": "event", "event": "add_to_cart"},
                    "steps": [{"id": "a", "template": "cart_abandonment", "payload": LINKS}],
                }
            ]
        )
        customer(kit, "tom")
        kit.track("customer:tom", "add_to_cart", channel="web", properties={"item": "p"})
        kit.journeys.run_due()
        (action,) = kit.journeys.pending()
        kit.journeys.mark_sent(action.id)
        _KIT.append((kit, next(iter(action.links.values())).split("t=")[1]))
    return _KIT[0]


def _snapshot(kit: Personakit) -> dict[str, bytes]:
    return dict(kit.store.scan(""))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    position=st.integers(min_value=0, max_value=200),
    replacement=st.characters(codec="ascii"),
    text=st.text(max_size=200),
)
def test_a_forged_or_altered_token_is_the_one_opaque_error_and_changes_nothing(
    position: int, replacement: str, text: str
) -> None:
    kit, genuine = _kit()
    before = _snapshot(kit)
    body = base64.urlsafe_b64decode(genuine.split(".")[0] + "==")
    assert len(body) == 19  # version, action id, link, expiry: nothing about the person
    altered = genuine[: position % len(genuine)] + replacement + genuine[position % len(genuine) :]
    for token in (altered, text, genuine[:-1] + ("A" if genuine[-1] != "A" else "B")):
        for call in (kit.journeys.opened, kit.journeys.clicked):
            with pytest.raises(InvalidToken, match=r"^invalid or expired token"):
                call(token)
    assert _snapshot(kit) == before


@given(
    payload=st.dictionaries(
        st.sampled_from(["url", "shop_url", "title", "help_url", "items"]),
        st.one_of(
            st.sampled_from(["https://a.example/x", "http://b.example/", "javascript:alert(1)"]),
            st.lists(st.fixed_dictionaries({"url": st.just("https://c.example/r")}), max_size=2),
            st.text(max_size=10),
        ),
    )
)
def test_links_are_only_http_urls_of_link_keys_and_every_one_is_replaced(
    payload: dict[str, object],
) -> None:
    links = collect_links(payload)
    assert len(links) < PIXEL
    assert all(link.startswith(("https://", "http://")) for link in links)
    tracked = replace_links(payload, {link: f"T{i}" for i, link in enumerate(links)})
    assert not set(collect_links(tracked)) & set(links)
    assert collect_links(payload) == links  # a fixed order: a token's index finds it again
