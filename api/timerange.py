"""Turning ``shift=`` / ``start=&end=`` / ``period=&at=`` query parameters into a checked time range.

Rules (docs/api.md, "Time ranges"):
* nothing given -> the current shift (the last one that ended, between shifts);
* ``shift=2026-11-24/night`` -> that shift instance (``ShiftInstance.key``);
* ``start`` and ``end`` -> ISO 8601; a time without an offset is plant-local;
* ``period=shift|day|week|month|quarter|year`` -> the period (models/periods.py) containing ``at`` (a production
  date ``2026-11-24`` or an ISO 8601 time; default now); ``period=ytd`` -> the plant year up to ``at``'s
  production date (or time), by default up to now.
The end is clipped to "now" (KPIs of the running shift count up to now, not
the future). A range must be non-empty, not wholly in the future, and at most
``max_range_days`` long; anything else is a ValueError whose message the
route returns as 422.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

from shopfloor.models.calendar import ShiftInstance, from_ns, instance_of, shift_at, shift_instances, to_ns
from shopfloor.models.periods import Period, PeriodRange, period_of_date, period_range, year_to_date
from shopfloor.models.plant import Plant
from shopfloor.models.timebase import NS_PER_DAY

SHIFT_KEY = re.compile(r"^(\d{4}-\d{2}-\d{2})/([a-z0-9][a-z0-9_-]*)$")

# The one bound on every time a request may name (shift dates, start/end, note and stop times): far enough
# from the epoch that nothing is negative and from int64 nanoseconds' end (2262) that nothing overflows.
EARLIEST = dt.datetime(1971, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
YEARS = f"{EARLIEST.year}-{LATEST.year}"


class RangeError(ValueError):
    """A time range or shift the caller got wrong; the message says how."""


def bounded_ns(plant: Plant, moment: dt.datetime, what: str) -> int:
    """``moment`` (no offset = plant-local) as epoch ns; RangeError outside the years 1971-2200.

    Checked on the datetime, before any arithmetic, so no input can overflow.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=plant.tz)  # plant-local wall time, as on the shop floor
    try:
        inside = EARLIEST <= moment <= LATEST
    except OverflowError:  # a zone offset that pushes year 1 or 9999 past datetime's range
        inside = False
    if not inside:
        raise RangeError(f"{what} is outside the years {YEARS}")
    return to_ns(moment)


YTD = "ytd"  # period=ytd: the plant year so far
RANGE_PERIODS = (*(p.value for p in Period), YTD)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class PeriodRef:
    """The period a range was asked as (period=...): its kind and label, e.g. ("month", "2026-11")."""

    kind: str  # a Period value or "ytd"
    label: str


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ns: int
    end_ns: int  # clipped to now
    shift: ShiftInstance | None  # set when the range is one shift instance
    nominal_end_ns: int  # before clipping (the shift's end)
    period: PeriodRef | None = None  # set when the range was asked as a period

    @property
    def label(self) -> str:
        return self.shift.key if self.shift else f"{self.start_ns}-{self.end_ns}"


def current_shift(plant: Plant, now_ns: int) -> ShiftInstance:
    """The running shift, or the last one that ended if none runs now."""
    running = shift_at(plant.shift_calendar, plant.tz, now_ns)
    if running is not None:
        return running
    past = shift_instances(plant.shift_calendar, plant.tz, now_ns - 2 * NS_PER_DAY, now_ns)
    return [i for i in past if i.end_ns <= now_ns][-1]


def parse_shift_key(plant: Plant, key: str) -> ShiftInstance:
    m = SHIFT_KEY.match(key)
    if not m:
        raise RangeError(f"shift {key!r} is not of the form YYYY-MM-DD/<shift id>, e.g. 2026-11-24/night")
    try:
        date = dt.date.fromisoformat(m.group(1))
    except ValueError:
        raise RangeError(f"shift {key!r}: {m.group(1)!r} is not a calendar date") from None
    if not EARLIEST.date() <= date < LATEST.date():
        raise RangeError(f"shift {key!r} is outside the years {YEARS}")
    shifts = {s.id: s for s in plant.shift_calendar.shifts}
    shift = shifts.get(m.group(2))
    if shift is None:
        raise RangeError(f"shift {key!r}: unknown shift id {m.group(2)!r}; known: {', '.join(sorted(shifts))}")
    return instance_of(plant.shift_calendar, shift, date, plant.tz)


def parse_time(plant: Plant, text: str, name: str) -> int:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RangeError(f"{name}={text!r} is not an ISO 8601 time such as 2026-11-24T06:00:00+08:00") from None
    return bounded_ns(plant, moment, f"{name}={text!r}")


def parse_at(plant: Plant, text: str) -> dt.date | int:
    """``at=``: a production date (``2026-11-24``) as a date, or an ISO 8601 time as epoch ns."""
    if _DATE.match(text):
        try:
            date = dt.date.fromisoformat(text)
        except ValueError:
            raise RangeError(f"at={text!r} is not a calendar date") from None
        if not EARLIEST.date() <= date < LATEST.date():
            raise RangeError(f"at={text!r} is outside the years {YEARS}")
        return date
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RangeError(
            f"at={text!r} is neither a production date such as 2026-11-24 nor an ISO 8601 time such as"
            " 2026-11-24T23:00:00+08:00"
        ) from None
    return bounded_ns(plant, moment, f"at={text!r}")


