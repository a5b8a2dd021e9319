"""Tests for the GDPR / CCPA data-subject request deadline calculator."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from personakit.exceptions import InvalidInput
from personakit.rights._deadlines import (
    DeadlinePolicy,
    Jurisdiction,
    PeriodUnit,
    RequestKind,
    days_left,
    due_date,
    extended_due_date,
    is_overdue,
    policy,
)

GDPR_KINDS = [kind for kind in RequestKind if kind is not RequestKind.OPT_OUT_SALE]
CCPA_45_DAY_KINDS = [
    RequestKind.ACCESS,
    RequestKind.PORTABILITY,
    RequestKind.ERASURE,
    RequestKind.RECTIFICATION,
]
EXTENDABLE = [(kind, Jurisdiction.GDPR) for kind in GDPR_KINDS] + [
    (kind, Jurisdiction.CCPA) for kind in CCPA_45_DAY_KINDS
]
PACIFIC = timezone(timedelta(hours=-8))
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def at(day: date, hour: int = 12, tz: tzinfo = UTC) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tz)


def end_of(day: date, tz: tzinfo = UTC) -> datetime:
    return datetime.combine(day, time.max, tzinfo=tz)


def business_days_between(start: date, end: date, holidays: frozenset[date]) -> int:
    """Business days in (start, end]."""
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            count += 1
    return count


# Hypothesis strategies.

zones = st.one_of(
    st.just(UTC),
    st.timezones(),
    st.builds(
        timezone,
        st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
    ),
)
received_instants = st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by contract
    max_value=datetime(2200, 12, 31),  # noqa: DTZ001
    timezones=zones,
)


# GDPR: one calendar month, Reg 1182/71 month arithmetic.


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 3, 5), date(2026, 4, 5)),
        (date(2027, 1, 31), date(2027, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),
        (date(2028, 1, 29), date(2028, 2, 29)),
        (date(2027, 1, 29), date(2027, 2, 28)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 31), date(2027, 1, 31)),
        (date(2026, 12, 15), date(2027, 1, 15)),
        (date(2026, 2, 28), date(2026, 3, 28)),
    ],
    ids=str,
)
def test_gdpr_month_arithmetic(received, due):
    """GDPR due date is the same day next month, clamped to that month's last day."""
    assert due_date(RequestKind.ACCESS, Jurisdiction.GDPR, at(received)) == end_of(due)


@pytest.mark.parametrize(
    ("received", "extended"),
    [
        (date(2027, 11, 30), date(2028, 2, 29)),
        (date(2026, 11, 30), date(2027, 2, 28)),
        (date(2027, 1, 31), date(2027, 4, 30)),
        (date(2026, 10, 31), date(2027, 1, 31)),
        (date(2026, 5, 10), date(2026, 8, 10)),
    ],
    ids=str,
)
def test_gdpr_extension_is_three_months_from_receipt(received, extended):
    """The GDPR extension counts three months from receipt, clamping across (leap) years."""
    result = extended_due_date(RequestKind.ERASURE, Jurisdiction.GDPR, at(received))
    assert result == end_of(extended)


def test_gdpr_extension_counts_from_receipt_not_from_due_date():
    """Received 31 Jan: extended to 30 Apr, not 28 Feb + 2 months = 28 Apr."""
    received = at(date(2027, 1, 31))
    assert due_date("access", "gdpr", received).date() == date(2027, 2, 28)
    assert extended_due_date("access", "gdpr", received).date() == date(2027, 4, 30)


@pytest.mark.parametrize("kind", GDPR_KINDS, ids=str)
def test_every_gdpr_kind_gets_one_month(kind):
    """Every GDPR request kind shares the Art 12(3) one-month period."""
    assert due_date(kind, Jurisdiction.GDPR, at(date(2026, 6, 10))) == end_of(date(2026, 7, 10))


def test_uk_gdpr_is_an_alias_of_gdpr():
    """uk_gdpr resolves to the same jurisdiction and gives the same deadlines as gdpr."""
    assert Jurisdiction.UK_GDPR is Jurisdiction.GDPR
    received = at(date(2028, 1, 31))
    assert due_date("erasure", "uk_gdpr", received) == due_date("erasure", "gdpr", received)
    assert policy("access", "uk_gdpr") == policy("access", Jurisdiction.GDPR)


