"""When the line is planned to produce: shifts and planned breaks, as UTC ns intervals.

The process model asks this once per step, so the shift calendar (time-zone
arithmetic) is expanded only every couple of simulated days and every answer
after that is two integer comparisons.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from enum import Enum
from zoneinfo import ZoneInfo

from shopfloor.models.calendar import shift_instances
from shopfloor.models.plant import ShiftCalendar
from shopfloor.models.timebase import NS_PER_DAY


class Plan(Enum):
    PRODUCE = "produce"  # inside a shift, outside its breaks
    BREAK = "break"  # a planned break of a shift
    NO_SHIFT = "no_shift"  # no shift is planned (the line is switched off)


@dataclass(frozen=True, slots=True)
class PlanSegment:
    start_ns: int
    end_ns: int
    plan: Plan


def plan_segments(calendar: ShiftCalendar, tz: ZoneInfo, start_ns: int, end_ns: int) -> list[PlanSegment]:
    """Contiguous segments covering [start_ns, end_ns) with what is planned in each (pure)."""
    points: list[tuple[int, int, Plan]] = []
    for instance in shift_instances(calendar, tz, start_ns, end_ns):
        cursor = instance.start_ns
        for b_start, b_end in instance.breaks_ns:
            points.append((cursor, b_start, Plan.PRODUCE))
            points.append((b_start, b_end, Plan.BREAK))
            cursor = b_end
        points.append((cursor, instance.end_ns, Plan.PRODUCE))
    segments: list[PlanSegment] = []
    cursor = start_ns
    for seg_start, seg_end, plan in sorted(points):
        seg_start, seg_end = max(seg_start, start_ns), min(seg_end, end_ns)
        if seg_end <= seg_start:
            continue
        if seg_start > cursor:
            segments.append(PlanSegment(cursor, seg_start, Plan.NO_SHIFT))
        segments.append(PlanSegment(seg_start, seg_end, plan))
        cursor = seg_end
    if cursor < end_ns:
        segments.append(PlanSegment(cursor, end_ns, Plan.NO_SHIFT))
    return segments


class PlanLookup:
    """``plan_at(t_ns)`` over an ever-growing simulated time, cached by window."""

    def __init__(self, calendar: ShiftCalendar, tz: ZoneInfo, window_days: int = 2) -> None:
        self._calendar = calendar
        self._tz = tz
        self._window_ns = window_days * NS_PER_DAY
        self._segments: list[PlanSegment] = []
        self._starts: list[int] = []
        self._current: PlanSegment | None = None

    def plan_at(self, t_ns: int) -> Plan:
        current = self._current
        if current is None or not current.start_ns <= t_ns < current.end_ns:
            current = self._current = self._find(t_ns)
        return current.plan

    def _find(self, t_ns: int) -> PlanSegment:
        if not self._segments or not self._segments[0].start_ns <= t_ns < self._segments[-1].end_ns:
            self._segments = plan_segments(self._calendar, self._tz, t_ns, t_ns + self._window_ns)
            self._starts = [s.start_ns for s in self._segments]
        return self._segments[bisect.bisect_right(self._starts, t_ns) - 1]
