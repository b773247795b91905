"""The hour-by-hour board's known answers, worked out by hand (models/board.py, docs/kpi.md "Hour-by-hour board").

The shift runs 06:00-14:00 UTC with a planned break 10:00-10:30; the ideal speed is 100 m/min. Its hours:
four of 60 planned minutes (6000 m each), the break hour with 30 (3000 m), three more of 60: 45 000 m in all.
It is 11:30: hour 5 runs. The counter said 5400, 6000, nothing (a data gap: 5000 m printed across it), 6600,
2700 and, in the running half hour, 2000 m.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from shopfloor.models.bands import Band
from shopfloor.models.board import SpeedSpan, board, constant_speed, hour_targets, order_speeds, planned_spans
from shopfloor.models.calendar import ShiftInstance, to_ns
from shopfloor.models.kpi.orders import OrderSteps
from shopfloor.models.plant import Design

DAY = dt.date(2026, 11, 24)


def at(hh: int, mm: int = 0) -> int:
    return to_ns(dt.datetime(2026, 11, 24, hh, mm, tzinfo=dt.UTC))


SHIFT = ShiftInstance("early", DAY, "A", at(6), at(14), ((at(10), at(10, 30)),))
ACTUAL = [5400.0, 6000.0, None, 6600.0, 2700.0, 2000.0]


def test_targets_per_hour_less_the_break() -> None:
    targets = hour_targets(SHIFT, SHIFT.breaks_ns, constant_speed(SHIFT, 100.0))
    assert [t.planned_min for t in targets] == [60, 60, 60, 60, 30, 60, 60, 60]
    assert [t.target_m for t in targets] == [6000, 6000, 6000, 6000, 3000, 6000, 6000, 6000]
    assert [t.start_ns for t in targets] == [at(h) for h in range(6, 14)]


def test_the_speed_is_a_step_function_of_time() -> None:
    # an order at 120 m/min until 08:30, then one at 80 m/min: hour 2 (08:00-09:00) is 30 x 120 + 30 x 80
    speeds = (SpeedSpan(at(6), at(8, 30), 120.0), SpeedSpan(at(8, 30), at(14), 80.0))
    targets = hour_targets(SHIFT, SHIFT.breaks_ns, speeds)
    assert targets[2].target_m == pytest.approx(6000.0)
    assert targets[0].target_m == pytest.approx(7200.0)
    assert targets[4].target_m == pytest.approx(2400.0)  # 30 planned minutes at 80
    # no order between 12:00 and 13:00: no target then
    gap = (SpeedSpan(at(6), at(12), 100.0), SpeedSpan(at(13), at(14), 100.0))
    assert hour_targets(SHIFT, SHIFT.breaks_ns, gap)[6].target_m == 0.0


def test_last_hour_may_be_shorter() -> None:
    short = ShiftInstance("x", DAY, None, at(6), at(13, 30), ())
    targets = hour_targets(short, (), constant_speed(short, 100.0))
    assert len(targets) == 8 and targets[-1].planned_min == 30 and targets[-1].end_ns == at(13, 30)


def test_planned_spans_clip_breaks() -> None:
    assert planned_spans(at(6), at(14), [(at(5), at(6, 30)), (at(10), at(10, 30))]) == [
        (at(6, 30), at(10)),
        (at(10, 30), at(14)),
    ]


def test_known_shift_with_a_break_and_a_gap() -> None:
    b = board(SHIFT, constant_speed(SHIFT, 100.0), ACTUAL, at(11, 30), across_gap_m=5000.0)
    h = b.hours
    assert [x.due_m for x in h] == [6000, 6000, 6000, 6000, 3000, 3000, 0, 0]
    assert [x.actual_m for x in h] == [5400, 6000, None, 6600, 2700, 2000, None, None]
    assert [x.variance_m for x in h] == [-600, 0, None, 600, -300, -1000, None, None]
    assert [x.band for x in h] == [Band.AMBER, Band.GREEN, None, Band.GREEN, Band.AMBER, Band.RED, None, None]
    assert [x.cum_target_m for x in h] == [6000, 12000, 18000, 24000, 27000, 33000, 39000, 45000]
    assert [x.cum_actual_m for x in h] == [5400, 11400, 11400, 18000, 20700, 22700, None, None]
    assert [x.cum_variance_m for x in h] == [-600, -600, -6600, -6000, -6300, -7300, None, None]
    assert [(x.started, x.finished) for x in h][4:7] == [(True, True), (True, False), (False, False)]
    assert h[5].attainment_pct == pytest.approx(200 / 3)
    assert b.target_m == 45000 and b.due_m == 30000
    assert b.actual_m == 27700  # 22 700 in hours + 5000 across the gap
    # rate so far: 22 700 m over the planned minutes of the hours with data (60+60+60+30+30 = 240)
    assert b.rate_m_min == pytest.approx(22700 / 240)
    assert b.planned_min_left == 150
    assert b.projected_m == pytest.approx(27700 + 22700 / 240 * 150)  # 41 887.5
    assert b.projected_m == pytest.approx(41887.5)
    assert b.projected_band == Band.AMBER  # 93 % of 45 000


def test_a_finished_shift_projects_its_actual_and_no_data_projects_nothing() -> None:
    done = board(SHIFT, constant_speed(SHIFT, 100.0), [6000.0] * 8, at(15))
    assert done.projected_m == done.actual_m == 48000  # eight hours of 6000 m (the break hour over its target)
    assert done.planned_min_left == 0 and all(x.finished for x in done.hours)
    empty = board(SHIFT, constant_speed(SHIFT, 100.0), [], at(7, 30))
    assert empty.actual_m is None and empty.projected_m is None and empty.rate_m_min is None
    assert empty.hours[0].cum_actual_m is None and empty.hours[1].due_m == 3000


def test_the_targets_follow_the_running_orders_design_speeds() -> None:
    """An order of a 120 m/min design loaded before the shift, one of a 90 m/min design from 08:00: the hours'
    targets follow; an unlisted design gets the line's default."""
    designs = [
        Design(code=1, name="peony", name_zh="牡丹", ideal_speed_m_min=120.0),
        Design(code=2, name="lattice", name_zh="格子", ideal_speed_m_min=90.0),
    ]
    steps = OrderSteps(
        np.array([at(5, 50), at(8)], dtype=np.int64), np.array([7001, 7002], dtype=np.int64), np.array([1, 2])
    )
    speeds = order_speeds(SHIFT, steps, designs, 100.0)
    assert [(s.start_ns, s.end_ns, s.speed_m_min) for s in speeds] == [(at(6), at(8), 120.0), (at(8), at(14), 90.0)]
    targets = hour_targets(SHIFT, SHIFT.breaks_ns, speeds)
    assert [t.target_m for t in targets] == pytest.approx([7200, 7200, 5400, 5400, 2700, 5400, 5400, 5400])
    unlisted = OrderSteps(np.array([at(6)], dtype=np.int64), np.array([7003]), np.array([9]))
    assert [s.speed_m_min for s in order_speeds(SHIFT, unlisted, designs, 100.0)] == [100.0]
