"""models/kpi/orders.py: which order ran when, and the ideal speed in force (known answers by hand)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.kpi.orders import OrderSpan, ideal_speed_m_min_at, order_spans, order_steps
from shopfloor.models.kpi.outages import NO_SPANS
from shopfloor.models.kpi.pipeline import KpiConfig, printer_shift_totals, printer_stop_events
from shopfloor.models.plant import load_plant
from shopfloor.models.samples import Series
from shopfloor.models.states import PrinterState as S
from shopfloor.models.timebase import NS_PER_S as NS
from tests.models.kpi._plants import plant_with

PLANT = load_plant()
DEFAULT = PLANT.printers[0].ideal_speed_m_min


def _fields() -> dict[str, Series]:
    # Readings at 10, 20, ... 60 s; the design arrives one poll after the order number (two registers, one poll
    # apart is what a PLC writing them in two steps looks like), then a design the file does not list.
    ts = np.array([10, 20, 30, 40, 50, 60], dtype=np.int64)
    return {
        "order_number": Series(ts, np.array([0, 7001, 7001, 7002, 7002, 7003], dtype=float)),
        "design_code": Series(ts, np.array([0, 0, 101, 102, 102, 999], dtype=float)),
    }


def test_steps_keep_only_changes() -> None:
    steps = order_steps(_fields())
    assert steps.ts_ns.tolist() == [10, 20, 30, 40, 60]
    assert steps.order_number.tolist() == [0, 7001, 7001, 7002, 7003]
    assert steps.design_code.tolist() == [0, 0, 101, 102, 999]


def test_ideal_speed_in_force() -> None:
    speeds = {d.code: d.ideal_speed_m_min for d in PLANT.designs}
    at = np.array([5, 10, 25, 30, 39, 40, 59, 60, 10_000], dtype=np.int64)
    got = ideal_speed_m_min_at(order_steps(_fields()), PLANT.designs, DEFAULT, at)
    assert got.tolist() == [
        DEFAULT,
        DEFAULT,
        DEFAULT,
        speeds[101],
        speeds[101],
        speeds[102],
        speeds[102],
        DEFAULT,
        DEFAULT,
    ]


def test_ideal_speed_without_order_readings_is_the_printers() -> None:
    got = ideal_speed_m_min_at(order_steps({}), PLANT.designs, DEFAULT, np.array([1, 2], dtype=np.int64))
    assert got.tolist() == [DEFAULT, DEFAULT]


def test_spans_cut_to_the_range_and_split_by_design() -> None:
    spans = order_spans(order_steps(_fields()), 15, 70)
    assert spans == [
        OrderSpan(7001, 0, 20, 30),
        OrderSpan(7001, 101, 30, 40),
        OrderSpan(7002, 102, 40, 60),
        OrderSpan(7003, 999, 60, 70),
    ]
    assert order_spans(order_steps(_fields()), 0, 20) == []  # "no order" is no span


def test_a_stop_between_two_orders_is_setup_unless_someone_gave_a_reason() -> None:
    """By hand, one shift of 60 min: order 7001 runs 20 min; the line idles 10 min (no reason) during which 7002
    is loaded; 7002 runs 10 min; the line is starved 10 min (reason 30, external) while 7003 is loaded; 7003 runs
    5 min; idle 5 min with no order change. Setup: the 10 min idle of the first change only."""
    shift = {"id": "day", "name": "Day", "name_zh": "白班", "start": dt.time(6), "end": dt.time(7)}
    plant = plant_with(shifts=[shift], timezone="UTC")
    start = to_ns(dt.datetime(2026, 3, 2, 6, 0, tzinfo=plant.tz))
    end = start + 3600 * NS
    # (minutes, state, reason, order)
    blocks = [(20, S.RUNNING, 0, 7001), (3, S.IDLE, 0, 7001), (7, S.IDLE, 0, 7002), (10, S.RUNNING, 0, 7002)]
    blocks += [(4, S.SUSPENDED, 30, 7002), (6, S.SUSPENDED, 30, 7003), (5, S.RUNNING, 0, 7003), (5, S.IDLE, 0, 7003)]
    ts, state, reason, order = [], [], [], []
    t = start
    for minutes, st_, rs, on in blocks:
        ts.append(t)
        state.append(float(st_))
        reason.append(float(rs))
        order.append(float(on))
        t += minutes * 60 * NS
    ts.append(t)  # the closing reading, exactly at the shift's end
    state.append(state[-1])
    reason.append(reason[-1])
    order.append(order[-1])
    arr = np.array(ts, dtype=np.int64)
    fields = {
        "state": Series(arr, np.array(state)),
        "stop_reason": Series(arr, np.array(reason)),
        "order_number": Series(arr, np.array(order)),
    }
    inst = shift_instances(plant.shift_calendar, plant.tz, start, end)
    cfg = KpiConfig(micro_stop_s=0.0, max_gap_polls=10_000.0)
    [t0, _] = printer_shift_totals(plant.printers[0], plant.stop_reasons, fields, start, end, inst, NO_SPANS, cfg)
    assert t0.times.apt_s == 35 * 60
    assert t0.times.aust_s == 10 * 60  # the idle stop in which 7002 was loaded
    assert t0.times.adet_s == 15 * 60  # starved (a reason given) and the idle without an order change
    assert t0.downtime_s_by_reason == {0: 15 * 60, 30: 10 * 60}
    _, events = printer_stop_events(plant.printers[0], plant.stop_reasons, fields, start, end, inst, NO_SPANS, cfg)
    assert [
        (int(e), (int(b) - int(a)) // NS)
        for a, b, e in zip(events.start_ns, events.end_ns, events.element, strict=True)
    ] == [
        (4, 600),  # Element.AUST
        (6, 600),  # Element.ADET, starved
        (6, 300),  # Element.ADET, idle
    ]
