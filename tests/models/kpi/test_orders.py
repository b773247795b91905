"""models/kpi/orders.py: which order ran when, and the ideal speed in force (known answers by hand)."""

from __future__ import annotations

import numpy as np

from shopfloor.models.kpi.orders import OrderSpan, ideal_speed_m_min_at, order_spans, order_steps
from shopfloor.models.plant import load_plant
from shopfloor.models.samples import Series

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