def period_of(plant: Plant, period: str, at: dt.date | int | None, now_ns: int) -> tuple[int, int, PeriodRange]:
    """(start_ns, nominal end_ns, the period) of ``period=`` at ``at`` (default: now); RangeError if unknown."""
    if period not in RANGE_PERIODS:
        raise RangeError(f"period={period!r} is not one of {', '.join(RANGE_PERIODS)}")
    calendar, tz, first_month = plant.shift_calendar, plant.tz, plant.plant.year_start_month
    if period == YTD:
        if isinstance(at, dt.date):
            year = period_of_date(calendar, tz, Period.YEAR, at, year_start_month=first_month)
            day = period_of_date(calendar, tz, Period.DAY, at)
            return year.start_ns, day.end_ns, year
        so_far = year_to_date(calendar, tz, now_ns if at is None else at, year_start_month=first_month)
        if at is None:
            # The year so far runs to the end of today, clipped to now: one range (one cache key) all day long,
            # not a new one every nanosecond.
            today = period_range(calendar, tz, Period.DAY, now_ns)
            return so_far.start_ns, today.end_ns, so_far
        return so_far.start_ns, so_far.end_ns, so_far
    if isinstance(at, dt.date):
        if period == Period.SHIFT:
            raise RangeError(
                "period=shift needs at= a time such as 2026-11-24T23:00:00 (a date has several shifts),"
                " or name the shift: shift=2026-11-24/night"
            )
        found = period_of_date(calendar, tz, period, at, year_start_month=first_month)
    else:
        found = period_range(calendar, tz, period, now_ns if at is None else at, year_start_month=first_month)
    return found.start_ns, found.end_ns, found


def resolve(
    plant: Plant,
    *,
    shift: str | None,
    start: str | None,
    end: str | None,
    max_range_days: int,
    now_ns: int | None = None,
    period: str | None = None,
    at: str | None = None,
    limit_note: str = "",
) -> TimeRange:
    """``limit_note`` follows the message of a range longer than ``max_range_days`` (why this endpoint's bound)."""
    now = time.time_ns() if now_ns is None else now_ns
    if period is not None and (shift is not None or start is not None or end is not None):
        raise RangeError("give one of shift, start/end or period (with at), not several")
    if at is not None and period is None:
        raise RangeError("at goes with period, e.g. period=month&at=2026-11-24")
    if period is not None:
        return _resolve_period(plant, period, at, max_range_days, now, limit_note)
    if shift is not None and (start is not None or end is not None):
        raise RangeError("give either shift or start/end, not both")
    if shift is not None:
        instance = parse_shift_key(plant, shift)
        if instance.start_ns >= now:
            raise RangeError(f"shift {shift!r} has not started yet (starts {from_ns(instance.start_ns, plant.tz)})")
        return TimeRange(instance.start_ns, min(instance.end_ns, now), instance, instance.end_ns)
    if start is None and end is None:
        instance = current_shift(plant, now)
        return TimeRange(instance.start_ns, min(instance.end_ns, now), instance, instance.end_ns)
    if start is None or end is None:
        raise RangeError("start and end go together")
    start_ns, end_ns = parse_time(plant, start, "start"), parse_time(plant, end, "end")
    if end_ns <= start_ns:
        raise RangeError("end must be after start")
    if end_ns - start_ns > max_range_days * NS_PER_DAY:
        raise RangeError(f"a time range may be at most {max_range_days} days long{limit_note}")
    if start_ns >= now:
        raise RangeError("the range starts in the future")
    return TimeRange(start_ns, min(end_ns, now), None, end_ns)


def _resolve_period(
    plant: Plant, period: str, at: str | None, max_range_days: int, now: int, limit_note: str
) -> TimeRange:
    moment = None if at is None else parse_at(plant, at)
    start_ns, end_ns, found = period_of(plant, period, moment, now)
    what = f"period={period} ({found.label})"
    if start_ns >= now:
        raise RangeError(f"{what} has not started yet (starts {from_ns(start_ns, plant.tz)})")
    if end_ns <= start_ns:
        raise RangeError(f"{what} is empty: at= is the very start of the year")
    if end_ns - start_ns > max_range_days * NS_PER_DAY:
        days = (end_ns - start_ns) / NS_PER_DAY
        raise RangeError(
            f"{what} spans {days:.0f} days; a time range may be at most {max_range_days} days long{limit_note}"
        )
    instance = None
    if period == Period.SHIFT:
        instance = shift_at(plant.shift_calendar, plant.tz, start_ns)
    return TimeRange(start_ns, min(end_ns, now), instance, end_ns, PeriodRef(period, found.label))


def iso(plant: Plant, ns: int) -> str:
    return from_ns(ns, plant.tz).isoformat()