def test_gdpr_deadline_not_moved_off_a_weekend_or_holiday():
    """A GDPR deadline on a Saturday or a given holiday stays put (conservative reading)."""
    saturday = due_date("access", "gdpr", at(date(2026, 1, 7)))
    assert saturday == end_of(date(2026, 2, 7))
    assert saturday.weekday() == 5
    holiday = date(2026, 2, 10)
    assert due_date("access", "gdpr", at(date(2026, 1, 10)), holidays=[holiday]).date() == holiday


# CCPA: 45 / 90 calendar days.


@pytest.mark.parametrize("kind", CCPA_45_DAY_KINDS, ids=str)
def test_ccpa_45_and_90_days_cross_year_end(kind):
    """CCPA know/delete/correct is due 45 days after receipt, 90 when extended, across New Year."""
    received = at(date(2026, 12, 1))
    assert due_date(kind, "ccpa", received) == end_of(date(2027, 1, 15))
    assert extended_due_date(kind, "ccpa", received) == end_of(date(2027, 3, 1))


def test_ccpa_90_days_into_a_leap_february():
    """The 90-day CCPA extension lands on 29 Feb in a leap year."""
    received = at(date(2027, 12, 1))
    assert extended_due_date("erasure", "ccpa", received) == end_of(date(2028, 2, 29))


def test_ccpa_calendar_days_ignore_holidays():
    """Holidays do not lengthen calendar-day periods."""
    received = at(date(2026, 11, 20))
    plain = due_date("access", "ccpa", received)
    assert due_date("access", "ccpa", received, holidays=[date(2026, 11, 26)]) == plain
    assert plain.date() == date(2027, 1, 4)


# CCPA opt-out of sale/sharing: 15 business days, no extension.


def test_opt_out_15_business_days_across_weekends():
    """Received on a Monday, the 15th business day is the Monday three weeks later."""
    received = at(date(2026, 3, 2))
    assert received.weekday() == 0
    assert due_date("opt_out_sale", "ccpa", received) == end_of(date(2026, 3, 23))


def test_opt_out_skips_holidays():
    """Thanksgiving and the day after push the 15th business day out by two days."""
    received = at(date(2026, 11, 20))
    holidays = {date(2026, 11, 26), date(2026, 11, 27)}
    assert due_date("opt_out_sale", "ccpa", received) == end_of(date(2026, 12, 11))
    with_holidays = due_date("opt_out_sale", "ccpa", received, holidays=holidays)
    assert with_holidays == end_of(date(2026, 12, 15))


def test_opt_out_received_on_a_weekend_counts_from_monday():
    """A Saturday receipt makes the following Monday business day 1."""
    assert due_date("opt_out_sale", "ccpa", at(date(2026, 3, 7))).date() == date(2026, 3, 27)


def test_opt_out_holiday_on_a_weekend_changes_nothing():
    """A holiday that falls on a weekend does not cost an extra business day."""
    received = at(date(2026, 3, 2))
    weekend_holiday = due_date("opt_out_sale", "ccpa", received, holidays=[date(2026, 3, 7)])
    assert weekend_holiday == due_date("opt_out_sale", "ccpa", received)


def test_opt_out_has_no_extension():
    """extended_due_date refuses an opt-out of sale/sharing and says why."""
    with pytest.raises(InvalidInput) as caught:
        extended_due_date("opt_out_sale", "ccpa", at(date(2026, 3, 2)))
    (problem,) = caught.value.problems
    assert problem.where == "kind"
    assert "no extension" in problem.what
    assert "§ 7026(f)" in problem.what


# Policies.


def test_gdpr_policy():
    """GDPR policy: one calendar month plus two, citing Art 12(3)."""
    assert policy("erasure", "gdpr") == DeadlinePolicy(
        kind=RequestKind.ERASURE,
        jurisdiction=Jurisdiction.GDPR,
        unit=PeriodUnit.CALENDAR_MONTHS,
        period=1,
        extension=2,
        citation="GDPR Art 12(3)",
    )


def test_ccpa_policies():
    """CCPA policies: 45+45 calendar days (§ 7021); 15 business days, no extension (§ 7026(f))."""
    know = policy(RequestKind.ACCESS, Jurisdiction.CCPA)
    assert (know.unit, know.period, know.extension, know.total) == (
        PeriodUnit.CALENDAR_DAYS,
        45,
        45,
        90,
    )
    assert know.citation == "Cal. Code Regs. tit. 11, § 7021"
    assert know.extendable
    opt_out = policy("opt_out_sale", "ccpa")
    assert (opt_out.unit, opt_out.period, opt_out.extension) == (PeriodUnit.BUSINESS_DAYS, 15, 0)
    assert opt_out.citation == "Cal. Code Regs. tit. 11, § 7026(f)"
    assert not opt_out.extendable


