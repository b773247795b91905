"""Reporting periods: known answers for the built-in plant, daylight saving, gaps between shifts, tiling."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.periods import (
    Period,
    period_dates,
    period_of_date,
    period_range,
    periods_between,
    planned_busy_ns,
    production_date_at,
    year_to_date,
)
from shopfloor.models.plant import PlannedBreak, Shift, ShiftCalendar, load_plant

PLANT = load_plant()
CALENDAR = PLANT.shift_calendar  # early 06-14, late 14-22, night 22-06 (read from the built-in plant file)
SHANGHAI = PLANT.tz
BERLIN = ZoneInfo("Europe/Berlin")
H = 3600


def at(tz: ZoneInfo, *args: int) -> int:
    return to_ns(dt.datetime(*args, tzinfo=tz))


def sh(*args: int) -> int:
    return at(SHANGHAI, *args)


def three_shifts() -> ShiftCalendar:
    """The built-in plant's shifts, to put in another time zone."""
    return ShiftCalendar(shifts=CALENDAR.shifts)


def two_shifts() -> ShiftCalendar:
    """06:00-14:00 and 14:00-22:00 with a half-hour break each; nobody works 22:00-06:00."""
    return ShiftCalendar(
        shifts=[
            Shift(
                id="early",
                name="Early",
                name_zh="早班",
                start=dt.time(6),
                end=dt.time(14),
                breaks=[PlannedBreak(start=dt.time(10), duration_min=30)],
            ),
            Shift(
                id="late",
                name="Late",
                name_zh="中班",
                start=dt.time(14),
                end=dt.time(22),
                breaks=[PlannedBreak(start=dt.time(18), duration_min=30)],
            ),
        ]
    )


def test_the_built_in_plant_has_the_shifts_these_answers_assume() -> None:
    assert [(s.id, s.start, s.end) for s in CALENDAR.shifts] == [
        ("early", dt.time(6), dt.time(14)),
        ("late", dt.time(14), dt.time(22)),
        ("night", dt.time(22), dt.time(6)),
    ]
    assert PLANT.plant.timezone == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("period", "label", "start", "end"),
    [
        (Period.SHIFT, "2026-11-24/early", (2026, 11, 24, 6), (2026, 11, 24, 14)),
        (Period.DAY, "2026-11-24", (2026, 11, 24, 6), (2026, 11, 25, 6)),
        (Period.WEEK, "2026-W48", (2026, 11, 23, 6), (2026, 11, 30, 6)),
        (Period.MONTH, "2026-11", (2026, 11, 1, 6), (2026, 12, 1, 6)),
        (Period.QUARTER, "2026-Q4", (2026, 10, 1, 6), (2027, 1, 1, 6)),
        (Period.YEAR, "2026", (2026, 1, 1, 6), (2027, 1, 1, 6)),
    ],
)
def test_every_period_of_a_tuesday_noon(
    period: Period, label: str, start: tuple[int, ...], end: tuple[int, ...]
) -> None:
    r = period_range(CALENDAR, SHANGHAI, period, sh(2026, 11, 24, 12))
    assert (r.period, r.label, r.start_ns, r.end_ns) == (period, label, sh(*start), sh(*end))


def test_the_night_shift_belongs_to_the_day_it_starts() -> None:
    one_am = sh(2026, 11, 25, 1)
    assert production_date_at(CALENDAR, SHANGHAI, one_am) == dt.date(2026, 11, 24)
    night = period_range(CALENDAR, SHANGHAI, Period.SHIFT, one_am)
    assert (night.label, night.start_ns, night.end_ns) == (
        "2026-11-24/night",
        sh(2026, 11, 24, 22),
        sh(2026, 11, 25, 6),
    )
    assert night.first_date == night.last_date == dt.date(2026, 11, 24)
    assert period_range(CALENDAR, SHANGHAI, Period.DAY, one_am).label == "2026-11-24"
    # The day turns with the early shift, not at midnight.
    assert production_date_at(CALENDAR, SHANGHAI, sh(2026, 11, 25, 6) - 1) == dt.date(2026, 11, 24)
    assert production_date_at(CALENDAR, SHANGHAI, sh(2026, 11, 25, 6)) == dt.date(2026, 11, 25)


