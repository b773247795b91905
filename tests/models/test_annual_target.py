"""Metres this year against the annual target: answers worked out by hand for the built-in plant's shifts.

The built-in calendar plans 3 shifts x (8 h - 0.5 h break) = 22.5 h a day; 2026 has 365 days, so the year
plans 8 212.5 h. Its year starts at 06:00 on 1 January (Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo

import pytest

from shopfloor.models.annual_target import annual_target_progress
from shopfloor.models.calendar import to_ns
from shopfloor.models.plant import PlannedBreak, Shift, ShiftCalendar, load_plant

PLANT = load_plant()
CALENDAR, TZ = PLANT.shift_calendar, PLANT.tz
H = 3600.0


def sh(*args: int) -> int:
    return to_ns(dt.datetime(*args, tzinfo=TZ))


def test_the_built_in_plant_has_an_annual_target() -> None:
    assert PLANT.printer("mso-cpp-1").annual_target_m == 28_000_000


def test_attainment_pace_and_projection_on_24_november() -> None:
    # 1 Jan - 23 Nov: 327 whole days x 22.5 h; 24 Nov 06:00-12:00 less the 10:00-10:30 break: 5.5 h.
    progress = annual_target_progress(CALENDAR, TZ, sh(2026, 11, 24, 12), 25_000_000.0, 28_000_000.0)
    assert progress.year.label == "2026"
    assert progress.year_planned_s == 8212.5 * H
    assert progress.elapsed_planned_s == 7363 * H
    assert progress.attainment_pct == pytest.approx(100 * 25 / 28)  # 89.29 %
    assert progress.expected_m == pytest.approx(28_000_000 * 7363 / 8212.5)  # 25 103 683 m
    assert progress.pace_pct == pytest.approx(100 * 25_000_000 / (28_000_000 * 7363 / 8212.5))  # 99.59 %
    assert progress.projected_m == pytest.approx(25_000_000 * 8212.5 / 7363)  # 27 884 354 m


def test_the_pro_rata_target_stands_still_over_a_break() -> None:
    def expected(*moment: int) -> float | None:
        return annual_target_progress(CALENDAR, TZ, sh(*moment), 1.0, 8212.5).expected_m

    # A target of 8 212.5 m is one metre per planned hour: 31 Jan 06:00 is 30 days (675 h) in.
    assert expected(2026, 1, 31, 10) == pytest.approx(675 + 4)
    assert expected(2026, 1, 31, 10, 20) == pytest.approx(675 + 4)
    assert expected(2026, 1, 31, 10, 30) == pytest.approx(675 + 4)
    assert expected(2026, 1, 31, 11) == pytest.approx(675 + 4.5)


def test_at_the_years_first_moment_there_is_no_rate_yet() -> None:
    progress = annual_target_progress(CALENDAR, TZ, sh(2026, 1, 1, 6), 0.0, 28_000_000.0)
    assert (progress.expected_m, progress.pace_pct, progress.projected_m) == (0.0, None, None)
    assert progress.attainment_pct == 0.0


def test_new_years_night_still_counts_for_the_old_year() -> None:
    # 03:00 on 1 January 2027: the night shift of 31 December; 3 of its 7.5 planned hours are still to come.
    progress = annual_target_progress(CALENDAR, TZ, sh(2027, 1, 1, 3), 27_000_000.0, 28_000_000.0)
    assert progress.year.label == "2026"
    assert progress.elapsed_planned_s == (8212.5 - 3) * H
    assert progress.projected_m == pytest.approx(27_000_000 * 8212.5 / 8209.5)


def test_a_fiscal_year_and_a_two_shift_plant() -> None:
    utc = ZoneInfo("UTC")
    two_shifts = ShiftCalendar(
        shifts=[
            Shift(id="early", name="Early", name_zh="早班", start=dt.time(6), end=dt.time(14)),
            Shift(
                id="late",
                name="Late",
                name_zh="中班",
                start=dt.time(14),
                end=dt.time(22),
                breaks=[PlannedBreak(start=dt.time(18), duration_min=60)],
            ),
        ]
    )

    def progress_at(*moment: int) -> float | None:
        at = to_ns(dt.datetime(*moment, tzinfo=utc))
        return annual_target_progress(two_shifts, utc, at, 1.0, 1000.0, year_start_month=4).expected_m

    # The fiscal year 2026/27 has 365 days of 15 planned hours; 1 May 06:00 is 30 days in.
    assert progress_at(2026, 5, 1, 6) == pytest.approx(1000 * 30 / 365)
    # Nobody works 22:00-06:00: the pro-rata target does not move overnight.
    assert progress_at(2026, 5, 1, 22) == pytest.approx(1000 * 31 / 365)
    assert progress_at(2026, 5, 2, 5, 59) == pytest.approx(1000 * 31 / 365)


@pytest.mark.parametrize(
    ("printed_m", "target_m", "words"),
    [
        (-1.0, 1000.0, "printed_m must be a finite number of metres >= 0, got -1.0"),
        (math.nan, 1000.0, "printed_m must be a finite number"),
        (10.0, 0.0, "annual_target_m must be a finite number of metres > 0, got 0.0"),
        (10.0, math.inf, "annual_target_m must be a finite number"),
    ],
)
def test_bad_input_names_what_was_expected(printed_m: float, target_m: float, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        annual_target_progress(CALENDAR, TZ, sh(2026, 5, 1), printed_m, target_m)
