"""Legal deadlines for answering data-subject requests under the GDPR and the CCPA.

Which periods apply:

* **GDPR and UK GDPR** (every kind except ``opt_out_sale``): one calendar month from receipt,
  extendable once by two further months (Art 12(3)). Months are counted as Regulation (EEC,
  Euratom) No 1182/71 counts them and as the EDPB and the ICO apply it to Art 12(3): the period
  ends on the same day-of-month in the following month, or on the last day of that month when
  the day does not exist there (received 31 January: due 28 February, or 29 February in a leap
  year). The extended deadline is three months counted the same way *from receipt*, not two
  months from the original due date (received 31 January: extended to 30 April, not 28 April).
* **CCPA** requests to know (``access``, ``portability``), to delete (``erasure``) and to correct
  (``rectification``): 45 calendar days after receipt, extendable once by 45 more, 90 in total
  (Cal. Code Regs. tit. 11, § 7021(b)).
* **CCPA** request to opt out of sale/sharing (``opt_out_sale``): 15 business days after receipt,
  with no extension (Cal. Code Regs. tit. 11, § 7026(f)). Business days exclude Saturdays,
  Sundays and the ``holidays`` the caller passes; personakit ships no holiday calendar. A
  finite collection of dates is checked up front; a calendar (a mapping such as the
  ``holidays`` package's ``holidays.US(subdiv="CA")``, or any container that is not iterable)
  is asked ``day in holidays`` day by day, so one built without ``years=`` fills in the years
  it is asked about instead of being iterated as empty.

A deadline is the last instant (``23:59:59.999999``) of the due day in the time zone of
``received_at``, and the day of receipt is the *local* day in that zone: a request received at
23:30 in UTC-8 counts from that day even though it is already the next day in UTC.

Interpretation choices, all on the side of the earlier deadline:

* A deadline that falls on a weekend or public holiday is *not* moved to the next working day,
  although Art 3(4) of Regulation 1182/71 (and the EDPB and ICO guidance following it) would
  allow that for the GDPR, and Cal. Civ. Code § 10 arguably for the CCPA's calendar-day periods.
  Answering on time under the stricter reading is always lawful.
* The CCPA gives no period for ``restriction`` or ``objection``; those kinds are rejected under
  ``ccpa`` rather than mapped onto a different CCPA right (such as the request to limit the use of
  sensitive personal information, § 7027) with a different scope.
* ``opt_out_sale`` is not a GDPR request kind and is rejected under ``gdpr``.

Every rejection raises :class:`~personakit.exceptions.InvalidInput` listing every problem found.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from attrs import frozen

from personakit.exceptions import InvalidInput, Problem

__all__ = [
    "DeadlinePolicy",
    "Jurisdiction",
    "PeriodUnit",
    "RequestKind",
    "days_left",
    "due_date",
    "extended_due_date",
    "holiday_calendar",
    "is_overdue",
    "policy",
]


class RequestKind(StrEnum):
    """What the data subject (GDPR) or consumer (CCPA) asks for."""

    ACCESS = "access"
    """GDPR Art 15 right of access; CCPA request to know (Cal. Civ. Code §§ 1798.110, 1798.115)."""
    PORTABILITY = "portability"
    """GDPR Art 20; under the CCPA a request to know answered in a portable format."""
    ERASURE = "erasure"
    """GDPR Art 17; CCPA request to delete (Cal. Civ. Code § 1798.105)."""
    RECTIFICATION = "rectification"
    """GDPR Art 16; CCPA request to correct (Cal. Civ. Code § 1798.106)."""
    RESTRICTION = "restriction"
    """GDPR Art 18 restriction of processing; no CCPA counterpart."""
    OBJECTION = "objection"
    """GDPR Art 21 objection to processing; no CCPA counterpart."""
    OPT_OUT_SALE = "opt_out_sale"
    """CCPA request to opt out of sale/sharing (Cal. Civ. Code § 1798.120); not a GDPR kind."""


class Jurisdiction(StrEnum):
    """The law whose deadlines apply.

    ``UK_GDPR`` is an enum *alias* of ``GDPR`` (``Jurisdiction.UK_GDPR is Jurisdiction.GDPR``):
    the UK GDPR keeps Art 12(3) and the ICO counts months the same way, so the two cannot give
    different deadlines. The string ``"uk_gdpr"`` is accepted wherever a jurisdiction is.
    """

    GDPR = "gdpr"
    UK_GDPR = "gdpr"
    CCPA = "ccpa"


class PeriodUnit(StrEnum):
    """How a :class:`DeadlinePolicy` counts its period."""

    CALENDAR_MONTHS = "calendar_months"
    CALENDAR_DAYS = "calendar_days"
    BUSINESS_DAYS = "business_days"


@frozen(kw_only=True)
class DeadlinePolicy:
    """The response period for one request kind under one jurisdiction.

    Obtain instances from :func:`policy`.

    Attributes:
        kind: The request kind this policy applies to.
        jurisdiction: The jurisdiction this policy applies to (never the ``UK_GDPR`` alias).
        unit: How ``period`` and ``extension`` are counted.
        period: Length of the base period, in ``unit``.
        extension: Length of the one extension allowed, in ``unit``; ``0`` when none exists.
        citation: The legal source of the period and its extension.
    """

    kind: RequestKind
    jurisdiction: Jurisdiction
    unit: PeriodUnit
    period: int
    extension: int
    citation: str

    @property
    def extendable(self) -> bool:
        """Whether the law allows extending the period at all."""
        return self.extension > 0

    @property
    def total(self) -> int:
        """Length of the period including the extension, in ``unit``."""
        return self.period + self.extension


_GDPR_CITATION: Final = "GDPR Art 12(3)"
_CCPA_CITATION: Final = "Cal. Code Regs. tit. 11, § 7021"
_CCPA_OPT_OUT_CITATION: Final = "Cal. Code Regs. tit. 11, § 7026(f)"

_SATURDAY: Final = 5  # date.weekday() numbering: Monday is 0
_MAX_IDLE_DAYS: Final = 366  # no real calendar has a year of non-working days in a row

_GDPR_KINDS: Final = (
    RequestKind.ACCESS,
    RequestKind.PORTABILITY,
    RequestKind.ERASURE,
    RequestKind.RECTIFICATION,
    RequestKind.RESTRICTION,
    RequestKind.OBJECTION,
)
# § 7021 covers requests to know, delete and correct; portability is delivery of a request to
# know in a portable format (Cal. Civ. Code § 1798.130(a)(2)(B)), so it shares the timeline.
_CCPA_45_DAY_KINDS: Final = (
    RequestKind.ACCESS,
    RequestKind.PORTABILITY,
    RequestKind.ERASURE,
    RequestKind.RECTIFICATION,
)


def _build_policies() -> dict[tuple[RequestKind, Jurisdiction], DeadlinePolicy]:
    table: dict[tuple[RequestKind, Jurisdiction], DeadlinePolicy] = {}
    for kind in _GDPR_KINDS:
        # Art 12(3): "within one month of receipt", "extended by two further months".
        table[kind, Jurisdiction.GDPR] = DeadlinePolicy(
            kind=kind,
            jurisdiction=Jurisdiction.GDPR,
            unit=PeriodUnit.CALENDAR_MONTHS,
            period=1,
            extension=2,
            citation=_GDPR_CITATION,
        )
    for kind in _CCPA_45_DAY_KINDS:
        # § 7021(b): 45 calendar days, "up to an additional 45 calendar days ... maximum total
        # of 90 calendar days"; also Cal. Civ. Code § 1798.130(a)(2).
        table[kind, Jurisdiction.CCPA] = DeadlinePolicy(
            kind=kind,
            jurisdiction=Jurisdiction.CCPA,
            unit=PeriodUnit.CALENDAR_DAYS,
            period=45,
            extension=45,
            citation=_CCPA_CITATION,
        )
    # § 7026(f): "no later than 15 business days from the date the business receives the
    # request", with no provision for extending it.
    table[RequestKind.OPT_OUT_SALE, Jurisdiction.CCPA] = DeadlinePolicy(
        kind=RequestKind.OPT_OUT_SALE,
        jurisdiction=Jurisdiction.CCPA,
        unit=PeriodUnit.BUSINESS_DAYS,
        period=15,
        extension=0,
        citation=_CCPA_OPT_OUT_CITATION,
    )
    return table


_POLICIES: Final = _build_policies()
_KINDS_BY_VALUE: Final = {member.value: member for member in RequestKind}
# Keyed by lower-cased member *name* so that the alias "uk_gdpr" resolves too.
_JURISDICTIONS_BY_NAME: Final = {
    name.lower(): member for name, member in Jurisdiction.__members__.items()
}
_ACCEPTED_KINDS: Final = ", ".join(_KINDS_BY_VALUE)
_ACCEPTED_JURISDICTIONS: Final = ", ".join(_JURISDICTIONS_BY_NAME)


def policy(kind: RequestKind | str, jurisdiction: Jurisdiction | str) -> DeadlinePolicy:
    """Return the deadline policy for a request kind under a jurisdiction.

    Args:
        kind: A :class:`RequestKind` or its value (``"erasure"``).
        jurisdiction: A :class:`Jurisdiction` or its value (``"gdpr"``, ``"uk_gdpr"``, ``"ccpa"``).

    Returns:
        The policy: base period, extension and legal citation.

    Raises:
        InvalidInput: The kind or jurisdiction is unknown, or the kind does not exist under that
            jurisdiction (``opt_out_sale`` under the GDPR; ``restriction`` or ``objection`` under
            the CCPA).
    """
    problems: list[Problem] = []
    found = _resolve(kind, jurisdiction, problems)
    if problems or found is None:
        raise InvalidInput("no deadline policy for this request", problems)
    return found


def due_date(
    kind: RequestKind | str,
    jurisdiction: Jurisdiction | str,
    received_at: datetime,
    *,
    holidays: Container[date] | Iterable[date] = (),
) -> datetime:
    """Return the last instant at which a request can be answered without an extension.

    Args:
        kind: A :class:`RequestKind` or its value.
        jurisdiction: A :class:`Jurisdiction` or its value.
        received_at: When the request was received (or whatever instant the applicable law starts
            the clock at). Must be timezone-aware; prefer :mod:`zoneinfo` zones or fixed offsets,
            because the deadline reuses this ``tzinfo`` on another day.
        holidays: Non-working days to skip when the period is counted in business days
            (ignored for calendar periods): a collection of :class:`datetime.date`, or a
            calendar asked ``day in holidays`` day by day (see :func:`holiday_calendar`).

    Returns:
        ``23:59:59.999999`` on the due day, in the time zone of ``received_at``.

    Raises:
        InvalidInput: Every problem found with the arguments: unknown kind or jurisdiction, a
            kind that does not exist under the jurisdiction, a naive ``received_at``, a holiday
            that is not a date, or a deadline past the year 9999.
    """
    found, holiday_set = _validated(kind, jurisdiction, received_at, holidays)
    return _deadline(found, received_at, found.period, holiday_set)


def extended_due_date(
    kind: RequestKind | str,
    jurisdiction: Jurisdiction | str,
    received_at: datetime,
    *,
    holidays: Container[date] | Iterable[date] = (),
) -> datetime:
    """Return the last instant at which a request can be answered after the one extension.

    The extension is only available when the controller or business tells the requester, within
    the original period, that it is taking it and why (GDPR Art 12(3); § 7021(b)). Computing the
    date does not check that this happened.

    Args:
        kind: A :class:`RequestKind` or its value.
        jurisdiction: A :class:`Jurisdiction` or its value.
        received_at: When the request was received; must be timezone-aware.
        holidays: Non-working days to skip for business-day periods; see :func:`due_date`.

    Returns:
        ``23:59:59.999999`` on the extended due day, in the time zone of ``received_at``. For the
        GDPR this is three months from receipt, counted like the base month.

    Raises:
        InvalidInput: Everything :func:`due_date` rejects and, in addition, a request kind whose
            period cannot be extended (a CCPA ``opt_out_sale``, § 7026(f)): its problem says that
            no extension exists. Use :func:`due_date` for those.
    """
    found, holiday_set = _validated(kind, jurisdiction, received_at, holidays)
    if not found.extendable:
        raise InvalidInput(
            "no extension exists for this request",
            [
                Problem(
                    where="kind",
                    what=(
                        f"{found.kind} under {found.jurisdiction} has a fixed period and no "
                        f"extension ({found.citation}); use due_date()"
                    ),
                )
            ],
        )
    return _deadline(found, received_at, found.total, holiday_set)


def is_overdue(due: datetime, now: datetime) -> bool:
    """Tell whether ``now`` is past the deadline ``due``.

    Args:
        due: A deadline, e.g. from :func:`due_date`; must be timezone-aware.
        now: The current instant; must be timezone-aware (any zone).

    Returns:
        ``True`` once ``now`` is strictly after ``due``; answering at ``due`` itself is on time.

    Raises:
        InvalidInput: ``due`` or ``now`` is not a timezone-aware datetime.
    """
    _check_instants(due, now)
    return now > due


def days_left(due: datetime, now: datetime) -> int:
    """Count the calendar days from ``now`` to the deadline ``due``.

    Days are counted in the time zone of ``due``: ``now`` is converted to it and the difference
    between the two calendar dates is returned. It is ``0`` on the due day itself, ``1`` the day
    before, and negative once the due day has passed. For the end-of-day deadlines this module
    returns, ``days_left(due, now) < 0`` exactly when :func:`is_overdue` is true.

    Args:
        due: A deadline, e.g. from :func:`due_date`; must be timezone-aware.
        now: The current instant; must be timezone-aware (any zone).

    Returns:
        The number of calendar days left, negative when overdue.

    Raises:
        InvalidInput: ``due`` or ``now`` is not a timezone-aware datetime.
    """
    _check_instants(due, now)
    local_now = now.astimezone(due.tzinfo)
    return (due.date() - local_now.date()).days


def holiday_calendar(holidays: Container[date] | Iterable[date]) -> Container[date]:
    """The non-working days ``holidays`` names, as something to ask ``day in …``.

    A mapping (such as a ``holidays.HolidayBase``, which fills in a year when it is asked about
    a day in it) or a container that cannot be iterated is kept and asked day by day; any other
    iterable must hold only :class:`datetime.date` values (not datetimes) and is frozen.

    Raises:
        InvalidInput: A string, a non-container, or an item that is not a date (each named).
    """
    problems: list[Problem] = []
    calendar_ = _holiday_set(holidays, problems)
    if problems:
        raise InvalidInput("invalid holidays", problems)
    return calendar_


def _validated(
    kind: object, jurisdiction: object, received_at: object, holidays: object
) -> tuple[DeadlinePolicy, Container[date]]:
    problems: list[Problem] = []
    found = _resolve(kind, jurisdiction, problems)
    _check_aware(received_at, "received_at", problems)
    holiday_set = _holiday_set(holidays, problems)
    if problems or found is None:
        raise InvalidInput("cannot compute the deadline", problems)
    return found, holiday_set


def _resolve(kind: object, jurisdiction: object, problems: list[Problem]) -> DeadlinePolicy | None:
    parsed_kind = _KINDS_BY_VALUE.get(kind) if isinstance(kind, str) else None
    if parsed_kind is None:
        problems.append(Problem(where="kind", what=f"must be one of: {_ACCEPTED_KINDS}"))
    parsed_jurisdiction = (
        _JURISDICTIONS_BY_NAME.get(jurisdiction) if isinstance(jurisdiction, str) else None
    )
    if parsed_jurisdiction is None:
        problems.append(
            Problem(where="jurisdiction", what=f"must be one of: {_ACCEPTED_JURISDICTIONS}")
        )
    if parsed_kind is None or parsed_jurisdiction is None:
        return None
    found = _POLICIES.get((parsed_kind, parsed_jurisdiction))
    if found is None:
        available = ", ".join(k for k, j in _POLICIES if j is parsed_jurisdiction)
        problems.append(
            Problem(
                where="kind",
                what=(
                    f"{parsed_kind} is not a request kind under {parsed_jurisdiction}; "
                    f"{parsed_jurisdiction} accepts: {available}"
                ),
            )
        )
    return found


def _check_aware(value: object, where: str, problems: list[Problem]) -> None:
    # utcoffset() is what makes a datetime aware: a tzinfo that returns None is still naive.
    if not isinstance(value, datetime) or value.utcoffset() is None:
        problems.append(Problem(where=where, what="must be a timezone-aware datetime"))


def _check_instants(due: object, now: object) -> None:
    problems: list[Problem] = []
    _check_aware(due, "due", problems)
    _check_aware(now, "now", problems)
    if problems:
        raise InvalidInput("cannot compare with the deadline", problems)


def _holiday_set(holidays: object, problems: list[Problem]) -> Container[date]:
    if isinstance(holidays, Mapping) or (
        isinstance(holidays, Container) and not isinstance(holidays, Iterable)
    ):
        # A calendar: iterating a holidays.HolidayBase built without years= sees no day at all,
        # while ``day in calendar`` fills in that day's year first.
        return holidays
    if isinstance(holidays, str | bytes) or not isinstance(holidays, Iterable):
        problems.append(Problem(where="holidays", what="must be a collection of dates"))
        return frozenset()
    days: set[date] = set()
    for index, item in enumerate(holidays):
        # A datetime is a date subclass but never equals one, so it would silently never match.
        if isinstance(item, date) and not isinstance(item, datetime):
            days.add(item)
        else:
            problems.append(
                Problem(
                    where=f"holidays[{index}]",
                    what="must be a datetime.date (datetimes are refused)",
                )
            )
    return frozenset(days)


def _deadline(
    found: DeadlinePolicy, received_at: datetime, amount: int, holidays: Container[date]
) -> datetime:
    # The day of receipt is the local day where the request arrived, and it is not itself
    # counted: Reg 1182/71 Art 3(1) for the GDPR, Cal. Civ. Code § 10 for the CCPA.
    start = received_at.date()
    try:
        if found.unit is PeriodUnit.CALENDAR_MONTHS:
            day = _add_months(start, amount)
        elif found.unit is PeriodUnit.CALENDAR_DAYS:
            day = start + timedelta(days=amount)
        else:
            day = _add_business_days(start, amount, holidays)
    except InvalidInput:
        raise  # a ValueError too, but about the holidays, not the year 9999
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(
            "cannot compute the deadline",
            [Problem(where="received_at", what="the deadline would fall after the year 9999")],
        ) from exc
    # No roll-forward to the next working day, although Reg 1182/71 Art 3(4) (GDPR) and
    # Cal. Civ. Code § 10 (CCPA) would allow it; the earlier date is always compliant. fold=0
    # likewise picks the earlier of two ambiguous readings in zones that fall back at midnight.
    return datetime.combine(day, time.max, tzinfo=received_at.tzinfo)


def _add_months(start: date, months: int) -> date:
    # Reg 1182/71 Art 3(2)(c): same date in the last month, else the last day of that month.
    index = start.month - 1 + months
    year = start.year + index // 12
    month = index % 12 + 1
    return date(year, month, min(start.day, _days_in_month(year, month)))


def _days_in_month(year: int, month: int) -> int:
    # calendar.monthrange(year, month)[1], without importing calendar (and locale) with the
    # package; December first, since year 9999 has no following January.
    if month == 12:  # noqa: PLR2004
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


def _add_business_days(start: date, count: int, holidays: Container[date]) -> date:
    # Terminates: a calendar may call every day a holiday, so a run of more non-working
    # days than any real calendar has is refused instead of walking on to the year 9999.
    day = start
    remaining = count
    idle = 0
    while remaining:
        day += timedelta(days=1)
        if day.weekday() < _SATURDAY and not _is_holiday(day, holidays):
            remaining -= 1
            idle = 0
            continue
        idle += 1
        if idle > _MAX_IDLE_DAYS:
            raise InvalidInput(
                "cannot compute the deadline",
                [Problem(where="holidays", what=f"more than {_MAX_IDLE_DAYS} days in a row off")],
            )
    return day


def _is_holiday(day: date, holidays: Container[date]) -> bool:
    try:
        return bool(day in holidays)
    except Exception as exc:
        # The calendar is the caller's code: whatever it raises, our contract is InvalidInput.
        raise InvalidInput(
            "cannot compute the deadline",
            [Problem(where="holidays", what=f"asking the calendar failed ({type(exc).__name__})")],
        ) from exc
