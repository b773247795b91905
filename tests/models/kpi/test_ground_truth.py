"""A simulated shift through the real pipeline yields the KPIs of the simulators' own ground truth.

Printer: the printer simulator serves a whole early shift (06:00–14:00, Asia/Shanghai, with its
planned break, changeovers and random stops) over Modbus TCP on a manual clock; the real poller
reads it every 10 simulated seconds into the embedded DuckDB store; the KPI core computes the
shift from what the store returns. Each figure is compared with what the simulator really did
(``PrinterTruth``: exact, unrounded, never wrapped), within the error the measurement itself
allows — a register's resolution for quantities, one poll per state change for times.

Fleet: the fleet's process model is stepped through the same shift and recorded by exception
(a sample only when a value changes, which is what an OPC UA subscription delivers); the KPIs
are compared with ``FleetTruth``. (The OPC UA path itself is tested in tests/collectors/opcua.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from shopfloor.collectors.modbus.poller import ModbusPoller
from shopfloor.models.calendar import to_ns
from shopfloor.models.contract import MEASUREMENT_PRINTER, PRINTER_FIELDS, PRINTER_ORDER_FIELDS, ROBOT_FIELDS
from shopfloor.models.kpi import KpiConfig, KpiReport, build_report
from shopfloor.models.plant import Plant, load_plant
from shopfloor.models.samples import Series
from shopfloor.models.states import PrinterState, RobotState
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.fleet.process import FleetProcess
from shopfloor.simulators.printer.server import PrinterSimulator
from shopfloor.simulators.printer.truth import PrinterTruth
from shopfloor.store.duckdb_store import DuckDBStore

POLL_S = 10
SHIFT_S = 8 * 3600


def shift_start(plant: Plant) -> int:
    return to_ns(dt.datetime(2026, 11, 24, 6, 0, tzinfo=plant.tz))


@pytest.fixture(scope="module")
def plant() -> Plant:
    base = load_plant()
    printer = base.printers[0]
    # The KPI core's gap rule is in poll intervals: tell it the cadence this test polls at.
    printer = printer.model_copy(update={"modbus": printer.modbus.model_copy(update={"poll_interval_s": POLL_S})})
    return base.model_copy(update={"printers": [printer]})


@pytest.fixture(scope="module")
def printed_shift(plant: Plant, tmp_path_factory: pytest.TempPathFactory) -> tuple[PrinterTruth, KpiReport]:
    """One shift, simulated, polled and computed once for the tests of this module."""
    return asyncio.run(print_a_shift(plant, tmp_path_factory.mktemp("truth") / "shift.duckdb"))


async def print_a_shift(plant: Plant, db: Path) -> tuple[PrinterTruth, KpiReport]:
    start = shift_start(plant)
    clock = ManualClock(start_ns=start)
    store = DuckDBStore(db, plant.plant.id)
    async with PrinterSimulator(plant, host="127.0.0.1", port=0, seed=2026, clock=clock) as sim:
        printer = plant.printers[0]
        wired = printer.model_copy(update={"modbus": printer.modbus.model_copy(update={"port": sim.port})})
        # The poller stamps its polls with the simulator's clock (the shift runs faster than the wall).
        poller = ModbusPoller(wired, store, clock=clock)
        for n in range(SHIFT_S // POLL_S + 1):  # the last poll lands exactly on the shift's end
            if n:
                clock.advance(POLL_S)
                await sim.wait_caught_up()
            batch = await poller.poll_once()
            assert batch.good.all(), dict(zip(batch.field, batch.detail, strict=True))
        truth = sim.process.truth
        poller.close()
    series = store.read_series(
        MEASUREMENT_PRINTER,
        [printer.id],
        [f.name for f in PRINTER_FIELDS + PRINTER_ORDER_FIELDS],
        start,
        start + SHIFT_S * NS_PER_S + 1,
    )
    events = store.read_connectivity([printer.id], start - NS_PER_S, start + SHIFT_S * NS_PER_S + 1)
    store.close()
    report = build_report(plant, start, start + SHIFT_S * NS_PER_S, series, events, KpiConfig(micro_stop_s=0.0))
    return truth, report


def test_printer_quantities_are_the_simulators_within_register_resolution(
    plant: Plant,
    printed_shift: tuple[PrinterTruth, KpiReport],
) -> None:
    truth, report = printed_shift
    assert truth.elapsed_s == SHIFT_S
    assert truth.printed_m > 10_000 and truth.stops, "a shift with production and stops, or the test proves little"
    [shift] = report.shifts
    k = shift.printers[plant.printers[0].id]
    scale = {s.name: abs(s.scale) for s in plant.printers[0].signals}
    # Each total is a difference of two register readings, each rounded to the register's resolution.
    assert k.printed_m == pytest.approx(truth.printed_m, abs=2 * scale["printed_m_total"])
    assert k.printed_m - k.good_m == pytest.approx(truth.defective_m, abs=2 * scale["defective_m_total"])
    assert k.energy.energy_kwh == pytest.approx(truth.energy_kwh, abs=2 * scale["energy_kwh_total"])
    assert k.energy.water_l == pytest.approx(truth.water_l, abs=2 * scale["water_l_total"])
    # The savings follow from the truth and the plant's baseline, not from anything the simulator claims.
    baseline = plant.baseline.energy_kwh_per_m * truth.printed_m
    assert k.energy.energy_saving_kwh == pytest.approx(baseline - truth.energy_kwh, rel=1e-3)
    assert 30.0 <= k.energy.energy_saving_pct <= 40.0  # the MSO-CPP claim, as the process model implements it


def test_printer_times_and_downtime_by_reason_are_the_simulators_within_one_poll(
    plant: Plant,
    printed_shift: tuple[PrinterTruth, KpiReport],
) -> None:
    truth, report = printed_shift
    k = report.shifts[0].printers[plant.printers[0].id]
    t = k.times
    assert t.no_data_s == 0.0 and t.outside_shift_s == 0.0
    # Every second of the shift is in exactly one ISO 22400 element.
    assert t.apt_s + t.aust_s + t.adot_s + t.adet_s + t.pdot_s == pytest.approx(SHIFT_S)
    # A state change is seen at the next poll: each stop's start and end may each be one poll late.
    transitions = 2 * len(truth.stops) + 1
    running_s = truth.state_seconds()[PrinterState.RUNNING]
    assert t.apt_s == pytest.approx(running_s, abs=POLL_S * transitions)
    true_by_reason = {code: s for code, s in truth.seconds_by_reason().items() if code}
    stops_by_reason: dict[int, int] = {}
    for stop in truth.stops:
        stops_by_reason[stop.reason_code] = stops_by_reason.get(stop.reason_code, 0) + 1
    planned = {r.code for r in plant.stop_reasons if r.category.value == "planned"}
    assert k.pareto, "the shift had unplanned or setup stops"
    for entry in k.pareto:
        assert entry.reason_code in true_by_reason, f"the KPI invented downtime for reason {entry.reason_code}"
        tolerance = 2 * POLL_S * stops_by_reason[entry.reason_code]
        assert entry.downtime_s == pytest.approx(true_by_reason[entry.reason_code], abs=tolerance), entry
    missing = set(true_by_reason) - {e.reason_code for e in k.pareto} - planned
    assert not missing, f"downtime reasons the simulator generated but the KPI lost: {missing}"
    planned_true = sum(s for code, s in true_by_reason.items() if code in planned)
    planned_stops = sum(n for code, n in stops_by_reason.items() if code in planned)
    assert t.pdot_s == pytest.approx(planned_true, abs=2 * POLL_S * max(1, planned_stops))


def test_performance_by_order_is_the_simulators_order_by_order(
    plant: Plant,
    printed_shift: tuple[PrinterTruth, KpiReport],
) -> None:
    """The orders served in the PLC's registers reach the KPI: each order's metres at its design's speed."""
    truth, report = printed_shift
    speeds = {d.code: d.ideal_speed_m_min for d in plant.designs}
    assert len(truth.orders) >= 2 and len({o.design_code for o in truth.orders}) >= 2, "orders of two designs"
    [shift] = report.shifts
    k = shift.printers[plant.printers[0].id]
    assert k.oee.performance_pct is not None
    ideal_s = k.oee.performance_pct / 100 * k.times.apt_s  # performance = ideal_s / APT
    want_ideal_s = sum(o.printed_m / (speeds[o.design_code] / 60.0) for o in truth.orders)
    # An increment is measured at the design read where it starts: the poll that covers an order change may put
    # one poll's metres (braking into the changeover) under the other design.
    setpoint_m_s = plant.simulation.printer.setpoint_m_min / 60.0
    tolerance_s = len(truth.orders) * POLL_S * setpoint_m_s / (min(speeds.values()) / 60.0) + 1.0
    assert ideal_s == pytest.approx(want_ideal_s, abs=tolerance_s)
    flat_s = truth.printed_m / (plant.printers[0].ideal_speed_m_min / 60.0)
    assert abs(want_ideal_s - flat_s) > 2 * tolerance_s, "the designs' speeds must matter in this shift"


