"""Operator orders over the PLC's order registers (models/kpi/orders.py; docs/kpi.md, "Orders"): the span rule,
the overlay, and known answers by hand."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pytest

from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.kpi import KpiConfig, printer_kpis, printer_shift_totals
from shopfloor.models.kpi.context import fields_with_context, read_end_ns
from shopfloor.models.kpi.orders import (
    OPEN_END_NS,
    OrderSpan,
    apply_operator_orders,
    operator_order_spans,
    order_changes_ns,
    order_spans,
    order_steps,
)
from shopfloor.models.kpi.outages import NO_SPANS
from shopfloor.models.samples import Series
from shopfloor.models.states import PrinterState as S
from tests.models.kpi._plants import plant_with
from tests.models.kpi._series import NS, printer_fields


@dataclass(frozen=True)
class Event:
    kind: str
    at_ns: int
    order_number: int = 0
    design_code: int = 0


def test_a_start_holds_until_the_next_event_on_its_line() -> None:
    events = [
        Event("start", 10, 7001, 101),
        Event("start", 20, 7002, 102),  # ends 7001 at 20
        Event("end", 35),
        Event("end", 40),  # nothing running: no effect
        Event("start", 50, 7003, 101),
        Event("start", 50, 7004, 102),  # the same moment, entered later: it supersedes
    ]
    assert operator_order_spans(events) == [
        OrderSpan(7001, 101, 10, 20),
        OrderSpan(7002, 102, 20, 35),
        OrderSpan(7004, 102, 50, OPEN_END_NS),
    ]


def test_the_overlay_replaces_the_registers_inside_a_span_and_resumes_the_plc_after_it() -> None:
    ts = np.array([10, 20, 30, 40, 50], dtype=np.int64)
    fields = {
        "order_number": Series(ts, np.array([5, 5, 6, 6, 6], dtype=float)),
        "design_code": Series(ts, np.array([101, 101, 102, 102, 102], dtype=float)),
        "state": Series(ts, np.zeros(5)),
    }
    out = apply_operator_orders(fields, [OrderSpan(9, 999, 15, 35)], range_end_ns=51)
    assert out["state"] is fields["state"]
    # at 14 the value in force repeated (the start is a change); at 35 the PLC's 6, in force then
    assert out["order_number"].ts_ns.tolist() == [10, 14, 15, 20, 30, 35, 40, 50]
    assert out["order_number"].value.tolist() == [5, 5, 9, 9, 9, 6, 6, 6]
    assert out["design_code"].value.tolist() == [101, 101, 999, 999, 999, 102, 102, 102]
    # no resume reading at or after the end of what was read: an override never invents data past it
    late = apply_operator_orders(fields, [OrderSpan(9, 999, 45, 60)], range_end_ns=51)
    assert late["order_number"].ts_ns.tolist() == [10, 20, 30, 40, 44, 45, 50]
    assert late["order_number"].value.tolist() == [5, 5, 6, 6, 6, 9, 9]


def test_a_printer_without_order_registers_gets_its_operator_orders() -> None:
    out = apply_operator_orders({"state": Series(np.array([0]), np.zeros(1))}, [OrderSpan(9, 101, 10, 30)], 100)
    steps = order_steps(out)
    assert order_spans(steps, 0, 100) == [OrderSpan(9, 101, 10, 30)]
    assert order_changes_ns(steps).tolist() == [10], "from no order to an order: a change (a changeover in a stop)"
    # back-to-back spans: no reading of the PLC's value between them
    two = apply_operator_orders({}, [OrderSpan(9, 101, 10, 30), OrderSpan(8, 102, 30, 40)], 100)
    assert two["order_number"].ts_ns.tolist() == [9, 10, 30, 40]
    assert two["order_number"].value.tolist() == [0, 9, 8, 0]


DAY = {"id": "day", "name": "Day", "name_zh": "白班", "start": dt.time(6), "end": dt.time(14)}
LATE = {"id": "late", "name": "Late", "name_zh": "中班", "start": dt.time(14), "end": dt.time(22)}


def test_an_operator_order_on_a_line_without_order_registers_gives_performance_by_hand() -> None:
    """Worked by hand: a shift of 480 min running throughout at 108 m/min (51 840 m), on a line whose register
    map has no order fields. An operator started order 7001 (design 101, ideal 120 m/min) an hour before the
    shift and ended it at 10:00, 240 min in; the rest is measured against the printer's 100 m/min.

    Ideal time: 240 x 108 / 120 + 240 x 108 / 100 = 216 + 259.2 = 475.2 min; performance 475.2 / 480 = 99 %.
    """
    plant = plant_with(shifts=[DAY], timezone="UTC", ideal_speed_m_min=100.0)
    design = plant.design(101)
    assert design is not None and design.ideal_speed_m_min == 120.0
    start = to_ns(dt.datetime(2026, 3, 2, 6, 0, tzinfo=plant.tz))
    end = start + 480 * 60 * NS
    fields = printer_fields(start, [(480, S.RUNNING, 0)], produced_m=480 * 108.0, defective_m=0.0)
    assert "order_number" not in fields
    events = [Event("start", start - 3600 * NS, 7001, 101), Event("end", start + 240 * 60 * NS)]
    applied = apply_operator_orders(fields, operator_order_spans(events), read_end_ns([fields], end) + 1)
    inst = shift_instances(plant.shift_calendar, plant.tz, start, end)
    [t, _] = printer_shift_totals(
        plant.printers[0], plant.stop_reasons, applied, start, end, inst, NO_SPANS, KpiConfig(), plant.designs
    )
    k = printer_kpis(t, plant.baseline, plant.stop_reasons)
    assert t.ideal_s == pytest.approx(475.2 * 60, rel=1e-9)
    assert k.oee.performance_pct == pytest.approx(99.0, rel=1e-9)
    # without the operator's order, the line-wide 100 m/min: 108 %
    [flat, _] = printer_shift_totals(
        plant.printers[0], plant.stop_reasons, fields, start, end, inst, NO_SPANS, KpiConfig(), plant.designs
    )
    assert flat.ideal_s == pytest.approx(480 * 108 / 100 * 60, rel=1e-9)


def test_an_order_across_a_shift_change_leaves_the_shifts_summing_to_the_range() -> None:
    """Two shifts, 06:00-22:00 running at 108 m/min, PLC serving order 5 (design 102) throughout; an operator's
    order 7001 (design 101) from 10:00 to 18:00 crosses the shift change. Each shift read alone, as the ledger
    does, sums exactly to the range read at once."""
    plant = plant_with(shifts=[DAY, LATE], timezone="UTC", ideal_speed_m_min=100.0)
    start = to_ns(dt.datetime(2026, 3, 2, 6, 0, tzinfo=plant.tz))
    middle, end = start + 480 * 60 * NS, start + 960 * 60 * NS
    fields = printer_fields(start, [(960, S.RUNNING, 0)], produced_m=960 * 108.0, defective_m=0.0)
    ts = fields["state"].ts_ns
    fields |= {"order_number": Series(ts, np.full(len(ts), 5.0)), "design_code": Series(ts, np.full(len(ts), 102.0))}
    spans = operator_order_spans(
        [Event("start", start + 240 * 60 * NS, 7001, 101), Event("end", start + 720 * 60 * NS)]
    )

    def totals(a: int, b: int) -> list[float]:
        cut = fields_with_context(fields, a, b)
        applied = apply_operator_orders(cut, spans, read_end_ns([cut], b) + 1)
        inst = shift_instances(plant.shift_calendar, plant.tz, a, b)
        per_shift = printer_shift_totals(
            plant.printers[0], plant.stop_reasons, applied, a, b, inst, NO_SPANS, KpiConfig(), plant.designs
        )
        return [t.ideal_s for t in per_shift if t.produced_m > 0]

    whole = totals(start, end)
    alone = totals(start, middle) + totals(middle, end)
    assert alone == whole  # exactly: the same arithmetic on the same readings
    # by hand: day 240 min at 102 (90 m/min) + 240 at 101 (120); late 240 at 101 + 240 at 102
    by_hand_s = (240 * 108 / 90 + 240 * 108 / 120) * 60
    assert whole == [pytest.approx(by_hand_s, rel=1e-9), pytest.approx(by_hand_s, rel=1e-9)]
