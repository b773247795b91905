"""The pure process model, run fast over simulated days (no sockets)."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.models.calendar import shift_instances
from shopfloor.models.plant import Plant, StopCategory
from shopfloor.models.states import PrinterState
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.printer.process import MODEL_SIGNALS, PrinterProcess, ramp

DAY_NS = 86_400 * NS_PER_S
SETUP_CODES_CATEGORY = {
    PrinterState.SETUP: StopCategory.SETUP,
    PrinterState.FAULT: StopCategory.UNPLANNED,
    PrinterState.SUSPENDED: StopCategory.EXTERNAL,
    PrinterState.STOPPED: StopCategory.PLANNED,
}


@pytest.fixture(scope="module")
def day_runs(plant: Plant, shift_start_ns: int) -> dict[int, PrinterProcess]:
    """One simulated day per seed (shared: the runs are the expensive part)."""
    runs = {}
    for seed in (1, 2, 3):
        process = PrinterProcess(plant, seed=seed, start_ns=shift_start_ns)
        process.run_until(shift_start_ns + DAY_NS)
        runs[seed] = process
    return runs


def trajectory(process: PrinterProcess, steps: int, every: int) -> list[dict[str, float]]:
    out = []
    for i in range(steps):
        process.step()
        if i % every == 0:
            out.append(process.values())
    return out


def test_values_cover_every_model_signal_and_the_default_map(plant: Plant, shift_start_ns: int) -> None:
    process = PrinterProcess(plant, start_ns=shift_start_ns)
    values = process.values()
    assert set(values) == set(MODEL_SIGNALS)
    assert {s.name for s in plant.printers[0].signals} <= set(values)
    assert all(isinstance(v, float) and math.isfinite(v) for v in values.values())


def test_same_seed_same_trajectory_different_seed_differs(plant: Plant, shift_start_ns: int) -> None:
    a = trajectory(PrinterProcess(plant, seed=11, start_ns=shift_start_ns), 6 * 3600, 60)
    b = trajectory(PrinterProcess(plant, seed=11, start_ns=shift_start_ns), 6 * 3600, 60)
    c = trajectory(PrinterProcess(plant, seed=12, start_ns=shift_start_ns), 6 * 3600, 60)
    assert a == b
    assert a != c


def test_advance_refuses_a_step_that_does_not_follow(plant: Plant, shift_start_ns: int) -> None:
    process = PrinterProcess(plant, start_ns=shift_start_ns)
    process.advance(1.0, shift_start_ns + NS_PER_S)
    with pytest.raises(ValueError, match="expected a step"):
        process.advance(1.0, shift_start_ns + 5 * NS_PER_S)


def test_time_accounting_is_exact(day_runs: dict[int, PrinterProcess]) -> None:
    for process in day_runs.values():
        truth = process.truth
        assert sum(truth.state_ns) == DAY_NS
        assert truth.run_time_ns == truth.state_ns[PrinterState.RUNNING]
        # Stop events tile the non-running time exactly, per state.
        per_state = [0] * len(PrinterState)
        previous_end = truth.start_ns
        for stop in truth.stops:
            end = stop.end_ns if stop.end_ns is not None else truth.now_ns
            assert previous_end <= stop.start_ns < end
            previous_end = end
            per_state[stop.state] += end - stop.start_ns
        for state in PrinterState:
            if state is not PrinterState.RUNNING:
                assert per_state[state] == truth.state_ns[state], state


def test_stop_reasons_match_states_and_the_plant(plant: Plant, day_runs: dict[int, PrinterProcess]) -> None:
    for process in day_runs.values():
        for stop in process.truth.stops:
            reason = plant.stop_reason(stop.reason_code)
            assert reason is not None, stop
            assert reason.category is SETUP_CODES_CATEGORY[stop.state], stop


def test_breaks_follow_the_calendar(plant: Plant, shift_start_ns: int, day_runs: dict[int, PrinterProcess]) -> None:
    breaks = [
        b
        for i in shift_instances(plant.shift_calendar, plant.tz, shift_start_ns, shift_start_ns + DAY_NS)
        for b in i.breaks_ns
        if shift_start_ns <= b[0] < shift_start_ns + DAY_NS
    ]
    assert len(breaks) == 3
    for process in day_runs.values():
        on_break = [s for s in process.truth.stops if s.state is PrinterState.STOPPED]
        assert all(plant.stop_reason(s.reason_code).key == "planned_break" for s in on_break)
        # Every break stop lies inside a calendar break, and ends exactly at its end.
        for stop in on_break:
            assert any(b0 <= stop.start_ns and stop.end_ns == b1 for b0, b1 in breaks), stop
        # A break starts on time unless a repair or changeover was still going on.
        on_time = sum(any(s.start_ns == b0 for s in on_break) for b0, _ in breaks)
        assert on_time >= 2


def test_changeovers_failures_and_starved_appear_over_a_day(plant: Plant, day_runs: dict[int, PrinterProcess]) -> None:
    p = plant.simulation.printer
    states = {s.state for run in day_runs.values() for s in run.truth.stops}
    assert {PrinterState.SETUP, PrinterState.FAULT, PrinterState.STOPPED} <= states
    for process in day_runs.values():
        truth = process.truth
        # One changeover per changeover_every_m metres (± one at the day's edges).
        assert abs(truth.changeovers - truth.printed_m / p.changeover_every_m) <= 1.5
        assert truth.changeovers == sum(s.state is PrinterState.SETUP for s in truth.stops)
        faults = [s for s in truth.stops if s.state is PrinterState.FAULT]
        assert len(faults) == truth.failures
        assert 3 <= truth.failures <= 40  # mean ≈ 20 h running / 95 min ≈ 12
        assert all(s.duration_s >= 60 for s in faults if s.end_ns is not None)


def test_energy_per_metre_is_30_to_40_pct_below_baseline(plant: Plant, day_runs: dict[int, PrinterProcess]) -> None:
    for process in day_runs.values():
        truth = process.truth
        kwh_per_m = truth.energy_kwh / truth.printed_m
        saving = 1 - kwh_per_m / plant.baseline.energy_kwh_per_m
        assert 0.30 <= saving <= 0.40, saving
        water_per_m = truth.water_l / truth.printed_m
        assert water_per_m < 0.02 * plant.baseline.water_l_per_m  # near-zero vs conventional


def test_energy_is_exactly_the_integral_of_the_power_model(plant: Plant, day_runs: dict[int, PrinterProcess]) -> None:
    p = plant.simulation.printer
    for process in day_runs.values():
        t = process.truth
        powered_s = (sum(t.state_ns) - t.state_ns[PrinterState.OFFLINE]) / NS_PER_S
        offline_s = t.state_ns[PrinterState.OFFLINE] / NS_PER_S
        expected = (
            p.idle_power_kw * powered_s
            + p.power_kw_per_m_min * t.printed_m * 60
            + p.idle_power_kw * process.constants.offline_power_fraction * offline_s
        ) / 3600
        assert t.energy_kwh == pytest.approx(expected, rel=1e-9)
        assert t.ink_kg == pytest.approx(t.printed_m * p.ink_g_per_m / 1000, rel=1e-9)
        cleaning = t.changeovers * process.constants.cleaning_water_l_per_changeover
        assert t.water_l == pytest.approx(t.printed_m * p.water_l_per_m + cleaning, rel=1e-9)
        assert p.defect_rate <= t.defective_m / t.printed_m <= 1.2 * p.defect_rate


def test_counters_never_decrease_and_running_mirrors_state(plant: Plant, shift_start_ns: int) -> None:
    process = PrinterProcess(plant, seed=5, start_ns=shift_start_ns)
    counters = [s.name for s in plant.printers[0].signals if s.counter]
    previous = process.values()
    for _ in range(4 * 3600):
        process.step()
        values = process.values()
        for name in counters:
            assert values[name] >= previous[name], name
        running = values["state"] == PrinterState.RUNNING
        assert values["running"] == float(running)
        assert (values["stop_reason"] == 0) == running or values["state"] == PrinterState.OFFLINE
        assert values["fault_active"] == float(values["state"] == PrinterState.FAULT)
        assert 0 <= values["speed_m_min"] <= values["speed_setpoint_m_min"]
        previous = values


def test_dryers_cool_in_a_long_stop_and_heat_back(plant: Plant, shift_start_ns: int) -> None:
    process = PrinterProcess(plant, start_ns=shift_start_ns)
    setpoint = plant.simulation.printer.dryer_setpoint_c
    assert process.values()["dryer_1_temp_c"] == pytest.approx(setpoint)
    assert process.values()["dryer_2_temp_c"] < process.values()["dryer_1_temp_c"]
    process.set_emergency_stop(True)
    assert process.values()["state"] == PrinterState.HELD
    assert process.values()["emergency_stop"] == 1.0
    for _ in range(3600):
        process.step()
    cooled = process.values()["dryer_1_temp_c"]
    assert cooled < setpoint - 20
    process.set_emergency_stop(False)
    for _ in range(1800):
        process.step()
    assert process.values()["dryer_1_temp_c"] > cooled + 20
    held = [s for s in process.truth.stops if s.state is PrinterState.HELD]
    assert len(held) == 1 and held[0].duration_s == 3600


def test_initial_printed_m_offsets_only_the_counter(plant: Plant, shift_start_ns: int) -> None:
    printer_sim = plant.simulation.printer.model_copy(update={"initial_printed_m": 1e6})
    shifted = plant.model_copy(update={"simulation": plant.simulation.model_copy(update={"printer": printer_sim})})
    a = PrinterProcess(plant, seed=3, start_ns=shift_start_ns)
    b = PrinterProcess(shifted, seed=3, start_ns=shift_start_ns)
    for _ in range(600):
        a.step()
        b.step()
    assert b.values()["printed_m_total"] == pytest.approx(a.values()["printed_m_total"] + 1e6)
    assert b.truth.printed_m == a.truth.printed_m


def _ramp_reference(v0: float, target: float, rate: float, dt: float, n: int = 4000) -> tuple[float, float]:
    """Plain Euler with tiny steps: what ramp() must agree with."""
    v, area, h = v0, 0.0, dt / n
    for _ in range(n):
        nxt = min(target, v + rate * h) if target >= v else max(target, v - rate * h)
        area += (v + nxt) / 2 * h
        v = nxt
    return v, area


@settings(max_examples=60, deadline=None)
@given(
    v0=st.floats(0, 150),
    target=st.floats(0, 150),
    rate=st.floats(0.1, 50),
    dt=st.floats(0.1, 10),
)
def test_ramp_matches_a_fine_grained_reference(v0: float, target: float, rate: float, dt: float) -> None:
    v1, area = ramp(v0, target, rate, dt)
    ref_v1, ref_area = _ramp_reference(v0, target, rate, dt)
    assert v1 == pytest.approx(ref_v1, abs=1e-6)
    assert area == pytest.approx(ref_area, rel=1e-3, abs=rate * dt * dt / 4000 + 1e-9)


def test_the_line_works_through_a_queue_of_orders(plant: Plant, day_runs: dict[int, PrinterProcess]) -> None:
    """One order per changeover, numbered in sequence, of the plant's designs; each order's metres are what the
    line printed while it was loaded, and every order done printed (at least) the metres ordered."""
    designs = {d.code for d in plant.designs}
    for process in day_runs.values():
        orders = process.truth.orders
        assert len(orders) == process.truth.changeovers + 1
        assert [o.order_number for o in orders] == list(
            range(orders[0].order_number, orders[0].order_number + len(orders))
        )
        assert {o.design_code for o in orders} <= designs and len({o.design_code for o in orders}) >= 2
        assert orders[0].start_ns == process.truth.start_ns and orders[-1].end_ns is None
        for done, loaded in itertools.pairwise(orders):
            assert done.end_ns == loaded.start_ns
            assert done.printed_m >= done.metres_ordered
            # The next order is loaded when its changeover starts: a SETUP stop begins right there.
            assert any(s.start_ns == loaded.start_ns and s.state is PrinterState.SETUP for s in process.truth.stops)
        assert sum(o.printed_m for o in orders) == pytest.approx(process.truth.printed_m, rel=1e-12)
        assert sum(o.defective_m for o in orders) == pytest.approx(process.truth.defective_m, rel=1e-12)
        served = process.values()
        assert (served["order_number"], served["design_code"]) == (orders[-1].order_number, orders[-1].design_code)


def test_orders_change_no_other_draw(plant: Plant, shift_start_ns: int) -> None:
    """Orders draw from their own stream: a plant without designs stops and changes over at the same moments."""
    with_designs = PrinterProcess(plant, seed=5, start_ns=shift_start_ns)
    without = PrinterProcess(plant.model_copy(update={"designs": []}), seed=5, start_ns=shift_start_ns)
    for process in (with_designs, without):
        process.run_until(shift_start_ns + DAY_NS // 2)
    assert [(s.start_ns, s.state, s.reason_code) for s in with_designs.truth.stops] == [
        (s.start_ns, s.state, s.reason_code) for s in without.truth.stops
    ]
    assert {o.design_code for o in without.truth.orders} == {0}
