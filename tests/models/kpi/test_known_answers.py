"""Published OEE worked examples, run through the whole pipeline (series -> intervals -> ISO times -> OEE).

Counts become metres: an ideal cycle time of c seconds per part is an
ideal speed of 60/c metres per minute, one part is one metre.
"""

from __future__ import annotations

import datetime as dt

import pytest

from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.kpi import KpiConfig, printer_kpis, printer_shift_totals
from shopfloor.models.kpi.outages import NO_SPANS
from shopfloor.models.states import PrinterState as S
from tests.models.kpi._plants import plant_with
from tests.models.kpi._series import printer_fields

FAULT_REASON = 20  # web_break, category unplanned
BREAK_REASON = 2  # planned_break


def run_shift(shifts, ideal, schedule, produced, defective, tz="UTC"):
    plant = plant_with(shifts=shifts, timezone=tz, ideal_speed_m_min=ideal)
    start = to_ns(dt.datetime(2026, 3, 2, 6, 0, tzinfo=plant.tz))
    minutes = sum(m for m, _, _ in schedule)
    end = start + int(minutes * 60e9)
    inst = shift_instances(plant.shift_calendar, plant.tz, start, end)
    fields = printer_fields(start, schedule, produced, defective)
    cfg = KpiConfig(micro_stop_s=0.0)
    totals = printer_shift_totals(plant.printers[0], plant.stop_reasons, fields, start, end, inst, NO_SPANS, cfg)
    total = totals[0]
    for t in totals[1:-1]:
        total = total + t
    return plant, inst, totals, printer_kpis(total, plant.baseline, plant.stop_reasons)


def test_oee_com_worked_example():
    """OEE worked example published by Vorne (oee.com, "Calculate OEE"):

    shift 480 min, breaks 2 x 15 + 30 min -> planned production time 420 min; down time 47 min -> run time
    373 min; ideal cycle time 1.0 s; total count 19 271; good count 18 848. Published: availability 88.81 %,
    performance 86.11 %, quality 97.80 %, OEE 74.79 % (= 18 848 x 1.0 s / 420 min; the product of the
    three rounded factors gives the same 74.79 %).
    """
    shift = {
        "id": "day",
        "name": "Day",
        "name_zh": "白班",
        "start": dt.time(6),
        "end": dt.time(14),
        "breaks": [
            {"start": dt.time(8), "duration_min": 15},
            {"start": dt.time(10), "duration_min": 30},
            {"start": dt.time(12), "duration_min": 15},
        ],
    }
    schedule = [
        (120, S.RUNNING, 0),
        (15, S.IDLE, BREAK_REASON),
        (105, S.RUNNING, 0),
        (30, S.IDLE, BREAK_REASON),
        (90, S.RUNNING, 0),
        (15, S.IDLE, BREAK_REASON),
        (58, S.RUNNING, 0),
        (47, S.FAULT, FAULT_REASON),
    ]
    _, inst, _, k = run_shift([shift], 60.0, schedule, 19_271, 19_271 - 18_848)
    assert len(inst) == 1 and inst[0].planned_break_s == 3600
    assert k.times.pbt_s == 420 * 60
    assert k.times.apt_s == 373 * 60
    assert k.times.adot_s == 47 * 60 and k.times.failures == 1
    assert k.printed_m == pytest.approx(19_271, abs=1e-6)
    assert round(k.oee.availability_pct, 2) == 88.81
    assert round(k.oee.performance_pct, 2) == 86.11
    assert round(k.oee.quality_pct, 2) == 97.80
    assert round(k.oee.oee_pct, 2) == 74.79
    assert k.oee.mttr_min == pytest.approx(47.0)
    assert k.oee.mtbf_min == pytest.approx(373.0)


def test_waycalculator_example():
    """Example 1 of waycalculator.com's OEE calculator page: planned production time 480 min, run time
    420 min, ideal cycle time 1 min, total count 400, good count 380. Published: availability 87.5 %,
    performance 95.2 %, quality 95 %, OEE 79.1 % (the product of the rounded 0.875 x 0.952 x 0.95; the
    unrounded product is 79.17 %, which is what an exact computation must give).
    """
    shift = {"id": "day", "name": "Day", "name_zh": "白班", "start": dt.time(6), "end": dt.time(14)}
    schedule = [(200, S.RUNNING, 0), (60, S.FAULT, FAULT_REASON), (220, S.RUNNING, 0)]
    _, _, _, k = run_shift([shift], 1.0, schedule, 400, 20)
    assert round(k.oee.availability_pct, 1) == 87.5
    assert round(k.oee.performance_pct, 1) == 95.2
    assert round(k.oee.quality_pct, 0) == 95
    assert round(0.875 * 0.952 * 0.95 * 100, 1) == 79.1  # the published figure, from its rounded factors
    assert k.oee.oee_pct == pytest.approx(0.875 * (400 / 420) * 0.95 * 100, rel=1e-9)


def test_two_shift_example_sums_times():
    """people.utm.my/shamsul "Calculating OEE": two 8-hour shifts (960 min) with a 30-min break each ->
    900 min planned; 90 min unscheduled downtime -> 810 min operating; standard rate 40 units/h (1.5 min per
    unit); 525 units, 469 good. Published: availability 90 %, performance 97 %, quality 89 %.

    The downtime is split unevenly between the shifts: the day figure must come from summed times.
    """
    shifts = [
        {
            "id": "a",
            "name": "A",
            "name_zh": "甲",
            "start": dt.time(6),
            "end": dt.time(14),
            "breaks": [{"start": dt.time(10), "duration_min": 30}],
        },
        {
            "id": "b",
            "name": "B",
            "name_zh": "乙",
            "start": dt.time(14),
            "end": dt.time(22),
            "breaks": [{"start": dt.time(18), "duration_min": 30}],
        },
    ]
    schedule = [
        (200, S.RUNNING, 0),
        (30, S.STOPPED, BREAK_REASON),
        (180, S.RUNNING, 0),
        (70, S.FAULT, FAULT_REASON),
        (240, S.RUNNING, 0),
        (30, S.STOPPED, BREAK_REASON),
        (190, S.RUNNING, 0),
        (20, S.FAULT, FAULT_REASON),
    ]
    plant, inst, totals, k = run_shift(shifts, 40 / 60, schedule, 525, 525 - 469)
    assert len(inst) == 2
    assert round(k.oee.availability_pct) == 90
    assert round(k.oee.performance_pct) == 97
    assert round(k.oee.quality_pct) == 89
    per_shift = [printer_kpis(t, plant.baseline, plant.stop_reasons).oee.availability_pct for t in totals[:2]]
    assert per_shift[0] != pytest.approx(per_shift[1])
    assert per_shift == [pytest.approx(380 / 450 * 100), pytest.approx(430 / 450 * 100)]
    assert k.oee.availability_pct == pytest.approx(810 / 900 * 100)
