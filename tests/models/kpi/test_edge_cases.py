"""Edge cases: empty input, one sample, PBT = 0, nothing printed, all no data, wraps and resets,
a night shift across midnight in Asia/Shanghai, crew rotation, and the full report."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.kpi import (
    KpiConfig,
    build_report,
    energy_kpis,
    fleet_kpis,
    increments,
    printer_kpis,
    printer_shift_totals,
    throughput,
)
from shopfloor.models.kpi.clean import clean_series
from shopfloor.models.kpi.fleet import FleetTotals
from shopfloor.models.kpi.oee import TimeTotals
from shopfloor.models.kpi.pipeline import printer_gap_ns
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.kpi.teams import attainment, score
from shopfloor.models.plant import Direction, Objective, ObjectiveKpi, load_plant
from shopfloor.models.samples import ConnectivityEvent, Series
from shopfloor.models.states import PrinterState as S
from shopfloor.models.states import RobotState as R
from tests.models.kpi._series import printer_fields

PLANT = load_plant()
TZ = PLANT.tz
NS = 1_000_000_000
EMPTY = Series(np.empty(0, dtype=np.int64), np.empty(0))


def day(y=2026, m=11, d=24, h=6):
    return to_ns(dt.datetime(y, m, d, h, tzinfo=TZ))


def test_empty_input_gives_no_data_not_zero():
    start = day()
    report = build_report(PLANT, start, start + 8 * 3600 * NS, {})
    p = report.printers["mso-cpp-1"]
    assert p.times.no_data_s == 8 * 3600 and p.times.pbt_s == 0
    assert p.oee.availability_pct is None and p.oee.oee_pct is None
    assert p.energy.energy_kwh_per_m is None and p.energy.energy_saving_pct is None
    f = report.fleets["ev-robots"]
    assert f.availability_pct is None and f.response_p90_s is None and f.charging_success_pct is None
    assert all(h is None for h in report.throughput["mso-cpp-1"].printed_m)
    # No data is not zero metres: no objective applies, so no team has a score (not 0).
    assert all(t.score.score is None for t in report.teams)
    assert all(o.actual is None for t in report.teams for o in t.score.objectives)


def test_single_sample_holds_only_if_the_range_ends_within_the_gap():
    start = day()
    # The gap follows the plant file's poll interval: derive it rather than assume 1 s polls.
    gap = printer_gap_ns(PLANT.printers[0], KpiConfig())
    one = {"state": Series(np.array([start], dtype=np.int64), np.array([float(S.RUNNING)]))}
    inst = shift_instances(PLANT.shift_calendar, TZ, start, start + gap)
    near = printer_shift_totals(PLANT.printers[0], PLANT.stop_reasons, one, start, start + gap, inst)
    assert near[0].times.apt_s == gap / NS and near[0].times.no_data_s == 0.0
    far = printer_shift_totals(PLANT.printers[0], PLANT.stop_reasons, one, start, start + 60 * NS, inst)
    assert far[0].times.apt_s == 0.0 and far[0].times.no_data_s == 60.0
    assert increments(*clean_series(one["state"]), None, None).total == 0.0


def test_pbt_zero_is_not_applicable():
    t = TimeTotals(pdot_s=3600.0)
    k = printer_kpis(PrinterTotals(times=t), PLANT.baseline, PLANT.stop_reasons)
    assert k.oee.availability_pct is None and k.oee.mtbf_min is None and k.oee.mttr_min is None


def test_nothing_printed_is_not_applicable_never_a_division_by_zero():
    e = energy_kpis(0.0, 12.0, 3.0, PLANT.baseline)
    assert e.energy_kwh_per_m is None and e.money_saving is None and e.energy_kwh == 12.0
    k = printer_kpis(PrinterTotals(times=TimeTotals(apt_s=60.0)), PLANT.baseline, PLANT.stop_reasons)
    assert k.oee.availability_pct == 100.0
    assert k.oee.performance_pct == 0.0  # ran and printed nothing: a real 0
    assert k.oee.quality_pct is None and k.oee.oee_pct is None


def test_energy_savings_against_the_baseline():
    b = PLANT.baseline
    e = energy_kpis(1000.0, 70.0, 150.0, b)
    assert e.energy_kwh_per_m == pytest.approx(0.07)
    assert e.energy_saving_kwh == pytest.approx(1000 * b.energy_kwh_per_m - 70.0)
    assert e.energy_saving_pct == pytest.approx(100 * (b.energy_kwh_per_m - 0.07) / b.energy_kwh_per_m)
    assert e.water_saving_l == pytest.approx(1000 * b.water_l_per_m - 150.0)
    money = e.energy_saving_kwh * b.electricity_price_per_kwh + e.water_saving_l / 1000 * b.water_price_per_m3
    assert e.money_saving == pytest.approx(money) and e.currency == "CNY"


def test_wrap_and_reset_at_the_plant_files_wrap_span():
    wrap = PLANT.printers[0].signal("printed_m_total").wrap_m
    ts = np.arange(5, dtype=np.int64) * NS
    v = np.array([wrap - 0.3, wrap - 0.1, 0.2, 5000.0, 10.0])  # wrap (+0.3), +4999.8, reset (+10)
    inc = increments(ts, v, wrap, 3 * NS)
    assert inc.amount == pytest.approx([0.2, 0.3, 4999.8, 10.0], abs=1e-6)
    assert inc.wraps == 1 and inc.resets == 1
    no_wrap = increments(ts, v, None, 3 * NS)
    assert no_wrap.resets == 2 and no_wrap.amount[1] == pytest.approx(0.2)


def test_increment_across_a_gap_is_kept_but_not_in_oee():
    start = day()
    ts = start + np.array([0, 1, 2, 100, 101], dtype=np.int64) * NS
    fields = {"state": Series(ts, np.full(5, float(S.RUNNING))), "printed_m_total": Series(ts, [0, 1, 2, 90, 91.0])}
    inst = shift_instances(PLANT.shift_calendar, TZ, start, start + 102 * NS)
    t = printer_shift_totals(PLANT.printers[0], PLANT.stop_reasons, fields, start, start + 102 * NS, inst)[0]
    assert t.printed_m == 91.0 and t.printed_across_gap_m == 88.0 and t.produced_m == 3.0
    # [0, 2) and [100, 102) are observed; the last second has no closing reading yet.
    assert t.times.apt_s == 4.0 and t.times.no_data_s == 98.0


def test_outage_is_no_data_even_with_samples():
    start = day()
    fields = printer_fields(start, [(10, S.RUNNING, 0)], 800, 8)
    events = [
        ConnectivityEvent(start + 120 * NS, "mso-cpp-1", "modbus", False),
        ConnectivityEvent(start + 180 * NS, "mso-cpp-1", "modbus", True),
    ]
    report = build_report(PLANT, start, start + 600 * NS, {"mso-cpp-1": fields}, events)
    t = report.printers["mso-cpp-1"].times
    assert t.no_data_s == 60.0 and t.apt_s == 540.0


def test_micro_stops_are_performance_loss():
    start = day(h=7)
    sched = [(5, S.RUNNING, 0), (0.5, S.FAULT, 20), (5, S.RUNNING, 0), (3, S.FAULT, 20), (1.5, S.RUNNING, 0)]
    fields = printer_fields(start, sched, 1000, 0)
    inst = shift_instances(PLANT.shift_calendar, TZ, start, start + 15 * 60 * NS)
    cfg = KpiConfig(micro_stop_s=60)
    t = printer_shift_totals(PLANT.printers[0], PLANT.stop_reasons, fields, start, start + 900 * NS, inst, config=cfg)[
        0
    ].times
    assert t.micro_stops == 1 and t.micro_stop_s == 30 and t.failures == 1 and t.adot_s == 180
    assert t.apt_s == (5 + 0.5 + 5 + 1.5) * 60


def test_stop_across_a_shift_boundary_is_split():
    start = day(h=13)  # day shift ends 14:00
    sched = [(50, S.RUNNING, 0), (20, S.FAULT, 21), (50, S.RUNNING, 0)]
    fields = printer_fields(start, sched, 5000, 0)
    report = build_report(PLANT, start, start + 120 * 60 * NS, {"mso-cpp-1": fields}, config=KpiConfig(micro_stop_s=0))
    by_key = {s.key: s.printers["mso-cpp-1"] for s in report.shifts}
    day_k, late_k = by_key["2026-11-24/early"], by_key["2026-11-24/late"]
    assert day_k.times.adot_s == 600 and late_k.times.adot_s == 600
    assert day_k.times.failures == 1 and late_k.times.failures == 1
    assert day_k.pareto[0].key == "ink_supply"


def test_night_shift_across_midnight_in_shanghai():
    """22:00-06:00 local is 14:00-22:00 UTC; the shift belongs to the production date it started on."""
    start = to_ns(dt.datetime(2026, 11, 24, 21, 0, tzinfo=TZ))
    end = to_ns(dt.datetime(2026, 11, 25, 7, 0, tzinfo=TZ))
    sched = [(10 * 60, S.RUNNING, 0)]
    fields = printer_fields(start, sched, 48_000, 0)
    report = build_report(PLANT, start, end, {"mso-cpp-1": fields})
    keys = [s.key for s in report.shifts]
    assert keys == ["2026-11-24/late", "2026-11-24/night", "2026-11-25/early"]
    night = report.shifts[1]
    assert night.start_ns == to_ns(dt.datetime(2026, 11, 24, 14, 0, tzinfo=dt.UTC))
    k = night.printers["mso-cpp-1"]
    assert k.times.apt_s == 8 * 3600  # ran through its break: production, not planned down time
    assert k.printed_m == pytest.approx(48_000 * 8 / 10)
    assert [d.production_date for d in report.days] == [dt.date(2026, 11, 24), dt.date(2026, 11, 25)]


def test_crew_rotation_scores_only_the_shifts_a_crew_works():
    # Week of 2026-01-05 (rotation anchor): crew-a early, crew-b late, crew-c night; next week they rotate.
    start = to_ns(dt.datetime(2026, 1, 11, 6, tzinfo=TZ))  # Sunday (week 0) ... Monday (week 1)
    end = start + 2 * 86400 * NS
    report = build_report(PLANT, start, end, {"mso-cpp-1": printer_fields(start, [(2880, S.RUNNING, 0)], 200_000, 100)})
    crews = {s.key: s.crew for s in report.shifts}
    assert crews["2026-01-11/early"] == "crew-a" and crews["2026-01-12/early"] == "crew-b"
    team = {t.team_id: t for t in report.teams}
    assert team["crew-a"].shifts == 2 and set(team["crew-a"].by_shift) == {"2026-01-11/early", "2026-01-12/night"}
    assert team["gravure"].shifts == len(report.shifts) == 6
    assert set(team["crew-a"].trend) == {dt.date(2026, 1, 11), dt.date(2026, 1, 12)}
    assert sorted(t.rank for t in report.teams) == list(range(1, len(report.teams) + 1))
    json.dumps(report.to_dict())  # the API can serve it as is


def test_attainment_and_score_rules():
    assert attainment(130.0, 100.0, Direction.HIGHER, 1.2) == 1.2
    assert attainment(50.0, 100.0, Direction.HIGHER, 1.2) == 0.5
    assert attainment(0.05, 0.1, Direction.LOWER, 1.2) == 1.2
    assert attainment(0.2, 0.1, Direction.LOWER, 1.2) == 0.5
    assert attainment(0.0, 0.1, Direction.LOWER, 1.2) == 1.2
    assert attainment(None, 1.0, Direction.HIGHER, 1.2) is None
    objectives = [
        Objective(kpi=ObjectiveKpi.CHARGING_SESSIONS, target=10, weight=3),
        Objective(kpi=ObjectiveKpi.RESPONSE_TIME_P90_S, target=300, weight=1),
    ]
    fleet = fleet_kpis(FleetTotals(seconds_by_state=(3600.0,) + (0.0,) * 9, sessions_completed=15))
    s = score(objectives, None, fleet, shifts=1, cap=1.2)
    assert s.objectives[1].attainment_pct is None  # no response measured: weight renormalised
    assert s.score == 100.0  # 120 % capped, then the score itself is capped at 100
    s2 = score(objectives, None, fleet, shifts=2, cap=1.2)  # extensive KPI: target x shifts
    assert s2.objectives[0].target == 20 and s2.score == pytest.approx(75.0)


def test_fleet_availability_excludes_maintenance_and_no_data():
    secs = [0.0] * 10
    secs[R.IDLE], secs[R.CHARGING], secs[R.FAULT], secs[R.MAINTENANCE] = 1800.0, 1200.0, 600.0, 3600.0
    k = fleet_kpis(
        FleetTotals(
            seconds_by_state=tuple(secs),
            no_data_s=5000.0,
            sessions_completed=9,
            sessions_failed=1,
            energy_delivered_kwh=90.0,
            robot_ids=frozenset({"a", "b"}),
        )
    )
    assert k.availability_pct == pytest.approx(100 * 3000 / 3600)
    assert k.utilisation_pct == pytest.approx(100 * 1200 / 3600)
    assert k.charging_success_pct == 90.0 and k.energy_delivered_kwh_per_robot == 45.0


def test_throughput_buckets_mark_missing_hours_as_no_data():
    ts = np.array([0, 60, 120, 7200, 7260], dtype=np.int64) * NS
    inc = increments(ts, np.array([0, 10, 20, 30, 45.0]), None, None)  # no gap rule: nothing is flagged
    tp = throughput(inc, 0, 3 * 3600 * NS, 3600)
    # Hour 0 holds every increment that starts in it (including 120 s -> 7200 s), hour 1 none: no data.
    assert tp.amount[0] == 30.0
    assert np.isnan(tp.amount[1]) and np.isnan(tp.per_minute[1])
    assert tp.amount[2] == 15.0 and tp.per_minute[2] == pytest.approx(15 / 60)
    assert tp.across_gap == 0.0
    with pytest.raises(ValueError, match="period_s"):
        throughput(inc, 0, NS, 0)


def test_throughput_leaves_metres_read_across_a_gap_out_of_every_hour():
    """The audit's case: a 2-hour gap. The 10 m read across it have no known time, so hour 0 keeps only
    its observed 20 m (not 30), hour 1 is no data, and the 10 m are reported once as read across a gap."""
    ts = np.array([0, 60, 120, 7200, 7260], dtype=np.int64) * NS
    inc = increments(ts, np.array([0, 10, 20, 30, 45.0]), None, 180 * NS)
    assert inc.across_gap.tolist() == [False, False, True, False]
    tp = throughput(inc, 0, 3 * 3600 * NS, 3600)
    assert tp.amount[0] == 20.0 and tp.per_minute[0] == pytest.approx(20 / 60)
    assert np.isnan(tp.amount[1])
    assert tp.amount[2] == 15.0
    assert tp.across_gap == 10.0
    assert np.nansum(tp.amount) + tp.across_gap == inc.total  # nothing lost, nothing counted twice
    # A bucket in which only an across-gap increment starts is no data, not its amount.
    only_gap = throughput(inc, 0, 3 * 3600 * NS, 100)
    assert np.isnan(only_gap.amount[1]) and only_gap.amount[0] == 20.0


def test_report_hourly_metres_exclude_what_was_read_across_a_gap():
    start = day()
    fields = printer_fields(start, [(180, S.RUNNING, 0)], 18_000, 0)  # 100 m/min for 3 h
    cut = (fields["state"].ts_ns >= start + 50 * 60 * NS) & (fields["state"].ts_ns < start + 130 * 60 * NS)
    fields = {k: Series(v.ts_ns[~cut], v.value[~cut]) for k, v in fields.items()}  # 80 min without data
    report = build_report(PLANT, start, start + 3 * 3600 * NS, {"mso-cpp-1": fields})
    hourly = report.throughput["mso-cpp-1"]
    # 06:00-06:50 observed (one reading = 1.7 m): not + the 8000 m read across the gap.
    assert hourly.printed_m[0] == pytest.approx(50 * 100, abs=2)
    assert hourly.printed_m[1] is None  # 07:00-08:00 lies inside the gap: no data, not the gap's metres
    assert hourly.printed_m[2] == pytest.approx(50 * 100, abs=2)  # 08:10-09:00 observed
    assert hourly.across_gap_m == pytest.approx(80 * 100, abs=2)
    total = report.printers["mso-cpp-1"].printed_m
    assert sum(m or 0.0 for m in hourly.printed_m) + hourly.across_gap_m == pytest.approx(total)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="empty range"):
        build_report(PLANT, 10, 10, {})
    with pytest.raises(ValueError, match="micro_stop_s"):
        KpiConfig(micro_stop_s=-1)
