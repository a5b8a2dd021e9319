"""Benchmark: the consent guard against the same SELECT in plain sqlite3.

``consent_check_us``: median µs of ``kit.consent.allowed(subject, "personalization")`` for a
subject with 10 ledger records, on a DiskStore kit (its data key cached). ``consent_raw_get_us``:
DiskStore's own SELECT of the record the guard reads (the subject's compact consent state)
through a plain ``sqlite3`` connection with DiskStore's pragmas, on a copy of the kit's database,
measured in the same run and interleaved with the guard. ``consent_check_ratio`` = guard over
raw: lower is better.
"""

from __future__ import annotations

import shutil
import statistics
from typing import Any

from _common import BenchContext, median_us
from _shop import connect_plain
from personakit import LocalKeyProvider, Personakit
from personakit.storage._diskcache_compat import DB_NAME, SELECT_VALUE

TARGETS = {"consent_check_ratio": ("<=", 2.0)}

NOTICE: dict[str, Any] = {"notice": "privacy_notice", "notice_version": "2026-01"}


def figures(ctx: BenchContext) -> dict[str, float]:
    """Measure the consent guard and its raw baseline; see the module docstring."""
    ops, batches = (2000, 5) if ctx.quick else (10000, 9)
    with Personakit.open(ctx.workdir / "kit", keys=LocalKeyProvider(ctx.master_key)) as kit:
        subject = kit.identity.resolve("customer:bench-1", create=True)
        consent = kit.consent
        # Ten ledger records over several purposes, the last one a grant of personalization.
        consent.grant(subject, ["analytics", "personalization"], source="web", **NOTICE)
        consent.withdraw(subject, "personalization", source="web")
        consent.refuse(subject, "analytics", source="checkout", **NOTICE)
        consent.grant(subject, "analytics", source="web", **NOTICE)
        consent.withdraw(subject, "analytics", source="email_link")
        consent.refuse(subject, "sale_sharing", source="web", **NOTICE)
        consent.grant(
            subject,
            "marketing.email",
            source="checkout",
            notice="marketing_notice",
            notice_version="2026-01",
        )
        consent.record_gpc(subject, "1")  # already refused: records nothing
        consent.grant(subject, "personalization", source="web", **NOTICE)
        consent.grant(subject, "analytics", source="web", **NOTICE)
        records = len(consent.ledger(subject))
        if records != 10 or not consent.allowed(subject, "personalization"):
            msg = f"benchmark setup is wrong: {records} records"
            raise RuntimeError(msg)
        kit.store.scrub()
        copy = ctx.workdir / "raw.db"
        shutil.copyfile(ctx.workdir / "kit" / "data" / DB_NAME, copy)
        con = connect_plain(copy)
        prefix = f"s/{subject}/consent-state/personalization"
        (key,) = con.execute(
            "SELECT key FROM Cache WHERE key >= ? AND key < ?", (prefix, prefix + "\uffff")
        ).fetchone()
        raw, check = [], []
        for _ in range(3):  # interleaved, so drift on a noisy machine hits both alike
            raw.append(
                median_us(
                    lambda _: con.execute(SELECT_VALUE, (key,)).fetchall(), ops=ops, batches=batches
                )
            )
            check.append(
                median_us(
                    lambda _: consent.allowed(subject, "personalization"), ops=ops, batches=batches
                )
            )
    con.close()
    raw_us, check_us = statistics.median(raw), statistics.median(check)
    return {
        "consent_raw_get_us": raw_us,
        "consent_check_us": check_us,
        "consent_check_ratio": check_us / raw_us,
    }