def test_policy_is_frozen():
    """A DeadlinePolicy cannot be mutated."""
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy("access", "gdpr").period = 2  # type: ignore[misc]


def test_string_and_enum_arguments_agree():
    """Plain strings are accepted wherever the enums are."""
    received = at(date(2026, 5, 31))
    assert due_date("rectification", "gdpr", received) == due_date(
        RequestKind.RECTIFICATION, Jurisdiction.GDPR, received
    )


# Time zones.


def test_late_evening_receipt_counts_from_the_local_day():
    """23:30 in UTC-8 on 31 Jan (07:30 UTC on 1 Feb) counts from 31 Jan local."""
    received = datetime(2026, 1, 31, 23, 30, tzinfo=PACIFIC)
    assert received.astimezone(UTC).date() == date(2026, 2, 1)
    gdpr = due_date("access", "gdpr", received)
    assert gdpr == end_of(date(2026, 2, 28), PACIFIC)
    assert gdpr.utcoffset() == timedelta(hours=-8)
    assert due_date("access", "ccpa", received) == end_of(date(2026, 3, 17), PACIFIC)


def test_deadline_is_end_of_day_in_the_receipt_zone():
    """The deadline is 23:59:59.999999 local, with the due day's own DST offset."""
    received = datetime(2026, 2, 20, 9, 0, tzinfo=LOS_ANGELES)
    due = due_date("access", "gdpr", received)
    assert due.tzinfo is LOS_ANGELES
    assert (due.date(), due.time()) == (date(2026, 3, 20), time.max)
    assert received.utcoffset() == timedelta(hours=-8)
    assert due.utcoffset() == timedelta(hours=-7)


# Rejections.


def test_naive_datetime_rejected():
    """A naive received_at is refused with a problem located at received_at."""
    with pytest.raises(InvalidInput) as caught:
        due_date("access", "gdpr", datetime(2026, 1, 1, 12))  # noqa: DTZ001 - naive on purpose
    assert [p.where for p in caught.value.problems] == ["received_at"]
    assert "timezone-aware" in caught.value.problems[0].what


def test_tzinfo_without_offset_counts_as_naive():
    """A tzinfo whose utcoffset() is None does not make a datetime aware."""

    class NoOffset(tzinfo):
        def utcoffset(self, dt):
            return None

    with pytest.raises(InvalidInput):
        due_date("access", "gdpr", datetime(2026, 1, 1, tzinfo=NoOffset()))


def test_unknown_kind_rejected_with_accepted_values():
    """An unknown kind lists the accepted kinds and does not echo the input."""
    with pytest.raises(InvalidInput) as caught:
        due_date("forget_me_now", "gdpr", at(date(2026, 1, 1)))
    (problem,) = caught.value.problems
    assert problem.where == "kind"
    for kind in RequestKind:
        assert kind.value in problem.what
    assert "forget_me_now" not in str(caught.value)


def test_unknown_jurisdiction_rejected_with_accepted_values():
    """An unknown jurisdiction lists gdpr, uk_gdpr and ccpa."""
    with pytest.raises(InvalidInput) as caught:
        policy("access", "lgpd")
    (problem,) = caught.value.problems
    assert problem.where == "jurisdiction"
    assert "gdpr, uk_gdpr, ccpa" in problem.what


def test_every_problem_reported_at_once():
    """Bad kind, jurisdiction, received_at and holiday are all reported together."""
    with pytest.raises(InvalidInput) as caught:
        due_date(
            "nope",
            "nowhere",
            datetime(2026, 1, 1),  # noqa: DTZ001 - naive on purpose
            holidays=[date(2026, 1, 2), datetime(2026, 1, 3, tzinfo=UTC)],
        )
    wheres = [p.where for p in caught.value.problems]
    assert wheres == ["kind", "jurisdiction", "received_at", "holidays[1]"]


def test_non_string_kind_rejected():
    """A kind that is not a string at all is refused, not crashed on."""
    with pytest.raises(InvalidInput):
        policy(3, "gdpr")  # type: ignore[arg-type]


def test_gdpr_opt_out_sale_rejected():
    """opt_out_sale is a CCPA right, not a GDPR request kind."""
    with pytest.raises(InvalidInput) as caught:
        due_date("opt_out_sale", "gdpr", at(date(2026, 1, 1)))
    (problem,) = caught.value.problems
    assert problem.where == "kind"
    assert "not a request kind under gdpr" in problem.what


