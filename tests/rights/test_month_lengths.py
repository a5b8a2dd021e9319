"""Deadline month arithmetic agrees with the calendar module it no longer imports."""

from __future__ import annotations

import calendar

from hypothesis import given, settings
from hypothesis import strategies as st

from personakit.rights._deadlines import _days_in_month


@settings(max_examples=300, deadline=None)
@given(year=st.integers(min_value=1, max_value=9999), month=st.integers(min_value=1, max_value=12))
def test_days_in_month_is_calendars(year: int, month: int) -> None:
    """Property: every month of every representable year has calendar.monthrange's length."""
    assert _days_in_month(year, month) == calendar.monthrange(year, month)[1]


def test_leap_februaries_and_the_last_december() -> None:
    """The boundaries: century and 400-year leap rules, and December of year 9999."""
    assert [_days_in_month(y, 2) for y in (1900, 2000, 2024, 2026)] == [28, 29, 29, 28]
    assert _days_in_month(9999, 12) == 31
