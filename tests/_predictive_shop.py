"""A shop whose customers buy as BG/NBD says, for the kit tests of kit.predict."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
END = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def shop_lines(
    customers: int, seed: int = 7, consent_at: str = "2025-01-01T08:00:00Z"
) -> list[dict[str, Any]]:
    """Consent for each customer, then purchases: gamma rates, beta drop-out, 52 weeks.

    Order values are gamma with a mean of the customer's own, itself inverse-gamma across
    customers: the Gamma-Gamma model's assumptions, so it can be fitted.
    """
    rng = random.Random(seed)
    lines: list[dict[str, Any]] = []
    for number in range(customers):
        ident = f"customer:p{number}"
        lines.append(
            {
                "kind": "consent",
                "subject": ident,
                "purpose": "personalization",
                "status": "given",
                "notice": "privacy_notice",
                "notice_version": "2026-01",
                "source": "web",
                "at": consent_at,
            }
        )
        rate = rng.gammavariate(0.8, 1 / 4.0)  # purchases per week
        drop = rng.betavariate(0.8, 2.5)
        spend_scale = 6000 / rng.gammavariate(4.0, 1.0)  # each customer's own mean order value
        at = START + timedelta(weeks=rng.uniform(0, 12))
        while at < END:
            value = round(rng.gammavariate(6, spend_scale / 6))
            lines.append(
                {
                    "kind": "event",
                    "subject": ident,
                    "name": "purchase",
                    "channel": "web",
                    "at": at.isoformat().replace("+00:00", "Z"),
                    "properties": {"item": "bread", "value_cents": value},
                }
            )
            if rng.random() < drop:
                break
            at += timedelta(weeks=rng.expovariate(rate) if rate > 0 else 1e4)
    return lines