@pytest.mark.parametrize("kind", [RequestKind.RESTRICTION, RequestKind.OBJECTION], ids=str)
def test_gdpr_only_kinds_rejected_under_ccpa(kind):
    """Restriction and objection have no CCPA period and are refused under ccpa."""
    with pytest.raises(InvalidInput, match="not a request kind under ccpa"):
        policy(kind, "ccpa")


def test_holidays_must_be_a_collection_of_dates():
    """A string is not accepted as a holiday collection."""
    with pytest.raises(InvalidInput) as caught:
        due_date("opt_out_sale", "ccpa", at(date(2026, 1, 1)), holidays="2026-01-02")  # type: ignore[arg-type]
    assert [p.where for p in caught.value.problems] == ["holidays"]


def test_deadline_past_year_9999_rejected():
    """A deadline beyond datetime's range raises InvalidInput, not OverflowError."""
    with pytest.raises(InvalidInput, match="9999"):
        due_date("access", "gdpr", at(date(9999, 12, 15)))
    with pytest.raises(InvalidInput, match="9999"):
        due_date("access", "ccpa", at(date(9999, 12, 15)))
    with pytest.raises(InvalidInput, match="9999"):
        due_date("opt_out_sale", "ccpa", at(date(9999, 12, 15)))


# is_overdue and days_left.


def test_overdue_only_after_the_deadline_instant():
    """Answering at the deadline instant is on time; a microsecond later is overdue."""
    due = due_date("access", "gdpr", at(date(2026, 1, 10)))
    assert not is_overdue(due, due)
    assert not is_overdue(due, due - timedelta(days=3))
    assert is_overdue(due, due + timedelta(microseconds=1))


def test_days_left_counts_calendar_days():
    """days_left is 0 on the due day, positive before it and negative after it."""
    due = end_of(date(2026, 2, 10))
    assert days_left(due, at(date(2026, 2, 10), 0)) == 0
    assert days_left(due, due) == 0
    assert days_left(due, at(date(2026, 2, 9), 23)) == 1
    assert days_left(due, at(date(2026, 1, 10))) == 31
    assert days_left(due, at(date(2026, 2, 11), 0)) == -1
    assert days_left(due, at(date(2026, 3, 12))) == -30


def test_days_left_uses_the_deadline_time_zone():
    """now is converted to the deadline's zone before the dates are compared."""
    due = end_of(date(2026, 2, 10), PACIFIC)
    # 05:00 UTC on 11 Feb is still 21:00 on 10 Feb in UTC-8.
    now = datetime(2026, 2, 11, 5, 0, tzinfo=UTC)
    assert days_left(due, now) == 0
    assert not is_overdue(due, now)


def test_overdue_checks_reject_naive_datetimes():
    """is_overdue and days_left refuse naive datetimes, naming each bad argument."""
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - naive on purpose
    with pytest.raises(InvalidInput) as caught:
        is_overdue(naive, naive)
    assert [p.where for p in caught.value.problems] == ["due", "now"]
    with pytest.raises(InvalidInput):
        days_left(at(date(2026, 1, 1)), naive)


# Properties.


@given(received=received_instants, kind=st.sampled_from(GDPR_KINDS))
def test_gdpr_due_is_28_to_31_days_after_receipt(received, kind):
    """A GDPR deadline is 28-31 calendar days after the local receipt day, never before receipt."""
    due = due_date(kind, "gdpr", received)
    assert 28 <= (due.date() - received.date()).days <= 31
    assert due > received
    assert due.time() == time.max


@given(received=received_instants, pair=st.sampled_from(EXTENDABLE))
def test_extended_never_before_due(received, pair):
    """The extended deadline is never earlier than the original one."""
    kind, jurisdiction = pair
    assert extended_due_date(kind, jurisdiction, received) >= due_date(kind, jurisdiction, received)


@given(received=received_instants, kind=st.sampled_from(CCPA_45_DAY_KINDS))
def test_ccpa_periods_are_exactly_45_and_90_days(received, kind):
    """CCPA calendar deadlines are exactly 45 and 90 days after the local receipt day."""
    assert (due_date(kind, "ccpa", received).date() - received.date()).days == 45
    assert (extended_due_date(kind, "ccpa", received).date() - received.date()).days == 90


@given(
    received=received_instants,
    holiday_offsets=st.frozensets(st.integers(min_value=0, max_value=40), max_size=15),
)
def test_business_day_deadline_avoids_weekends_and_holidays(received, holiday_offsets):
    """The opt-out deadline is a working day exactly 15 business days after receipt."""
    holidays = frozenset(received.date() + timedelta(days=n) for n in holiday_offsets)
    due = due_date("opt_out_sale", "ccpa", received, holidays=holidays).date()
    assert due.weekday() < 5
    assert due not in holidays
    assert business_days_between(received.date(), due, holidays) == 15


