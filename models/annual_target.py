"""Metres this year against the annual target: attainment, the pro-rata target now, the year-end projection.

    attainment_pct = 100 x printed_m / annual_target_m
    expected_m     = annual_target_m x elapsed planned time / the year's planned time
    pace_pct       = 100 x printed_m / expected_m
    projected_m    = printed_m / elapsed planned time x the year's planned time

"Planned time" is planned busy time: shift time minus planned breaks (ISO
22400 PBT). The target is printed only then, so the pro-rata target grows
during shifts and stands still over breaks and the nights of a two-shift
plant; against calendar time such a plant would open every morning behind
and catch up by evening. A daylight-saving change moves the year's planned
time by the hour it adds or removes, as it moves the shifts themselves.
The year is the plant's (``[plant] year_start_month``), in production dates
(``periods.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from shopfloor.models.calendar import shift_instances
from shopfloor.models.periods import Period, PeriodRange, period_range, planned_busy_ns
from shopfloor.models.plant import ShiftCalendar
from shopfloor.models.timebase import NS_PER_S


@dataclass(frozen=True, slots=True)
class AnnualTargetProgress:
    year: PeriodRange  # the whole year now_ns falls in
    now_ns: int
    printed_m: float  # metres printed this year up to now_ns
    annual_target_m: float
    attainment_pct: float  # share of the annual target printed so far
    year_planned_s: float  # planned busy time of the whole year
    elapsed_planned_s: float  # of it, up to now_ns
    expected_m: float | None  # the pro-rata target at now_ns; None if the calendar plans no time at all
    pace_pct: float | None  # printed against expected; None before the year's first planned second
    projected_m: float | None  # year-end metres at this year's rate so far; None as pace_pct


def annual_target_progress(
    calendar: ShiftCalendar,
    tz: ZoneInfo,
    now_ns: int,
    printed_m: float,
    annual_target_m: float,
    *,
    year_start_month: int = 1,
) -> AnnualTargetProgress:
    if not (math.isfinite(printed_m) and printed_m >= 0):
        raise ValueError(f"printed_m must be a finite number of metres >= 0, got {printed_m!r}")
    if not (math.isfinite(annual_target_m) and annual_target_m > 0):
        raise ValueError(f"annual_target_m must be a finite number of metres > 0, got {annual_target_m!r}")
    year = period_range(calendar, tz, Period.YEAR, now_ns, year_start_month=year_start_month)
    instances = shift_instances(calendar, tz, year.start_ns, year.end_ns)
    year_planned_ns = planned_busy_ns(instances, year.start_ns, year.end_ns)
    elapsed_ns = planned_busy_ns(instances, year.start_ns, now_ns)
    expected_m = annual_target_m * elapsed_ns / year_planned_ns if year_planned_ns else None
    pace_pct = projected_m = None
    if elapsed_ns > 0:  # so the year plans time and expected_m > 0
        pace_pct = 100.0 * printed_m * year_planned_ns / (annual_target_m * elapsed_ns)
        projected_m = printed_m * year_planned_ns / elapsed_ns
    return AnnualTargetProgress(
        year=year,
        now_ns=now_ns,
        printed_m=printed_m,
        annual_target_m=annual_target_m,
        attainment_pct=100.0 * printed_m / annual_target_m,
        year_planned_s=year_planned_ns / NS_PER_S,
        elapsed_planned_s=elapsed_ns / NS_PER_S,
        expected_m=expected_m,
        pace_pct=pace_pct,
        projected_m=projected_m,
    )
