"""Known answers for the order-progress tile: metres done over all of an order's spans, the rate window, the ETA."""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.models.kpi.counters import Increments, increments
from shopfloor.models.kpi.orders import OrderSteps
from shopfloor.models.order_progress import DONE, NO_PLAN, STOPPED, order_progress
from shopfloor.models.timebase import NS_PER_S

MIN = 60 * NS_PER_S


def steps(*changes: tuple[int, int, int]) -> OrderSteps:
    """(minute, order, design) changes."""
    return OrderSteps(
        np.array([m * MIN for m, _, _ in changes], dtype=np.int64),
        np.array([o for _, o, _ in changes], dtype=np.int64),
        np.array([d for _, _, d in changes], dtype=np.int64),
    )


def counter(speeds_m_min: list[float]) -> Increments:
    """The metres counter read each minute, the line at ``speeds_m_min[k]`` during minute k."""
    ts = np.arange(len(speeds_m_min) + 1, dtype=np.int64) * MIN
    value = np.r_[0.0, np.cumsum(speeds_m_min)]
    return increments(ts, value, None, None)


# 5001 runs 20 min at 100 m/min, 5002 interrupts it for 10 min at 50 m/min, 5001 resumes: 10 min at 100 m/min,
# then the line stops for 10 min. Now is minute 50.
STEPS = steps((0, 5001, 101), (20, 5002, 102), (30, 5001, 101))
PRINTED = counter([100.0] * 20 + [50.0] * 10 + [100.0] * 10 + [0.0] * 10)
NOW = 50 * MIN


def test_metres_done_are_over_all_the_order_s_spans_and_the_eta_follows_the_last_half_hour() -> None:
    p = order_progress(STEPS, PRINTED, NOW, 5000.0)
    assert p is not None
    assert (p.order_number, p.design_code, p.started_ns) == (5001, 101, 0)
    assert p.done_m == pytest.approx(2000.0 + 1000.0)  # not the 5002 metres in between
    assert p.remaining_m == pytest.approx(2000.0)
    # The last 30 min of 5001's own time: minutes 30-50 (1000 m, 10 of them stopped) and 10-20 (1000 m).
    assert p.rate_m_min == pytest.approx(2000.0 / 30.0)
    assert p.eta_ns == NOW + 30 * MIN and p.eta_reason is None


def test_a_stop_moves_the_eta_out() -> None:
    later = counter([100.0] * 20 + [50.0] * 10 + [100.0] * 10 + [0.0] * 15)
    p = order_progress(STEPS, later, NOW + 5 * MIN, 5000.0)
    assert p is not None and p.done_m == pytest.approx(3000.0)
    # Window: minutes 30-55 and 15-20: 1000 + 500 m in 30 min.
    assert p.rate_m_min == pytest.approx(1500.0 / 30.0)
    assert p.eta_ns == NOW + 5 * MIN + 40 * MIN


def test_an_order_younger_than_the_window_is_rated_since_its_start() -> None:
    p = order_progress(STEPS, PRINTED, 5 * MIN, 5000.0)
    assert p is not None and p.done_m == pytest.approx(500.0) and p.rate_m_min == pytest.approx(100.0)
    assert p.eta_ns == 5 * MIN + 45 * MIN


@pytest.mark.parametrize(
    ("ordered_m", "now_min", "reason"),
    [(None, 50, NO_PLAN), (3000.0, 50, DONE), (2500.0, 50, DONE), (5000.0, 71, STOPPED)],
)
def test_no_eta_says_why(ordered_m: float | None, now_min: int, reason: str) -> None:
    stopped_long = counter([100.0] * 20 + [50.0] * 10 + [100.0] * 10 + [0.0] * 31)
    p = order_progress(STEPS, stopped_long, now_min * MIN, ordered_m)
    assert p is not None and p.eta_ns is None and p.eta_reason == reason
    assert p.remaining_m == (None if ordered_m is None else max(0.0, ordered_m - 3000.0))
    assert p.done_m == pytest.approx(3000.0)


def test_no_order_running() -> None:
    assert order_progress(steps((0, 5001, 101), (20, 0, 0)), PRINTED, 25 * MIN, 5000.0) is None
    assert order_progress(steps((10, 5001, 101)), PRINTED, 5 * MIN, 5000.0) is None  # before the first reading
    assert order_progress(steps(), PRINTED, 5 * MIN, 5000.0) is None


def test_an_order_loaded_before_the_range_read_counts_from_its_start() -> None:
    # Read from minute 10 on: the reading at 0 is the context that says 5001 was loaded then.
    p = order_progress(STEPS, PRINTED, NOW, 5000.0, since_ns=10 * MIN)
    assert p is not None and p.started_ns == 10 * MIN
    assert p.done_m == pytest.approx(2000.0)  # the 1000 m of minutes 0-10 are before the range
    assert p.rate_m_min == pytest.approx(2000.0 / 30.0)  # the window (30-50, 10-20) lies inside it