@given(
    received=received_instants,
    pair=st.sampled_from([*EXTENDABLE, (RequestKind.OPT_OUT_SALE, Jurisdiction.CCPA)]),
    first=st.timedeltas(min_value=timedelta(days=-200), max_value=timedelta(days=200)),
    step=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=200)),
    now_zone=zones,
)
def test_days_left_is_monotonic_in_now(received, pair, first, step, now_zone):
    """Later 'now' never leaves more days, and days_left < 0 exactly when overdue."""
    kind, jurisdiction = pair
    due = due_date(kind, jurisdiction, received)
    # Step in UTC: wall-clock arithmetic in a DST zone is not monotonic in real time.
    earlier = (received.astimezone(UTC) + first).astimezone(now_zone)
    later = (received.astimezone(UTC) + first + step).astimezone(now_zone)
    assert days_left(due, later) <= days_left(due, earlier)
    for now in (earlier, later):
        assert (days_left(due, now) < 0) == is_overdue(due, now)


def test_opt_out_skips_holidays_of_a_calendar_built_without_years():
    """A ``holidays`` calendar built without ``years=`` is asked day by day, not iterated empty."""
    import holidays  # noqa: PLC0415  (a test extra: imported where it is used)

    california = holidays.US(subdiv="CA")  # no years: it fills in the years it is asked about
    received = at(date(2026, 11, 20), tz=LOS_ANGELES)
    # Thanksgiving (26 Nov) and the day after (27 Nov, a California state holiday) are skipped.
    assert due_date("opt_out_sale", "ccpa", received, holidays=california) == end_of(
        date(2026, 12, 15), LOS_ANGELES
    )


class _Calendar:
    """A container that can only be asked, never iterated (like a rule-based calendar)."""

    def __init__(self, answer):
        self.answer = answer

    def __contains__(self, day):
        return self.answer(day)


@given(
    received=received_instants,
    holiday_offsets=st.frozensets(st.integers(min_value=0, max_value=40), max_size=15),
)
def test_a_calendar_asked_day_by_day_gives_the_deadline_of_the_same_dates(
    received, holiday_offsets
):
    """Asking a calendar per day and passing the same days as a set give one deadline."""
    days = frozenset(received.date() + timedelta(days=n) for n in holiday_offsets)
    calendar = _Calendar(lambda day: day in days)
    as_mapping = dict.fromkeys(days, "holiday")
    expected = due_date("opt_out_sale", "ccpa", received, holidays=days)
    assert due_date("opt_out_sale", "ccpa", received, holidays=calendar) == expected
    assert due_date("opt_out_sale", "ccpa", received, holidays=as_mapping) == expected


@given(
    received=received_instants,
    failure=st.sampled_from([KeyError, TypeError, RuntimeError, ZeroDivisionError, RecursionError]),
)
def test_a_calendar_that_fails_or_never_works_gives_invalid_input(received, failure):
    """A calendar that raises, or calls every day a holiday, gets InvalidInput, never a hang."""

    def broken(day):
        raise failure

    for calendar in (_Calendar(broken), _Calendar(lambda day: True)):
        with pytest.raises(InvalidInput) as caught:
            due_date("opt_out_sale", "ccpa", received, holidays=calendar)
        assert [p.where for p in caught.value.problems] == ["holidays"]


def test_a_request_book_asks_a_holidays_calendar_day_by_day():
    """RequestBook keeps a calendar as given: the opt-out logged 2026-11-20 is due 2026-12-15."""
    import holidays  # noqa: PLC0415  (a test extra: imported where it is used)

    from personakit import FixedClock, testing  # noqa: PLC0415
    from personakit.rights import RequestBook  # noqa: PLC0415

    received = datetime(2026, 11, 20, 10, 0, tzinfo=LOS_ANGELES)
    kit, _ = testing.memory_kit(clock=FixedClock(received))
    with kit:
        book = RequestBook(
            store=kit.store,
            vault=kit.vault,
            audit=kit.audit,
            clock=kit.clock,
            holidays=holidays.US(subdiv="CA"),
        )
        request = book.open(
            "opt_out_sale", "email:a@example.com", jurisdiction="ccpa", channel="web"
        )
        assert request.due_at.astimezone(LOS_ANGELES).date() == date(2026, 12, 15)