def test_the_night_shift_of_new_years_eve_belongs_to_the_old_year() -> None:
    new_years_night = sh(2027, 1, 1, 3)
    expected = {
        Period.SHIFT: ("2026-12-31/night", (2026, 12, 31, 22), (2027, 1, 1, 6)),
        Period.DAY: ("2026-12-31", (2026, 12, 31, 6), (2027, 1, 1, 6)),
        Period.WEEK: ("2026-W53", (2026, 12, 28, 6), (2027, 1, 4, 6)),
        Period.MONTH: ("2026-12", (2026, 12, 1, 6), (2027, 1, 1, 6)),
        Period.QUARTER: ("2026-Q4", (2026, 10, 1, 6), (2027, 1, 1, 6)),
        Period.YEAR: ("2026", (2026, 1, 1, 6), (2027, 1, 1, 6)),
    }
    for period, (label, start, end) in expected.items():
        r = period_range(CALENDAR, SHANGHAI, period, new_years_night)
        assert (r.label, r.start_ns, r.end_ns) == (label, sh(*start), sh(*end)), period
    year = period_range(CALENDAR, SHANGHAI, Period.YEAR, new_years_night)
    assert (year.first_date, year.last_date) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    # The last nanosecond of the night shift is still 2026; the early shift of 1 January opens 2027.
    assert period_range(CALENDAR, SHANGHAI, Period.YEAR, sh(2027, 1, 1, 6) - 1).label == "2026"
    assert period_range(CALENDAR, SHANGHAI, Period.YEAR, sh(2027, 1, 1, 6)).label == "2027"


def test_iso_weeks_start_on_monday_and_2026_has_53() -> None:
    assert period_dates(Period.WEEK, dt.date(2026, 12, 31)) == (dt.date(2026, 12, 28), dt.date(2027, 1, 4), "2026-W53")
    assert period_dates(Period.WEEK, dt.date(2027, 1, 3))[2] == "2026-W53"  # a Sunday of 2027 in week 53 of 2026
    assert period_dates(Period.WEEK, dt.date(2027, 1, 4))[2] == "2027-W01"
    assert period_dates(Period.WEEK, dt.date(2025, 12, 29))[2] == "2026-W01"  # a Monday of 2025 in 2026's week 1
    assert period_dates(Period.WEEK, dt.date(2025, 12, 28))[2] == "2025-W52"
    weeks = periods_between(CALENDAR, SHANGHAI, Period.WEEK, sh(2026, 1, 5, 6), sh(2027, 1, 4, 6))
    assert len(weeks) == 52 and weeks[-1].label == "2026-W53" and weeks[0].label == "2026-W02"
    assert all(w.first_date.weekday() == 0 and (w.last_date - w.first_date).days == 6 for w in weeks)


