"""Channel responsiveness: counts kept per channel, smoothed rates, a preference, withdrawal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from _predictive_shop import shop_lines
from personakit import testing

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _consent(ident: str, purpose: str) -> dict[str, Any]:
    return {
        "kind": "consent",
        "subject": ident,
        "purpose": purpose,
        "status": "given",
        "notice": "marketing_notice" if purpose.startswith("marketing") else "privacy_notice",
        "notice_version": "2026-01",
        "source": "web",
        "at": "2025-01-01T08:00:00Z",
    }


def _engagement(ident: str, name: str, channel: str, at: datetime) -> dict[str, Any]:
    return {
        "kind": "event",
        "subject": ident,
        "name": name,
        "channel": channel,
        "at": at.isoformat().replace("+00:00", "Z"),
        "properties": {"campaign": "winter"},
    }


def _lines() -> list[dict[str, Any]]:
    """Even customers click an e-mail the day before each purchase; everyone opens pushes."""
    base = shop_lines(60, seed=5)
    extra: list[dict[str, Any]] = []
    for line in base:
        ident = line["subject"]
        if line["kind"] == "consent":
            extra += [_consent(ident, "marketing.email"), _consent(ident, "marketing.push")]
        elif int(ident.split("p")[-1]) % 2 == 0:
            at = datetime.fromisoformat(line["at"])
            extra.append(_engagement(ident, "email_click", "email", at - timedelta(days=1)))
    for number in range(60):
        for week in range(4):
            at = datetime(2025, 2, 3, tzinfo=UTC) + timedelta(weeks=week * 9, days=number % 5)
            extra.append(_engagement(f"customer:p{number}", "push_open", "push", at))
    # each customer's events in time order, consent first
    return sorted(base + extra, key=lambda line: (line["kind"] != "consent", line["at"]))


def test_rates_are_smoothed_and_the_preference_follows_conversions() -> None:
    kit, _ = testing.memory_kit()
    with kit:
        summary = kit.ingest(_lines())
        assert summary.rejected == 0, summary.errors[:3]
        kit.predict.fit(now=NOW)
        shop = kit.predict.channels.shop_rates()
        assert set(shop) == {"email", "push"}
        assert shop["email"] > shop["push"]
        clicker = kit.identity.lookup("customer:p0")
        assert clicker is not None
        rates = kit.predict.channels.rates(clicker)
        assert 0 < rates["push"] < rates["email"] < 1
        assert kit.predict.channels.preferred(clicker) == "email"
        assert kit.registries.segments.member("predictive.prefers_email", clicker, NOW)
        section = kit.rights.export(clicker)["derived_data"]["channel_responsiveness"]
        assert section["preferred_channel"] == "email"

        kit.consent.withdraw(clicker, "marketing.email", source="web")
        counts = kit.predict.channels.counts(clicker)
        assert counts is not None
        assert set(counts.channels) == {"push"}  # the e-mail counts went with the consent
        assert kit.predict.channels.preferred(clicker) == "push"
        kit.consent.withdraw(clicker, "marketing.push", source="web")
        assert kit.predict.channels.counts(clicker) is None
        assert kit.predict.channels.preferred(clicker) is None