# --------------------------------------------------------------------------- fleet


def record_by_exception(plant: Plant, seed: int) -> tuple[FleetProcess, dict[str, dict[str, Series]]]:
    """Step the fleet model through the shift; keep a sample only when a value changes."""
    start = shift_start(plant)
    process = FleetProcess(plant, plant.fleets[0].id, seed=seed, start_ns=start, step_s=1.0)
    names = [f.name for f in ROBOT_FIELDS]
    rows: dict[str, dict[str, tuple[list[int], list[float]]]] = {
        r.robot_id: {n: ([], []) for n in names} for r in process.robots
    }
    last: dict[tuple[str, str], float] = {}
    while True:
        for robot in process.robots:
            for name, value in robot.values().items():
                key = (robot.robot_id, name)
                if last.get(key) != value:
                    ts, vs = rows[robot.robot_id][name]
                    ts.append(process.now_ns)
                    vs.append(float(value))
                    last[key] = value
        if process.now_ns >= start + SHIFT_S * NS_PER_S:
            break
        process.step()
    series = {
        rid: {n: Series(np.asarray(ts, dtype=np.int64), np.asarray(vs, dtype=np.float64)) for n, (ts, vs) in f.items()}
        for rid, f in rows.items()
    }
    return process, series


def test_fleet_kpis_are_the_simulators(plant: Plant) -> None:
    start = shift_start(plant)
    process, series = record_by_exception(plant, seed=2026)
    truth = process.truth
    report = build_report(plant, start, start + SHIFT_S * NS_PER_S, series)
    fleet_id = plant.fleets[0].id
    k = report.shifts[0].fleets[fleet_id]
    completed = sum(r.sessions_completed for r in truth.robots)
    assert completed >= 5, "a shift with charging sessions, or the test proves little"
    assert k.sessions_completed == completed
    assert k.sessions_failed == sum(r.sessions_failed for r in truth.robots)
    assert k.energy_delivered_kwh == pytest.approx(sum(r.energy_delivered_kwh for r in truth.robots), rel=1e-9)
    assert k.observed_s == pytest.approx(SHIFT_S * len(truth.robots))

    def seconds(state: RobotState) -> float:
        return sum(r.state_ns[state] for r in truth.robots) / NS_PER_S

    observed = SHIFT_S * len(truth.robots) - seconds(RobotState.MAINTENANCE)
    down = seconds(RobotState.FAULT) + seconds(RobotState.OFFLINE)
    assert k.availability_pct == pytest.approx(100.0 * (observed - down) / observed, rel=1e-9)
    assert k.utilisation_pct == pytest.approx(100.0 * seconds(RobotState.CHARGING) / observed, rel=1e-9)
    for robot in truth.robots:  # and per robot
        rk = report.robots[robot.robot_id]
        assert rk.sessions_completed == robot.sessions_completed, robot.robot_id
        assert rk.energy_delivered_kwh == pytest.approx(robot.energy_delivered_kwh, rel=1e-9), robot.robot_id
    # Responses: dispatch -> connected, for the sessions whose dispatch and connection both fell in the shift.
    end = start + SHIFT_S * NS_PER_S
    true_responses = sorted(
        (s.connected_ns - s.dispatched_ns) / NS_PER_S
        for s in truth.sessions
        if s.connected_ns is not None and start <= s.dispatched_ns and s.connected_ns < end
    )
    assert k.responses == len(true_responses)
    assert k.response_mean_s == pytest.approx(float(np.mean(true_responses)), rel=1e-9)
    assert k.response_p90_s == pytest.approx(float(np.percentile(true_responses, 90)), rel=1e-9)