def test_quarters_start_in_january_april_july_and_october() -> None:
    quarters = periods_between(CALENDAR, SHANGHAI, Period.QUARTER, sh(2026, 1, 1, 6), sh(2027, 1, 1, 6))
    assert [(q.label, q.first_date, q.last_date) for q in quarters] == [
        ("2026-Q1", dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
        ("2026-Q2", dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
        ("2026-Q3", dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
        ("2026-Q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
    ]
    assert quarters[1].start_ns == sh(2026, 4, 1, 6)
    assert period_range(CALENDAR, SHANGHAI, Period.QUARTER, sh(2026, 4, 1, 5)).label == "2026-Q1"  # 31 March's night


def test_a_fiscal_year_from_april() -> None:
    moment = sh(2027, 2, 10, 12)
    year = period_range(CALENDAR, SHANGHAI, Period.YEAR, moment, year_start_month=4)
    assert (year.label, year.start_ns, year.end_ns) == ("2026/27", sh(2026, 4, 1, 6), sh(2027, 4, 1, 6))
    quarter = period_range(CALENDAR, SHANGHAI, Period.QUARTER, moment, year_start_month=4)
    assert (quarter.label, quarter.start_ns, quarter.end_ns) == ("2026/27-Q4", sh(2027, 1, 1, 6), sh(2027, 4, 1, 6))
    assert period_range(CALENDAR, SHANGHAI, Period.MONTH, moment, year_start_month=4).label == "2027-02"
    first = period_range(CALENDAR, SHANGHAI, Period.QUARTER, sh(2026, 6, 30, 23), year_start_month=4)
    assert (first.label, first.first_date, first.last_date) == ("2026/27-Q1", dt.date(2026, 4, 1), dt.date(2026, 6, 30))
    ytd = year_to_date(CALENDAR, SHANGHAI, sh(2026, 5, 1, 12), year_start_month=4)
    assert (ytd.label, ytd.start_ns) == ("2026/27", sh(2026, 4, 1, 6))


def test_months_of_a_year_are_twelve_whole_months() -> None:
    months = periods_between(CALENDAR, SHANGHAI, Period.MONTH, sh(2026, 1, 1, 6), sh(2027, 1, 1, 6))
    assert [m.label for m in months] == [f"2026-{n:02d}" for n in range(1, 13)]
    assert sum(m.duration_s for m in months) == 365 * 24 * H
    # A range inside months lists them whole.
    part = periods_between(CALENDAR, SHANGHAI, Period.MONTH, sh(2026, 3, 15, 0), sh(2026, 6, 10, 0))
    assert [m.label for m in part] == ["2026-03", "2026-04", "2026-05", "2026-06"]
    assert part[0].start_ns == sh(2026, 3, 1, 6) and part[-1].end_ns == sh(2026, 7, 1, 6)
    # 15 March 00:00 is 14 March's night shift, still March.
    assert periods_between(CALENDAR, SHANGHAI, Period.MONTH, sh(2026, 3, 1, 3), sh(2026, 3, 1, 4))[0].label == "2026-02"


def test_ten_years_of_months() -> None:
    months = periods_between(CALENDAR, SHANGHAI, Period.MONTH, sh(2017, 1, 1, 6), sh(2027, 1, 1, 6))
    assert len(months) == 120 and months[0].label == "2017-01" and months[-1].label == "2026-12"


def test_empty_and_bad_requests() -> None:
    assert periods_between(CALENDAR, SHANGHAI, Period.DAY, sh(2026, 5, 1), sh(2026, 5, 1)) == []
    assert periods_between(CALENDAR, SHANGHAI, Period.SHIFT, sh(2026, 5, 2), sh(2026, 5, 1)) == []
    with pytest.raises(ValueError, match="several shifts"):
        period_of_date(CALENDAR, SHANGHAI, Period.SHIFT, dt.date(2026, 5, 1))
    with pytest.raises(
        ValueError, match="period must be one of shift, day, week, month, quarter, year, got 'fortnight'"
    ):
        period_range(CALENDAR, SHANGHAI, "fortnight", sh(2026, 5, 1))
    # A query string names a period as well as the member does.
    assert period_range(CALENDAR, SHANGHAI, "month", sh(2026, 5, 1, 12)).period is Period.MONTH
    with pytest.raises(ValueError, match="month number 1-12, got 13"):
        period_range(CALENDAR, SHANGHAI, Period.YEAR, sh(2026, 5, 1), year_start_month=13)


def test_year_to_date_runs_from_the_years_first_shift_to_now() -> None:
    now = sh(2026, 3, 1, 12)
    ytd = year_to_date(CALENDAR, SHANGHAI, now)
    assert (ytd.label, ytd.start_ns, ytd.end_ns) == ("2026", sh(2026, 1, 1, 6), now)
    assert (ytd.first_date, ytd.last_date) == (dt.date(2026, 1, 1), dt.date(2026, 3, 1))
    # In the night shift of New Year's Eve it is still the old year's.
    late = year_to_date(CALENDAR, SHANGHAI, sh(2027, 1, 1, 3))
    assert (late.label, late.start_ns, late.last_date) == ("2026", sh(2026, 1, 1, 6), dt.date(2026, 12, 31))
    first = year_to_date(CALENDAR, SHANGHAI, sh(2027, 1, 1, 6))
    assert (first.label, first.start_ns, first.end_ns) == ("2027", sh(2027, 1, 1, 6), sh(2027, 1, 1, 6))


def test_a_daylight_saving_change_makes_a_23_and_a_25_hour_day() -> None:
    berlin = three_shifts()
    # Clocks go forward at 02:00 on Sunday 29 March 2026: inside Saturday's night shift.
    saturday = period_range(berlin, BERLIN, Period.DAY, at(BERLIN, 2026, 3, 28, 12))
    assert (saturday.label, saturday.duration_s) == ("2026-03-28", 23 * H)
    assert saturday.start_ns == at(BERLIN, 2026, 3, 28, 6) and saturday.end_ns == at(BERLIN, 2026, 3, 29, 6)
    night = period_range(berlin, BERLIN, Period.SHIFT, at(BERLIN, 2026, 3, 29, 4))
    assert (night.label, night.duration_s) == ("2026-03-28/night", 7 * H)
    assert period_range(berlin, BERLIN, Period.DAY, at(BERLIN, 2026, 3, 29, 12)).duration_s == 24 * H
    # Back at 03:00 on Sunday 25 October 2026.
    assert period_range(berlin, BERLIN, Period.DAY, at(BERLIN, 2026, 10, 24, 12)).duration_s == 25 * H
    assert period_range(berlin, BERLIN, Period.WEEK, at(BERLIN, 2026, 3, 25)).duration_s == (7 * 24 - 1) * H
    assert period_range(berlin, BERLIN, Period.MONTH, at(BERLIN, 2026, 3, 25)).duration_s == (31 * 24 - 1) * H
    assert period_range(berlin, BERLIN, Period.YEAR, at(BERLIN, 2026, 3, 25)).duration_s == 365 * 24 * H
    # The spring day plans an hour less production: 3 x 7.5 h - 1 h.
    instances = shift_instances(berlin, BERLIN, saturday.start_ns, saturday.end_ns)
    assert planned_busy_ns(instances, saturday.start_ns, saturday.end_ns) == int(21.5 * H) * 10**9


def test_time_between_shifts_belongs_to_the_shift_before() -> None:
    calendar, utc = two_shifts(), ZoneInfo("UTC")
    night = at(utc, 2026, 11, 24, 23)
    late = period_range(calendar, utc, Period.SHIFT, night)
    assert (late.label, late.start_ns, late.end_ns) == (
        "2026-11-24/late",
        at(utc, 2026, 11, 24, 14),
        at(utc, 2026, 11, 25, 6),
    )
    day = period_range(calendar, utc, Period.DAY, at(utc, 2026, 11, 25, 3))
    assert (day.label, day.start_ns, day.end_ns) == ("2026-11-24", at(utc, 2026, 11, 24, 6), at(utc, 2026, 11, 25, 6))
    # No production is planned in the gap: the day plans 2 x 7.5 h.
    instances = shift_instances(calendar, utc, day.start_ns, day.end_ns)
    assert planned_busy_ns(instances, day.start_ns, day.end_ns) == 15 * H * 10**9
    assert planned_busy_ns(instances, at(utc, 2026, 11, 24, 22), day.end_ns) == 0


def test_planned_busy_time_leaves_out_breaks_and_clips_to_the_range() -> None:
    start = sh(2026, 11, 24, 6)
    instances = shift_instances(CALENDAR, SHANGHAI, start, sh(2026, 11, 25, 6))
    assert planned_busy_ns(instances, start, sh(2026, 11, 25, 6)) == int(22.5 * H) * 10**9
    assert planned_busy_ns(instances, start, sh(2026, 11, 24, 10, 15)) == 4 * H * 10**9  # the break began at 10:00
    assert planned_busy_ns(instances, start, sh(2026, 11, 24, 11)) == int(4.5 * H) * 10**9


# ----------------------------------------------------------------------------- properties

# Shift boundaries avoid 02:xx, where daylight saving skips or repeats an hour in these zones: a local time
# that does not exist is the calendar's problem to resolve, not a period's.
_HOURS = [h for h in range(24) if h != 2]
_ZONES = ["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]


@st.composite
def calendars(draw: st.DrawFn) -> ShiftCalendar:
    starts = sorted(draw(st.lists(st.sampled_from(_HOURS), min_size=1, max_size=4, unique=True)))
    shifts = []
    for i, start in enumerate(starts):
        next_start = starts[i + 1] if i + 1 < len(starts) else starts[0] + 24
        hours = draw(st.sampled_from([d for d in range(1, next_start - start + 1) if (start + d) % 24 != 2]))
        shifts.append(
            Shift(id=f"s{i}", name=f"S{i}", name_zh=f"班{i}", start=dt.time(start), end=dt.time((start + hours) % 24))
        )
    return ShiftCalendar(shifts=shifts)


# Longest range drawn per period: enough to cross several boundaries, short enough to check every shift.
_SPAN_DAYS = {
    Period.SHIFT: 10,
    Period.DAY: 40,
    Period.WEEK: 120,
    Period.MONTH: 400,
    Period.QUARTER: 700,
    Period.YEAR: 900,
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calendar=calendars(),
    zone=st.sampled_from(_ZONES),
    period=st.sampled_from(list(Period)),
    start_s=st.integers(
        to_ns(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)) // 10**9, to_ns(dt.datetime(2035, 1, 1, tzinfo=dt.UTC)) // 10**9
    ),
    span=st.floats(0.001, 1.0),
    year_start_month=st.integers(1, 12),
)
def test_periods_tile_the_range_and_hold_every_shift_once(
    calendar: ShiftCalendar, zone: str, period: Period, start_s: int, span: float, year_start_month: int
) -> None:
    tz = ZoneInfo(zone)
    start_ns = start_s * 10**9 + 123
    end_ns = start_ns + int(span * _SPAN_DAYS[period] * 86_400) * 10**9 + 1
    periods = periods_between(calendar, tz, period, start_ns, end_ns, year_start_month=year_start_month)
    # Tiling: back to back, each non-empty, together covering the range.
    assert periods and periods[0].start_ns <= start_ns and periods[-1].end_ns >= end_ns
    assert all(p.start_ns < p.end_ns for p in periods)
    for a, b in itertools.pairwise(periods):
        assert a.end_ns == b.start_ns
        if period is Period.SHIFT:
            assert a.last_date <= b.first_date
        else:
            assert a.last_date + dt.timedelta(days=1) == b.first_date
    assert len({p.label for p in periods}) == len(periods)
    # Every shift in the range lies inside exactly one period, the one holding its production date.
    for instance in shift_instances(calendar, tz, start_ns, end_ns):
        holding = [p for p in periods if p.start_ns <= instance.start_ns and instance.end_ns <= p.end_ns]
        assert len(holding) == 1, instance.key
        assert holding[0].first_date <= instance.production_date <= holding[0].last_date
    # Looking a moment up gives the period listed for it.
    for moment in (start_ns, (start_ns + end_ns) // 2, end_ns - 1):
        found = period_range(calendar, tz, period, moment, year_start_month=year_start_month)
        assert found == next(p for p in periods if p.contains(moment))
