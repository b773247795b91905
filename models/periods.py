"""Reporting periods: shift, day, week, month, quarter and year, and the year so far.

Pure and time-zone aware, built on the shift calendar (``calendar.py``); every
bound is UTC epoch nanoseconds. The rules (docs/periods.md explains each):

* Periods are made of **production dates**, not local calendar days: a
  production date is the shifts that start on it, so the night shift that
  starts at 22:00 on 31 December belongs to 31 December, to December, to the
  fourth quarter and to that year, although it ends on 1 January.
* A period starts when the first shift of its first production date starts
  and ends when the next period starts. Time outside every shift (a plant
  that works two shifts) therefore belongs to the period of the shift before
  it: periods tile time with neither gaps nor overlaps, so a sample is never
  lost between two periods nor counted in both. No planned time lies there.
  The same holds for a single shift: its period runs to the next shift's start.
* Weeks are ISO 8601 weeks (Monday to Sunday; ``2026-W53``); quarters and
  years start on the first of the plant's ``year_start_month`` (1: calendar
  quarters January/April/July/October and calendar years).
* Days follow the local clock, so on a daylight-saving change a production
  day lasts 23 or 25 hours.

Cost: one calendar lookup per period boundary, so ten years of months is 121
lookups; only shift periods enumerate shifts (about 1 100 a year for three
shifts a day).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from shopfloor.models.calendar import ShiftInstance, from_ns, instance_of, shift_instances
from shopfloor.models.plant import ShiftCalendar
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S

_ONE_DAY = dt.timedelta(days=1)
# The next shift always starts within 25 hours of the previous one (a day's shifts repeat daily, a
# daylight-saving change adds at most an hour), so two days on each side find both neighbours.
_SHIFT_MARGIN_NS = 2 * NS_PER_DAY


class Period(StrEnum):
    SHIFT = "shift"
    DAY = "day"
    WEEK = "week"  # ISO 8601, Monday first
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class PeriodRange:
    """One period: its production dates and the time [start_ns, end_ns) they span."""

    period: Period
    label: str  # 2026-11-24/night, 2026-11-24, 2026-W48, 2026-11, 2026-Q4, 2026 (fiscal: 2026/27-Q1, 2026/27)
    first_date: dt.date  # first production date
    last_date: dt.date  # last production date, inclusive
    start_ns: int
    end_ns: int

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S

    def contains(self, moment_ns: int) -> bool:
        return self.start_ns <= moment_ns < self.end_ns


def _as_period(value: Period | str) -> Period:
    # Callers pass query strings as well as members; a StrEnum member is also a str, so `is` needs the member.
    try:
        return Period(value)
    except ValueError:
        raise ValueError(f"period must be one of {', '.join(Period)}, got {value!r}") from None


def _check_year_start(year_start_month: int) -> None:
    if not 1 <= year_start_month <= 12:
        raise ValueError(f"year_start_month must be a month number 1-12, got {year_start_month!r}")


def _first_shift_start_ns(calendar: ShiftCalendar, tz: ZoneInfo, production_date: dt.date) -> int:
    # Every shift is worked every production date, so the one with the earliest start of day opens each date.
    first = min(calendar.shifts, key=lambda shift: shift.start)
    return instance_of(calendar, first, production_date, tz).start_ns


def production_date_at(calendar: ShiftCalendar, tz: ZoneInfo, moment_ns: int) -> dt.date:
    """The production date whose day contains ``moment_ns`` (01:00 in a 22:00-06:00 night shift: yesterday)."""
    local_date = from_ns(moment_ns, tz).date()
    if moment_ns < _first_shift_start_ns(calendar, tz, local_date):
        return local_date - _ONE_DAY
    return local_date


def _add_months(year: int, month: int, months: int) -> dt.date:
    index = year * 12 + (month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _year_label(start_year: int, year_start_month: int) -> str:
    if year_start_month == 1:
        return str(start_year)
    return f"{start_year}/{(start_year + 1) % 100:02d}"  # a fiscal year spans two calendar years


def period_dates(
    period: Period | str, production_date: dt.date, *, year_start_month: int = 1
) -> tuple[dt.date, dt.date, str]:
    """(first date, first date of the next period, label) of the day/week/month/quarter/year of a date."""
    _check_year_start(year_start_month)
    period = _as_period(period)
    d = production_date
    if period is Period.DAY:
        return d, d + _ONE_DAY, d.isoformat()
    if period is Period.WEEK:
        monday = d - dt.timedelta(days=d.weekday())
        iso = d.isocalendar()
        return monday, monday + dt.timedelta(days=7), f"{iso.year}-W{iso.week:02d}"
    if period is Period.MONTH:
        return d.replace(day=1), _add_months(d.year, d.month, 1), f"{d.year}-{d.month:02d}"
    fiscal_year = d.year if d.month >= year_start_month else d.year - 1
    year_label = _year_label(fiscal_year, year_start_month)
    if period is Period.QUARTER:
        quarter = ((d.month - year_start_month) % 12) // 3
        first = _add_months(fiscal_year, year_start_month, 3 * quarter)
        return first, _add_months(first.year, first.month, 3), f"{year_label}-Q{quarter + 1}"
    if period is Period.YEAR:
        return dt.date(fiscal_year, year_start_month, 1), dt.date(fiscal_year + 1, year_start_month, 1), year_label
    raise ValueError(
        f"a production date has several shifts, so no one {period.value!r} period: look a shift up by a moment"
        " (period_range) or list them (periods_between)"
    )


def period_of_date(
    calendar: ShiftCalendar, tz: ZoneInfo, period: Period | str, production_date: dt.date, *, year_start_month: int = 1
) -> PeriodRange:
    """The day/week/month/quarter/year that contains a production date (not a shift: a date has several)."""
    period = _as_period(period)
    first, following, label = period_dates(period, production_date, year_start_month=year_start_month)
    return PeriodRange(
        period=period,
        label=label,
        first_date=first,
        last_date=following - _ONE_DAY,
        start_ns=_first_shift_start_ns(calendar, tz, first),
        end_ns=_first_shift_start_ns(calendar, tz, following),
    )


def _shift_period(instance: ShiftInstance, following: ShiftInstance) -> PeriodRange:
    return PeriodRange(
        period=Period.SHIFT,
        label=instance.key,
        first_date=instance.production_date,
        last_date=instance.production_date,
        start_ns=instance.start_ns,
        end_ns=following.start_ns,
    )


def _shift_periods(calendar: ShiftCalendar, tz: ZoneInfo, start_ns: int, end_ns: int) -> list[PeriodRange]:
    instances = shift_instances(calendar, tz, start_ns - _SHIFT_MARGIN_NS, end_ns + _SHIFT_MARGIN_NS)
    return [
        _shift_period(instance, following)
        for instance, following in itertools.pairwise(instances)
        if following.start_ns > start_ns and instance.start_ns < end_ns
    ]


def period_range(
    calendar: ShiftCalendar, tz: ZoneInfo, period: Period | str, moment_ns: int, *, year_start_month: int = 1
) -> PeriodRange:
    """The period of the given kind that contains ``moment_ns``."""
    if _as_period(period) is Period.SHIFT:
        return _shift_periods(calendar, tz, moment_ns, moment_ns + 1)[0]
    date = production_date_at(calendar, tz, moment_ns)
    return period_of_date(calendar, tz, period, date, year_start_month=year_start_month)


def periods_between(
    calendar: ShiftCalendar,
    tz: ZoneInfo,
    period: Period | str,
    start_ns: int,
    end_ns: int,
    *,
    year_start_month: int = 1,
) -> list[PeriodRange]:
    """Every period that overlaps [start_ns, end_ns), in time order (empty if end_ns <= start_ns).

    Whole periods: the first may start before ``start_ns`` and the last end after ``end_ns`` (a trend of
    this year's months lists December too); clip to the range where only the part inside it counts.
    """
    _check_year_start(year_start_month)
    period = _as_period(period)
    if end_ns <= start_ns:
        return []
    if period is Period.SHIFT:
        return _shift_periods(calendar, tz, start_ns, end_ns)
    out: list[PeriodRange] = []
    first, following, label = period_dates(
        period, production_date_at(calendar, tz, start_ns), year_start_month=year_start_month
    )
    period_start_ns = _first_shift_start_ns(calendar, tz, first)
    while period_start_ns < end_ns:
        period_end_ns = _first_shift_start_ns(calendar, tz, following)
        out.append(PeriodRange(period, label, first, following - _ONE_DAY, period_start_ns, period_end_ns))
        first, period_start_ns = following, period_end_ns
        _, following, label = period_dates(period, first, year_start_month=year_start_month)
    return out


def year_to_date(calendar: ShiftCalendar, tz: ZoneInfo, now_ns: int, *, year_start_month: int = 1) -> PeriodRange:
    """The year so far: from the start of the year's first shift to ``now_ns``, labelled with the year."""
    year = period_range(calendar, tz, Period.YEAR, now_ns, year_start_month=year_start_month)
    return dataclasses.replace(year, last_date=production_date_at(calendar, tz, now_ns), end_ns=now_ns)


def planned_busy_ns(instances: list[ShiftInstance], start_ns: int, end_ns: int) -> int:
    """Shift time minus planned breaks inside [start_ns, end_ns): the time production is planned."""

    def overlap(lo: int, hi: int) -> int:
        return max(0, min(hi, end_ns) - max(lo, start_ns))

    return sum(
        overlap(i.start_ns, i.end_ns) - sum(overlap(b_start, b_end) for b_start, b_end in i.breaks_ns)
        for i in instances
    )
