"""Turning ``shift=`` / ``start=&end=`` query parameters into a checked time range.

Rules (docs/api.md, "Time ranges"):
* nothing given -> the current shift (the last one that ended, between shifts);
* ``shift=2026-11-24/night`` -> that shift instance (``ShiftInstance.key``);
* ``start`` and ``end`` -> ISO 8601; a time without an offset is plant-local.
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


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ns: int
    end_ns: int  # clipped to now
    shift: ShiftInstance | None  # set when the range is one shift instance
    nominal_end_ns: int  # before clipping (the shift's end)

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


def resolve(
    plant: Plant,
    *,
    shift: str | None,
    start: str | None,
    end: str | None,
    max_range_days: int,
    now_ns: int | None = None,
) -> TimeRange:
    now = time.time_ns() if now_ns is None else now_ns
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
        raise RangeError(f"a time range may be at most {max_range_days} days long")
    if start_ns >= now:
        raise RangeError("the range starts in the future")
    return TimeRange(start_ns, min(end_ns, now), None, end_ns)


def iso(plant: Plant, ns: int) -> str:
    return from_ns(ns, plant.tz).isoformat()
