"""Documented decisions (docs/kpi.md), each pinned by a test that fails if the decision is undone:
one definition of a stop event, performance not capped, aggregation sums times and quantities."""

from __future__ import annotations

import datetime as dt

import pytest

from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.kpi import KpiConfig, build_report, printer_kpis, printer_shift_totals
from shopfloor.models.kpi.pipeline import printer_stop_events
from shopfloor.models.kpi.time_model import Element
from shopfloor.models.plant import load_plant
from shopfloor.models.states import PrinterState as S
from tests.models.kpi._plants import two_printer_plant
from tests.models.kpi._series import printer_fields

PLANT = load_plant()
TZ = PLANT.tz
NS = 1_000_000_000
WEB_BREAK, INK_SUPPLY, FABRIC_STARVED = 20, 21, 30  # unplanned, unplanned, external


def start_ns(h: int = 7) -> int:
    return to_ns(dt.datetime(2026, 11, 24, h, tzinfo=TZ))  # inside the early shift, clear of its 10:00 break


def totals(schedule, micro_stop_s: float = 60.0, plant=PLANT, printer: int = 0, produced: float = 1000.0):
    start = start_ns()
    end = start + int(sum(m for m, _, _ in schedule) * 60 * NS)
    inst = shift_instances(plant.shift_calendar, plant.tz, start, end)
    fields = printer_fields(start, schedule, produced, 0)
    return printer_shift_totals(
        plant.printers[printer],
        plant.stop_reasons,
        fields,
        start,
        end,
        inst,
        config=KpiConfig(micro_stop_s=micro_stop_s),
    )[0]


# ---------------------------------------------------------------- one definition of a stop event


def test_a_stop_that_changes_state_but_keeps_its_reason_is_one_stop():
    """FAULT -> HELD with the same reason: one Pareto stop and one failure (the audit counted 2 stops)."""
    t = totals([(10, S.RUNNING, 0), (3, S.FAULT, WEB_BREAK), (4, S.HELD, WEB_BREAK), (10, S.RUNNING, 0)])
    assert t.stops_by_reason == {WEB_BREAK: 1}
    assert t.downtime_s_by_reason == {WEB_BREAK: 420.0}
    assert t.times.failures == 1 and t.times.repair_s == 420.0


def test_a_stop_split_into_two_unplanned_reasons_is_two_failures():
    """What an operator's split produces: two reasons, both unplanned -> two failures, two Pareto stops
    (grouping by ISO element alone made it one failure)."""
    t = totals([(10, S.RUNNING, 0), (3, S.FAULT, WEB_BREAK), (4, S.FAULT, INK_SUPPLY), (10, S.RUNNING, 0)])
    assert t.stops_by_reason == {WEB_BREAK: 1, INK_SUPPLY: 1}
    assert t.times.failures == 2 and t.times.repair_s == 420.0
    assert t.times.adot_s == 420.0


def test_without_a_reason_the_iso_element_separates_events():
    """No reason given: FAULT (unplanned) then IDLE (external) are two events; only the first is a failure."""
    t = totals([(10, S.RUNNING, 0), (3, S.FAULT, 0), (4, S.IDLE, 0), (10, S.RUNNING, 0)])
    assert t.stops_by_reason == {0: 2}
    assert t.times.failures == 1 and t.times.adot_s == 180.0 and t.times.adet_s == 240.0


def test_short_parts_of_one_stop_are_not_micro_stops():
    """Two 40 s states of one 80 s stop: one event above the 60 s threshold, not two micro-stops."""
    t = totals([(10, S.RUNNING, 0), (40 / 60, S.FAULT, WEB_BREAK), (40 / 60, S.HELD, WEB_BREAK), (10, S.RUNNING, 0)])
    assert t.times.micro_stops == 0 and t.times.failures == 1 and t.times.adot_s == 80.0


def test_a_micro_stop_is_neither_a_failure_nor_a_pareto_stop():
    t = totals(
        [
            (10, S.RUNNING, 0),
            (0.5, S.FAULT, WEB_BREAK),
            (10, S.RUNNING, 0),
            (2, S.SUSPENDED, FABRIC_STARVED),
            (5, S.RUNNING, 0),
        ]
    )
    assert t.times.micro_stops == 1 and t.times.failures == 0
    assert t.stops_by_reason == {FABRIC_STARVED: 1}


