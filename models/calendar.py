"""The shift calendar: which shift (and crew) a moment belongs to.

Pure and time-zone aware. Shift times in the plant file are local wall-clock
times in the plant's time zone; everything returned here is in UTC epoch
nanoseconds, the unit every stored sample uses. A shift that ends at or before
its start ends the next day (the night shift), and belongs to the production
date on which it started.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from shopfloor.models.plant import Shift, ShiftCalendar
from shopfloor.models.timebase import NS_PER_S, S_PER_DAY

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_ns(moment: dt.datetime) -> int:
    """Aware datetime -> UTC epoch nanoseconds (exact, no float rounding)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: attach the plant's time zone or UTC first")
    delta = moment - _EPOCH
    return (delta.days * S_PER_DAY + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def from_ns(ns: int, tz: ZoneInfo | dt.tzinfo = dt.UTC) -> dt.datetime:
    return (_EPOCH + dt.timedelta(microseconds=ns // 1000)).astimezone(tz)


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    """One occurrence of a shift on one production date."""

    shift_id: str
    production_date: dt.date  # local date on which the shift started
    crew: str | None
    start_ns: int
    end_ns: int
    breaks_ns: tuple[tuple[int, int], ...]  # planned breaks, (start, end) in UTC ns

    @property
    def key(self) -> str:
        """Stable identifier, e.g. ``2026-11-24/night``."""
        return f"{self.production_date.isoformat()}/{self.shift_id}"

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S

    @property
    def planned_break_s(self) -> float:
        return sum(end - start for start, end in self.breaks_ns) / NS_PER_S


def crew_on(calendar: ShiftCalendar, shift: Shift, production_date: dt.date) -> str | None:
    if not shift.crews:
        return None
    turn = (production_date - calendar.rotation_anchor).days // calendar.rotation_days
    return shift.crews[turn % len(shift.crews)]


def _local(date: dt.date, minute_of_day: int, tz: ZoneInfo) -> dt.datetime:
    """Local wall time ``date`` + minutes, resolved in tz (minutes may exceed a day)."""
    naive = dt.datetime.combine(date, dt.time()) + dt.timedelta(minutes=minute_of_day)
    return naive.replace(tzinfo=tz)


def instance_of(calendar: ShiftCalendar, shift: Shift, production_date: dt.date, tz: ZoneInfo) -> ShiftInstance:
    start_min = shift.start.hour * 60 + shift.start.minute
    start_ns = to_ns(_local(production_date, start_min, tz))
    end_ns = to_ns(_local(production_date, start_min + shift.duration_min, tz))
    breaks = tuple(
        (
            to_ns(_local(production_date, start_min + b_start, tz)),
            to_ns(_local(production_date, start_min + b_end, tz)),
        )
        for b_start, b_end in shift.break_offsets_min()
    )
    return ShiftInstance(
        shift_id=shift.id,
        production_date=production_date,
        crew=crew_on(calendar, shift, production_date),
        start_ns=start_ns,
        end_ns=end_ns,
        breaks_ns=breaks,
    )


def shift_instances(calendar: ShiftCalendar, tz: ZoneInfo, start_ns: int, end_ns: int) -> list[ShiftInstance]:
    """All shift instances that overlap [start_ns, end_ns), in time order."""
    if end_ns <= start_ns:
        return []
    first_date = from_ns(start_ns, tz).date() - dt.timedelta(days=1)  # a night shift from the day before
    last_date = from_ns(end_ns, tz).date()
    out: list[ShiftInstance] = []
    date = first_date
    while date <= last_date:
        for shift in calendar.shifts:
            instance = instance_of(calendar, shift, date, tz)
            if instance.end_ns > start_ns and instance.start_ns < end_ns:
                out.append(instance)
        date += dt.timedelta(days=1)
    out.sort(key=lambda i: i.start_ns)
    return out


def shift_at(calendar: ShiftCalendar, tz: ZoneInfo, moment_ns: int) -> ShiftInstance | None:
    """The shift instance running at ``moment_ns``, or None between shifts."""
    for instance in shift_instances(calendar, tz, moment_ns, moment_ns + 1):
        if instance.start_ns <= moment_ns < instance.end_ns:
            return instance
    return None


def assign_instances(instances: list[ShiftInstance], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Index into ``instances`` for each timestamp, -1 where none covers it.

    ``instances`` must be sorted and non-overlapping (what shift_instances returns).
    """
    if not instances:
        return np.full(ts_ns.shape, -1, dtype=np.intp)
    starts = np.fromiter((i.start_ns for i in instances), dtype=np.int64, count=len(instances))
    ends = np.fromiter((i.end_ns for i in instances), dtype=np.int64, count=len(instances))
    index = np.searchsorted(starts, ts_ns, side="right") - 1
    inside = (index >= 0) & (ts_ns < ends[np.clip(index, 0, None)])
    return np.where(inside, index, -1)


def in_planned_break(instances: list[ShiftInstance], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """True where a timestamp falls inside a planned break of its shift."""
    bounds = sorted(b for i in instances for b in i.breaks_ns)
    if not bounds:
        return np.zeros(ts_ns.shape, dtype=bool)
    starts = np.array([b[0] for b in bounds], dtype=np.int64)
    ends = np.array([b[1] for b in bounds], dtype=np.int64)
    index = np.searchsorted(starts, ts_ns, side="right") - 1
    return (index >= 0) & (ts_ns < ends[np.clip(index, 0, None)])
