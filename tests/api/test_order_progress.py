"""The order tile's service reads only what came since its last read, and answers as a full read would."""

from __future__ import annotations

import pytest

from shopfloor.api.app import create_app
from shopfloor.api.order_progress import OVERLAP_NS, OrderProgressService
from shopfloor.api.orders import printer_orders
from shopfloor.models.timebase import NS_PER_S
from shopfloor.store.annotations import PlannedOrder
from tests.api.conftest import Env, config
from tests.api.test_orders import PRINTER, write_orders


def ran_until(env: Env, length_ns: int) -> int:
    """The latest time the history's printer ran through the ``length_ns`` before it (its stops are known): the
    history's last minutes may be a stop, whose order would have printed nothing."""
    for end in sorted({env.end_ns, *(s.start_ns for s in env.stops if s.start_ns <= env.end_ns)}, reverse=True):
        if end - length_ns >= env.start_ns and not any(
            s.start_ns < end and s.end_ns > end - length_ns for s in env.stops
        ):
            return end
    raise AssertionError(f"the history has no {length_ns / NS_PER_S:.0f} s of running")


def test_a_read_since_the_last_answers_as_a_full_read_and_a_new_plan_shows_at_once(env: Env) -> None:
    end_ns = ran_until(env, 700 * NS_PER_S)
    now_ns = [end_ns - 600 * NS_PER_S]
    app = create_app(env.plant, env.store, annotations=env.annotations, config=config(), clock_ns=lambda: now_ns[0])
    services = app.state.services
    held = OrderProgressService(refresh_s=0.0)
    assert held.get(services, PRINTER) is None  # the history has no order registers yet
    # Order registers stamped from just before that read on, stored only now (a collector's buffer emptying).
    loaded_ns = now_ns[0] - OVERLAP_NS // 2
    write_orders(env, [(loaded_ns, 8001, 101)])
    now_ns[0] = end_ns
    again = held.get(services, PRINTER)
    full = OrderProgressService(refresh_s=0.0).get(services, PRINTER)
    assert again is not None and again == full
    assert again["order_number"] == 8001 and again["started_ns"] == loaded_ns and again["done_m"] > 0
    assert again["eta_reason"] == "no plan" and again["remaining_m"] is None
    assert again["fabric"] is None and again["colourway"] is None  # the plan's: none yet
    # Fresh answers are reused, but a plan (a new annotation version) shows at once.
    held.refresh_s = 3600.0
    assert held.get(services, PRINTER) == again and held.computations == 2
    env.annotations.import_plan(PRINTER, [PlannedOrder(8001, 101, "navy", "twill", 50_000.0)], "planner")
    planned = held.get(services, PRINTER)
    assert held.computations == 3
    assert planned is not None and planned["remaining_m"] == pytest.approx(50_000.0 - again["done_m"])
    assert (planned["fabric"], planned["colourway"]) == ("twill", "navy")
    assert planned["metres_ordered"] == 50_000.0 and planned["progress_pct"] == pytest.approx(again["done_m"] / 500)


def test_an_order_an_operator_started_shows_on_the_tile_as_in_the_reports(env: Env) -> None:
    """A line whose PLC serves no order: the operator's start is the running order, its metres from then on."""
    now_ns = ran_until(env, 700 * NS_PER_S)
    app = create_app(env.plant, env.store, annotations=env.annotations, config=config(), clock_ns=lambda: now_ns)
    services = app.state.services
    tile = OrderProgressService(refresh_s=0.0)
    assert tile.get(services, PRINTER) is None
    started_ns = now_ns - 3600 * NS_PER_S
    env.annotations.start_order(PRINTER, started_ns, 8002, 101, "alice")
    shown = tile.get(services, PRINTER)
    assert shown is not None and shown["order_number"] == 8002 and shown["design_code"] == 101
    assert shown["started_ns"] == started_ns
    # Its metres are the order report's over the same hour (the report reads every KPI's way, read_inputs).
    reports = printer_orders(
        env.plant, env.store, env.annotations, PRINTER, started_ns, now_ns, config=services.kpi.config
    )
    assert [r["order_number"] for r in reports] == [8002]
    assert shown["done_m"] == pytest.approx(reports[0]["kpis"]["printed_m"]) and shown["done_m"] > 0
    # Ended by the operator: no order runs.
    env.annotations.end_order(PRINTER, now_ns - 60 * NS_PER_S, "alice")
    assert tile.get(services, PRINTER) is None
