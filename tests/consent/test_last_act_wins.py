"""Property: whatever mix of decisions and signals arrives, each purpose ends as last chosen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from personakit import FixedClock, Personakit, testing

PRIVACY = {"notice": "privacy_notice", "notice_version": "2026-01"}
MAPPED = {
    "personalization": frozenset({5, 6}),
    "analytics": frozenset({9, 10}),
    "sale_sharing": frozenset({1, 2, 3, 4, 7}),
}
MODE = {  # Consent Mode types -> the purposes they need (default manifest)
    "ad_storage": ("sale_sharing",),
    "ad_user_data": ("sale_sharing",),
    "ad_personalization": ("sale_sharing",),
    "analytics_storage": ("analytics",),
    "personalization_storage": ("personalization",),
}

purposes = st.sampled_from(sorted(MAPPED))
explicit = st.tuples(st.sampled_from(["grant", "refuse", "withdraw"]), purposes, st.booleans())
banner = st.tuples(
    st.just("tcf"), st.frozensets(st.integers(1, 10)), st.sampled_from(["midnight", "exact"])
)
resend = st.tuples(st.just("resend"), st.integers(0, 20), st.none())
gpc = st.tuples(st.just("gpc"), st.none(), st.none())
steps = st.lists(
    st.tuples(st.one_of(explicit, banner, resend, gpc), st.integers(1, 8 * 3600)),
    min_size=1,
    max_size=10,
)


def _date(now: datetime, kind: str) -> datetime:
    if kind == "midnight":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    return now.replace(microsecond=now.microsecond // 100_000 * 100_000)


class Journey:
    """One subject's kit and the reference model: purpose -> allowed, after the last act."""

    def __init__(self, kit: Personakit, clock: FixedClock, make_tc: Callable[..., str]) -> None:
        self.kit, self.clock, self.make_tc = kit, clock, make_tc
        self.subject = kit.identity.resolve("customer:7", create=True)
        self.allowed = dict.fromkeys(MAPPED, False)
        self.confirmed = False  # sale_sharing opt-in confirmed against GPC
        self.sent: list[str] = []

    def explicit(self, kind: str, purpose: str, sure: bool) -> None:
        consent = self.kit.consent
        if kind == "grant":
            sure = sure and purpose == "sale_sharing"
            consent.grant(self.subject, purpose, source="web", gpc_confirmed=sure, **PRIVACY)
            if purpose == "sale_sharing":
                self.confirmed = sure
        elif kind == "refuse":
            consent.refuse(self.subject, purpose, source="web", **PRIVACY)
        else:
            consent.withdraw(self.subject, purpose, source="web")
        self.allowed[purpose] = kind == "grant"

    def banner(self, consents: frozenset[int], dated: str) -> None:
        date = _date(self.clock.now(), dated)
        tc = self.make_tc(consents, date, cmp_version=len(self.sent))
        self.kit.consent.apply_tc_string(self.subject, tc)
        if tc in self.sent:  # the same string again (same choice, same second): no new act
            return
        self.sent.append(tc)
        was_allowed = self.allowed["sale_sharing"]
        for purpose, wanted in MAPPED.items():
            self.allowed[purpose] = wanted <= consents
        if self.allowed["sale_sharing"] and not was_allowed:
            # A banner grant over a current grant records nothing (the purpose is unchanged),
            # so an earlier opt-in confirmed against GPC stays the deciding record.
            self.confirmed = False

    def resend(self, index: int) -> None:
        if self.sent:
            tc = self.sent[index % len(self.sent)]
            assert not self.kit.consent.apply_tc_string(self.subject, tc).changed

    def gpc(self) -> None:
        self.kit.consent.record_gpc(self.subject, "1")
        self.allowed["sale_sharing"] = self.allowed["sale_sharing"] and self.confirmed

    def check(self) -> None:
        for purpose, expected in self.allowed.items():
            assert self.kit.consent.allowed(self.subject, purpose) is expected, purpose
        mode = self.kit.consent.consent_mode(self.subject)
        for mode_type, needs in MODE.items():
            granted = all(self.allowed[p] for p in needs)
            assert mode[mode_type] == ("granted" if granted else "denied"), mode_type


@settings(max_examples=60, deadline=None)
@given(steps=steps)
def test_each_purpose_ends_in_the_state_of_the_last_act(
    steps: list[tuple[tuple[Any, Any, Any], int]], make_tc: Callable[..., str]
) -> None:
    """Explicit decisions, TC strings (new or re-sent) and GPC at increasing times: last act wins.

    Documented exceptions: GPC only opts out (sale_sharing), and never withdraws an opt-in
    the person confirmed against it (``gpc_confirmed``); a re-sent string is no new act.
    """
    kit, clock = testing.memory_kit()
    with kit:
        journey = Journey(kit, clock, make_tc)
        for (kind, arg, extra), wait in steps:
            clock.advance(seconds=wait)
            if kind == "tcf":
                journey.banner(arg, extra)
            elif kind == "resend":
                journey.resend(arg)
            elif kind == "gpc":
                journey.gpc()
            else:
                journey.explicit(kind, arg, extra)
            journey.check()
