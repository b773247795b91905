"""Period reports: the sums of per-shift totals per period are exactly what a report of that period gives.

``period_reports`` skips a report's per-shift and per-day groupings (a year or ten of them are most of the work)
but must not change a single figure: a span over the whole range gives the report's equipment KPIs and team
scores and ranks (==, not approx), and every period of a partition gives what a report of that period alone gives.
Totals are random (Hypothesis) over the default plant's calendar, whose crews rotate, so crew teams are scored
on some shifts of a period and not others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.kpi.fleet import N_ROBOT_STATES, FleetTotals
from shopfloor.models.kpi.oee import TimeTotals
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.kpi.report import EquipmentTotals, KpiReport, PeriodReport, assemble_report, period_reports
from shopfloor.models.periods import Period, periods_between
from shopfloor.models.plant import load_plant

PLANT = load_plant()
ROBOTS = [r.id for f in PLANT.fleets for r in f.robots]
DAY0 = dt.datetime(2026, 12, 29, 12, tzinfo=PLANT.tz)  # a week and a month and a year end inside the range
amount = st.floats(min_value=0.0, max_value=30_000.0)
count = st.integers(min_value=0, max_value=40)


@st.composite
def printer_totals(draw: st.DrawFn) -> PrinterTotals:
    reasons = st.sampled_from([0, 1, 10, 20, 30])
    return PrinterTotals(
        TimeTotals(*(draw(amount) for _ in range(8)), draw(count), draw(count), draw(amount)),
        *(draw(amount) for _ in range(9)),
        draw(count),
        draw(count),
        draw(st.dictionaries(reasons, amount, max_size=4)),
        draw(st.dictionaries(reasons, count, max_size=4)),
        draw(amount),
    )


@st.composite
def robot_totals(draw: st.DrawFn, robot_id: str) -> FleetTotals:
    return FleetTotals(
        tuple(draw(amount) for _ in range(N_ROBOT_STATES)),
        *(draw(amount) for _ in range(5)),
        tuple(draw(st.lists(st.floats(min_value=1.0, max_value=3000.0), max_size=4))),
        frozenset({robot_id}),
    )


@st.composite
def ranges(draw: st.DrawFn) -> tuple[int, int, EquipmentTotals]:
    """A range of whole shifts (or starting mid-shift) over the turn of the year, and random totals per shift."""
    start_ns = to_ns(DAY0) + draw(st.integers(min_value=0, max_value=24 * 3600)) * 1_000_000_000
    end_ns = start_ns + draw(st.integers(min_value=1, max_value=5 * 24 * 3600)) * 1_000_000_000
    instances = tuple(shift_instances(PLANT.shift_calendar, PLANT.tz, start_ns, end_ns))
    n = len(instances)
    printers = {p.id: [draw(printer_totals()) for _ in range(n)] for p in PLANT.printers}
    robots = {r: [draw(robot_totals(r)) for _ in range(n)] for r in ROBOTS}
    return start_ns, end_ns, EquipmentTotals(instances, printers, robots, {})


def same_figures(period: PeriodReport, report: KpiReport) -> None:
    assert period.printers == report.printers
    assert period.fleets == report.fleets
    assert period.robots == report.robots
    assert period.shifts == len(report.shifts)
    assert [(t.team_id, t.rank, t.shifts, t.score) for t in period.teams] == [
        (t.team_id, t.rank, t.shifts, t.score) for t in report.teams
    ]


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ranges())
def test_a_span_over_the_whole_range_is_the_report_of_the_range(case: tuple[int, int, EquipmentTotals]) -> None:
    start_ns, end_ns, totals = case
    (whole,) = period_reports(PLANT, start_ns, end_ns, totals, [("total", start_ns, end_ns)])
    same_figures(whole, assemble_report(PLANT, start_ns, end_ns, totals))


@SETTINGS
@given(ranges(), st.sampled_from([Period.SHIFT, Period.DAY, Period.WEEK, Period.MONTH, Period.YEAR]))
def test_each_period_is_the_report_of_that_period_alone(case: tuple[int, int, EquipmentTotals], period: Period) -> None:
    start_ns, end_ns, totals = case
    found = periods_between(PLANT.shift_calendar, PLANT.tz, period, start_ns, end_ns)
    spans = [(p.label, max(p.start_ns, start_ns), min(p.end_ns, end_ns)) for p in found]
    reports = period_reports(PLANT, start_ns, end_ns, totals, spans)
    assert [r.label for r in reports] == [p.label for p in found]
    assert sum(r.shifts for r in reports) == len(totals.instances), "every shift in exactly one period"
    starts = [max(i.start_ns, start_ns) for i in totals.instances]
    for r in reports:
        ks = [k for k, s in enumerate(starts) if r.start_ns <= s < r.end_ns]
        alone = EquipmentTotals(
            tuple(totals.instances[k] for k in ks),
            {p: [t[k] for k in ks] for p, t in totals.printers.items()},
            {x: [t[k] for k in ks] for x, t in totals.robots.items()},
            {},
        )
        same_figures(r, assemble_report(PLANT, r.start_ns, r.end_ns, alone))


def test_a_team_period_carries_its_own_printers_downtime_and_energy() -> None:
    start_ns = to_ns(DAY0.replace(hour=6))  # the production day's first shift starts
    instances = tuple(shift_instances(PLANT.shift_calendar, PLANT.tz, start_ns, start_ns + 24 * 3600 * 10**9))
    assert [i.production_date for i in instances] == [DAY0.date()] * 3
    one = PrinterTotals(
        TimeTotals(apt_s=20_000.0, adot_s=600.0), printed_m=9000.0, energy_kwh=600.0, downtime_s_by_reason={20: 600.0}
    )
    totals = EquipmentTotals(
        instances,
        {"mso-cpp-1": [dataclasses.replace(one, printed_m=1000.0 * (k + 1)) for k in range(len(instances))]},
        {r: [FleetTotals(robot_ids=frozenset({r}))] * len(instances) for r in ROBOTS},
        {},
    )
    (day,) = period_reports(PLANT, start_ns, instances[-1].end_ns, totals, [("day", start_ns, instances[-1].end_ns)])
    crews = {t.team_id: t for t in day.teams}
    # each crew works one of the three shifts: its printer figures are that shift's
    worked = {i.crew: k for k, i in enumerate(instances)}
    for crew, k in worked.items():
        assert crews[crew].printer is not None and crews[crew].printer.printed_m == 1000.0 * (k + 1)
        assert crews[crew].printer.pareto[0].reason_code == 20 and crews[crew].shifts == 1
    assert crews["gravure"].printer is not None and crews["gravure"].printer.printed_m == 6000.0
    assert crews["charging-robots"].printer is None and crews["charging-robots"].fleet is not None
