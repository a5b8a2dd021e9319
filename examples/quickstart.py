"""An end-to-end run of personakit for a small bakery, on the embedded store.

    python examples/quickstart.py [STORE_DIR]

A visitor browses anonymously, consents, buys, logs in (the histories merge), then asks for a
copy of their data and for erasure. Along the way it checks what a compliance team would:
nothing personal on disk in clear, the audit chain verifies against a checkpoint, and after
erasure the customer is unreadable and absent from every file. Uses a throw-away master key
unless PERSONAKIT_MASTER_KEY is set.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from personakit import LocalKeyProvider, Personakit, SubjectNotFound, generate_master_key

NOTICE = {"notice": "privacy_notice", "notice_version": "2026-01"}
EMAIL = "alice.baker@example.com"


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Every file under root whose raw bytes contain needle (SQLite WAL included)."""
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def step(text: str) -> None:
    """Print a step of the story."""
    print(f"- {text}")


def main() -> int:
    """Run the story; exit 0 when every check holds."""
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bakery-"))
    key = os.environ.get("PERSONAKIT_MASTER_KEY") or generate_master_key()
    checks: dict[str, bool] = {}
    print(f"store: {root}")
    with Personakit.open(root, keys=LocalKeyProvider(key)) as kit:
        seen = kit.track(
            "anon:cookie-7f2", "product_view", channel="web", properties={"item": "croissant"}
        )
        step(f"anonymous product view without consent: {seen.outcome}")
        visitor = kit.identity.resolve("anon:cookie-7f2", create=True)
        kit.consent.grant(visitor, "personalization", source="web", **NOTICE)
        kit.track(
            "anon:cookie-7f2", "product_view", channel="web", properties={"item": "croissant"}
        )
        bought = kit.track(
            "anon:cookie-7f2",
            "purchase",
            channel="web",
            properties={"item": "croissant", "value_cents": 180},
        )
        step(f"after consent, a purchase is kept for: {', '.join(bought.purposes)}")

        linked = kit.link("anon:cookie-7f2", "customer:1042")
        customer = linked.subject
        kit.traits.update(customer, {"email": EMAIL, "first_name": "Alice", "city": "Lyon"})
        summary = kit.ingest(
            [
                {
                    "kind": "event",
                    "subject": "customer:1042",
                    "name": "store_visit",
                    "channel": "store",
                    "at": "2026-01-03T09:30:00Z",
                    "properties": {"store_id": "lyon-1"},
                },
                {
                    "kind": "event",
                    "subject": "customer:1042",
                    "name": "purchase",
                    "channel": "pos",
                    "at": "2026-01-03T09:35:00Z",
                    "properties": {"item": "sourdough", "value_cents": 450},
                },
            ]
        )
        accepted = summary.to_json()["accepted"]
        step(f"login linked the visitor ({linked.outcome}); store history: {accepted} lines")
        step(f"events on file: {[e.kind for e in kit.events.read(customer)]}")
        checks["consent guard"] = kit.consent.allowed(customer, "personalization")

        checks["no e-mail in clear on disk"] = files_containing(root, EMAIL.encode()) == []
        checkpoint = kit.audit.checkpoint()

        export = kit.rights.export(customer)
        counts = (
            len(export["events"]),
            len(export["consent"]["history"]),
            sorted(export["traits"]),
        )
        step("access request: export with {} events, {} consent records, traits {}".format(*counts))

        kit.consent.withdraw(customer, "personalization", source="web")
        left = [e.kind for e in kit.events.read(customer)]
        step(f"withdrawal: what was kept only for personalization is gone -> {left}")

        receipt = kit.rights.erase(customer, reason="customer request")
        shown = receipt.to_json()
        step(f"erasure receipt: scrub {shown['scrub']}, tombstone {shown['tombstone'][:12]}…")
        try:
            kit.identity.resolve("customer:1042")
            checks["erased customer unresolvable"] = False
        except SubjectNotFound:
            checks["erased customer unresolvable"] = True
        checks["audit chain verifies"] = kit.audit.verify(checkpoint).ok
    checks["e-mail in no file after erasure"] = files_containing(root, EMAIL.encode()) == []
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAILED'}] {name}")
    ok = all(checks.values())
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