def test_the_operator_stop_list_and_the_counts_see_the_same_events():
    """printer_stop_events (used by api/stops.py) yields exactly the events the Pareto and failures count."""
    schedule = [
        (10, S.RUNNING, 0),
        (3, S.FAULT, WEB_BREAK),
        (4, S.HELD, WEB_BREAK),
        (2, S.FAULT, INK_SUPPLY),
        (10, S.RUNNING, 0),
        (5, S.SUSPENDED, FABRIC_STARVED),
        (5, S.RUNNING, 0),
    ]
    start = start_ns()
    end = start + int(sum(m for m, _, _ in schedule) * 60 * NS)
    inst = shift_instances(PLANT.shift_calendar, TZ, start, end)
    fields = printer_fields(start, schedule, 1000, 0)
    _, ev = printer_stop_events(PLANT.printers[0], PLANT.stop_reasons, fields, start, end, inst)
    assert [(int(r), Element(int(e))) for r, e in zip(ev.reason, ev.element, strict=True)] == [
        (WEB_BREAK, Element.ADOT),
        (INK_SUPPLY, Element.ADOT),
        (FABRIC_STARVED, Element.ADET),
    ]
    assert ((ev.end_ns - ev.start_ns) // NS).tolist() == [420, 120, 300]
    assert ev.failure.tolist() == [True, True, False]
    t = printer_shift_totals(PLANT.printers[0], PLANT.stop_reasons, fields, start, end, inst)[0]
    assert t.times.failures == int(ev.failure.sum())
    assert sum(t.stops_by_reason.values()) == int(ev.counted.sum())


def test_a_planned_break_and_a_shift_boundary_end_a_stop_event():
    """A fault running into the 10:00 break: the part before is a failure, the break part is planned down
    time, and the fault resuming after the break is a new event."""
    start = to_ns(dt.datetime(2026, 11, 24, 9, 50, tzinfo=TZ))
    schedule = [(5, S.RUNNING, 0), (45, S.FAULT, WEB_BREAK), (5, S.RUNNING, 0)]  # fault 09:55-10:40
    end = start + 55 * 60 * NS
    inst = shift_instances(PLANT.shift_calendar, TZ, start, end)
    fields = printer_fields(start, schedule, 1000, 0)
    _, ev = printer_stop_events(PLANT.printers[0], PLANT.stop_reasons, fields, start, end, inst)
    assert [Element(int(e)) for e in ev.element] == [Element.ADOT, Element.PDOT, Element.ADOT]
    t = printer_shift_totals(PLANT.printers[0], PLANT.stop_reasons, fields, start, end, inst)[0]
    assert t.times.failures == 2 and t.stops_by_reason == {WEB_BREAK: 2} and t.times.pdot_s == 1800.0


# ---------------------------------------------------------------- performance is not capped


def test_performance_above_100_percent_is_kept_uncapped():
    """Printed faster than the ideal speed (a wrong ideal speed or counter): performance shows > 100 %, and
    OEE keeps its identity OEE = good metres / ideal speed / PBT."""
    ideal = PLANT.printers[0].ideal_speed_m_min
    t = totals([(50, S.RUNNING, 0), (10, S.FAULT, WEB_BREAK)], produced=50 * ideal * 1.3)
    k = printer_kpis(t, PLANT.baseline, PLANT.stop_reasons)
    assert k.oee.performance_pct == pytest.approx(130.0, rel=1e-3)
    assert k.oee.oee_pct == pytest.approx(100 * (k.good_m / ideal * 60) / t.times.pbt_s, rel=1e-9)
    assert k.oee.oee_pct > k.oee.availability_pct  # only possible without a cap


# ---------------------------------------------------------------- aggregation sums, never averages


def test_two_printers_aggregate_by_summing_times_and_quantities():
    """Line 1 (100 m/min) runs 50 of 60 min; line 2 (50 m/min) runs 20 of 90 min. The gravure team answers
    for both: its availability is sum(APT) / sum(PBT) = 70/150, not the mean of 83.3 % and 22.2 %; its OEE
    is the summed fully productive time (good metres at each line's own ideal speed) over the summed planned
    busy time; its metres are the sum."""
    plant = two_printer_plant(second_ideal_speed_m_min=50.0)
    start = to_ns(dt.datetime(2026, 11, 24, 6, tzinfo=plant.tz))
    end = start + 8 * 3600 * NS  # the whole early shift, so the team is scored on one shift instance
    one = printer_fields(start, [(50, S.RUNNING, 0), (10, S.FAULT, WEB_BREAK), (420, S.OFFLINE, 0)], 4500, 45)
    two = printer_fields(start, [(20, S.RUNNING, 0), (70, S.FAULT, INK_SUPPLY), (390, S.OFFLINE, 0)], 1000, 100)
    report = build_report(plant, start, end, {"mso-cpp-1": one, "mso-cpp-2": two}, config=KpiConfig())
    k1, k2 = report.printers["mso-cpp-1"], report.printers["mso-cpp-2"]
    assert k1.oee.availability_pct == pytest.approx(100 * 50 / 60)
    assert k2.oee.availability_pct == pytest.approx(100 * 20 / 90)
    team = next(t for t in report.teams if t.team_id == "gravure")
    actual = {o.kpi: o.actual for o in team.score.objectives}
    assert actual["printed_m"] == pytest.approx(k1.printed_m + k2.printed_m)
    # Good metres at ideal speed: 4455 m at 100 m/min + 900 m at 50 m/min = 62.55 min of 150 planned.
    assert actual["oee_pct"] == pytest.approx(100 * (4455 / 100 + 900 / 50) / 150, rel=1e-6)
    # A x P x Q of summed factors (A = 70/150, P = 65/70, Q = 5355/5500) would weigh line 2's scrap by
    # line 1's speed: 42.19 % instead of 41.70 %.
    assert actual["oee_pct"] != pytest.approx(100 * (70 / 150) * (65 / 70) * (5355 / 5500), rel=1e-3)
    assert actual["oee_pct"] != pytest.approx((k1.oee.oee_pct + k2.oee.oee_pct) / 2, rel=1e-3)
    # The same rule through PrinterTotals: availability of the sum, not the mean of availabilities.
    inst = shift_instances(plant.shift_calendar, plant.tz, start, end)
    t1 = printer_shift_totals(plant.printers[0], plant.stop_reasons, one, start, end, inst)[0]
    t2 = printer_shift_totals(plant.printers[1], plant.stop_reasons, two, start, end, inst)[0]
    both = printer_kpis(t1 + t2, plant.baseline, plant.stop_reasons)
    assert both.oee.availability_pct == pytest.approx(100 * 70 / 150)
    assert both.oee.availability_pct != pytest.approx((k1.oee.availability_pct + k2.oee.availability_pct) / 2)
    assert both.oee.performance_pct == pytest.approx(100 * (t1.ideal_s + t2.ideal_s) / (70 * 60))
    assert both.times.failures == 2 and (t1 + t2).stops_by_reason == {WEB_BREAK: 1, INK_SUPPLY: 1}


def test_the_plant_files_kpi_table_sets_the_rules():
    """[kpi] in the plant file is what the KPI layer runs with: a 50 s stop is a micro-stop under the default
    60 s threshold, and a failure with micro_stop_s = 30."""
    default = two_printer_plant()
    assert KpiConfig.of(default) == KpiConfig()  # the shipped [kpi] table states the documented defaults
    strict = default.model_copy(update={"kpi": default.kpi.model_copy(update={"micro_stop_s": 30.0})})
    assert KpiConfig.of(strict).micro_stop_s == 30.0
    start = to_ns(dt.datetime(2026, 11, 24, 6, tzinfo=default.tz))
    end = start + 3600 * NS
    fields = printer_fields(start, [(10, S.RUNNING, 0), (50 / 60, S.FAULT, WEB_BREAK), (10, S.RUNNING, 0)], 2000, 0)
    failures = {}
    for name, plant in (("default", default), ("strict", strict)):
        report = build_report(plant, start, end, {"mso-cpp-1": fields}, config=KpiConfig.of(plant))
        failures[name] = report.printers["mso-cpp-1"].times.failures
    assert failures == {"default": 0, "strict": 1}
