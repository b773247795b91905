"""Team performance over months and years: per period of a span, each team's score, rank and objectives sheet.

The span is one plant year (``year=``, its first calendar year: 2026, or the
fiscal 2026/27), several (``years=``, ending with ``year``) or one month
(``month=2026-11``); the periods are its shifts, days, weeks, months,
quarters or years that have started. Each period is computed on its own
(``BreakdownService``: closed shifts from the ledger, the running one from
raw samples) and cached per period, so a period's figures are exactly those
of a report of the same range (the scoreboard of ``period=month&at=...``)
and a page that asks again, or asks for another team, computes nothing new.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from shopfloor.api.breakdowns import Breakdown, BreakdownService
from shopfloor.api.timerange import EARLIEST, LATEST, YEARS, PeriodRef, RangeError, TimeRange
from shopfloor.models.periods import Period, PeriodRange, period_of_date, period_range, periods_between
from shopfloor.models.plant import Plant

# Periods one request lists: ten years of months (a year of days is asked per month)
MAX_PERIODS = 120
MAX_YEARS = 10
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Span:
    label: str  # 2026, 2026/27, 2024-2026, 2026-11
    start_ns: int
    end_ns: int
    periods: tuple[PeriodRange, ...]  # those that have started, in time order


def _year(plant: Plant, year: int) -> PeriodRange:
    first_month = plant.plant.year_start_month
    return period_of_date(
        plant.shift_calendar, plant.tz, Period.YEAR, dt.date(year, first_month, 1), year_start_month=first_month
    )


def tracking_span(
    plant: Plant, period: Period, now_ns: int, *, year: int | None = None, years: int | None = None, month: str | None
) -> Span:
    """The span a tracking request names, and its periods that have started; RangeError with the reason."""
    if period is Period.SHIFT and month is None:
        raise RangeError("period=shift lists the shifts of one month: give month=YYYY-MM")
    if month is not None and (year is not None or years is not None):
        raise RangeError("give year (and years) or month, not both")
    if month is not None:
        m = _MONTH.match(month)
        if m is None or not 1 <= int(m.group(2)) <= 12:
            raise RangeError(f"month={month!r} is not of the form YYYY-MM, e.g. 2026-11")
        first = dt.date(int(m.group(1)), int(m.group(2)), 1)
        if not EARLIEST.date() <= first < LATEST.date():
            raise RangeError(f"month={month!r} is outside the years {YEARS}")
        found = period_of_date(plant.shift_calendar, plant.tz, Period.MONTH, first)
        label, start_ns, end_ns = found.label, found.start_ns, found.end_ns
    else:
        count = 1 if years is None else years
        if not 1 <= count <= MAX_YEARS:
            raise RangeError(f"years={count} must be 1 to {MAX_YEARS}")
        if year is None:
            current = period_range(
                plant.shift_calendar, plant.tz, Period.YEAR, now_ns, year_start_month=plant.plant.year_start_month
            )
            year = current.first_date.year
        if not (EARLIEST.year <= year - count + 1 and year < LATEST.year):
            raise RangeError(f"year={year} (and the {count} year(s) it ends) must lie in the years {YEARS}")
        first_year, last_year = _year(plant, year - count + 1), _year(plant, year)
        label = last_year.label if count == 1 else f"{first_year.label}–{last_year.label}"
        start_ns, end_ns = first_year.start_ns, last_year.end_ns
    if start_ns >= now_ns:
        raise RangeError(f"{label} has not started yet")
    found_periods = periods_between(
        plant.shift_calendar,
        plant.tz,
        period,
        start_ns,
        min(end_ns, now_ns),
        year_start_month=plant.plant.year_start_month,
    )
    if len(found_periods) > MAX_PERIODS:
        raise RangeError(
            f"period={period.value} over {label} lists {len(found_periods)} periods; at most {MAX_PERIODS}:"
            " name a month (month=YYYY-MM) or choose a longer period"
        )
    return Span(label, start_ns, end_ns, tuple(found_periods))


def period_time_range(period: PeriodRange, now_ns: int) -> TimeRange:
    return TimeRange(
        period.start_ns, min(period.end_ns, now_ns), None, period.end_ns, PeriodRef(period.period.value, period.label)
    )


def compute_periods(
    breakdowns: BreakdownService, span: Span, now_ns: int
) -> list[tuple[PeriodRange, TimeRange, Breakdown]]:
    """Every period of the span, computed (or taken from the cache) one after the other."""
    out = []
    for p in span.periods:
        rng = period_time_range(p, now_ns)
        out.append((p, rng, breakdowns.get(rng)))
    return out
