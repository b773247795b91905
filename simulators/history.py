"""A realistic plant history: the batches the plant's collectors would have handed to a store.

The printer is polled every ``step_s`` (1 s like the plant file): it runs near
its setpoint and stops now and then with a reason (faults, changeovers, waiting
for fabric), its counters integrate what it does. Robots report by exception
(a sample when the state changes, telemetry every 10 s): idle -> dispatched ->
driving -> connecting -> charging -> returning, now and then a fault. Same
seed, same history. Used by the API tests and ``python -m bench.api``.

Only generation lives here: the caller writes the batches, in order, through
the store's ``write()`` (the path the collectors use) and flushes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.plant import Plant
from shopfloor.models.samples import SampleBatch
from shopfloor.models.states import PrinterState, RobotState

S = 1_000_000_000
STOP_REASONS = (20, 21, 22, 23, 10, 11, 30)  # web break, ink, dryer, drive, cylinder, colour, fabric starved
STOP_STATES = {
    20: PrinterState.FAULT,
    21: PrinterState.FAULT,
    22: PrinterState.FAULT,
    23: PrinterState.FAULT,
    10: PrinterState.SETUP,
    11: PrinterState.SETUP,
    30: PrinterState.SUSPENDED,
}


@dataclass(frozen=True)
class Stop:
    start_ns: int
    end_ns: int
    reason: int


@dataclass(frozen=True)
class PlantHistory:
    batches: list[SampleBatch]  # in the order a store should be given them
    stops: list[Stop]  # the printer's, for tests to check KPIs against


def _batch(
    measurement: str, ts: np.ndarray, equipment: str, fields: dict[str, np.ndarray], fleet: str = ""
) -> SampleBatch:
    n = len(ts)
    names = list(fields)
    return SampleBatch(
        measurement,
        np.tile(ts, len(names)).astype(np.int64),
        np.full(n * len(names), equipment, dtype=object),
        np.repeat(np.array(names, dtype=object), n),
        np.concatenate([np.asarray(fields[k], dtype=np.float64) for k in names]),
        np.zeros(n * len(names), dtype=np.uint8),
        np.full(n * len(names), "", dtype=object),
        fleet,
    )


def printer_history(
    plant: Plant,
    start_ns: int,
    end_ns: int,
    *,
    seed: int = 7,
    step_s: float = 1.0,
    chunk_s: int = 3600,
) -> tuple[list[SampleBatch], list[Stop]]:
    """The printer's samples in ``[start_ns, end_ns)``, one batch per ``chunk_s``, and its stops."""
    rng = np.random.default_rng(seed)
    p = plant.printers[0]
    step = int(step_s * S)
    ts = np.arange(start_ns, end_ns, step, dtype=np.int64)
    state = np.full(len(ts), PrinterState.RUNNING, dtype=np.float64)
    reason = np.zeros(len(ts))
    stops: list[Stop] = []
    t = start_ns + int(rng.exponential(600) * S)
    while t < end_ns:
        dur = int(max(90.0, rng.exponential(300.0)) * S)
        code = int(rng.choice(STOP_REASONS))
        a, b = np.searchsorted(ts, [t, min(t + dur, end_ns)])
        if b > a:
            state[a:b] = STOP_STATES[code]
            reason[a:b] = code
            stops.append(Stop(int(ts[a]), int(ts[b]) if b < len(ts) else int(ts[-1]) + step, code))
        t += dur + int(rng.exponential(1500.0) * S)
    running = state == PrinterState.RUNNING
    setpoint = np.full(len(ts), 80.0)
    speed = np.where(running, 80.0 + rng.normal(0, 1.0, len(ts)), 0.0).clip(0)
    dt_min = step_s / 60.0
    printed = np.cumsum(speed * dt_min)
    defective = np.cumsum(speed * dt_min * 0.012)
    power = 60.0 + 3.45 * speed
    energy = np.cumsum(power * step_s / 3600.0)
    water = np.cumsum(speed * dt_min * 0.15)
    ink = np.cumsum(speed * dt_min * 0.008)
    fields = {
        "state": state,
        "stop_reason": reason,
        "speed_m_min": speed,
        "speed_setpoint_m_min": setpoint,
        "printed_m_total": np.round(printed, 1),
        "defective_m_total": np.round(defective, 1),
        "energy_kwh_total": np.round(energy, 3),
        "water_l_total": np.round(water, 1),
        "ink_consumed_kg_total": np.round(ink, 3),
        "power_kw": power,
        "dryer_1_temp_c": 165.0 + rng.normal(0, 0.5, len(ts)),
    }
    per_chunk = max(1, int(chunk_s / step_s))
    batches = [
        _batch(MEASUREMENT_PRINTER, ts[k : k + per_chunk], p.id, {n: v[k : k + per_chunk] for n, v in fields.items()})
        for k in range(0, len(ts), per_chunk)
    ]
    return batches, stops


def robot_history(plant: Plant, start_ns: int, end_ns: int, *, seed: int = 11) -> list[SampleBatch]:
    """Report-by-exception robot history: state on change, telemetry every 10 s."""
    rng = np.random.default_rng(seed)
    batches: list[SampleBatch] = []
    fleet = plant.fleets[0]
    grid = np.arange(start_ns, end_ns, 10 * S, dtype=np.int64)
    for robot in fleet.robots:
        t = start_ns + int(rng.uniform(0, 600) * S)
        changes: list[tuple[int, int]] = [(start_ns, RobotState.IDLE)]
        sessions: list[tuple[int, float, bool]] = []  # end of charging, kWh, success
        while t < end_ns:
            if rng.random() < 0.04:
                changes.append((t, RobotState.FAULT))
                t += int(rng.uniform(600, 1800) * S)
                changes.append((t, RobotState.IDLE))
                continue
            for st, lo, hi in (
                (RobotState.DISPATCHED, 5, 15),
                (RobotState.DRIVING, 60, 200),
                (RobotState.CONNECTING, 30, 60),
                (RobotState.CHARGING, 900, 2400),
                (RobotState.RETURNING, 60, 200),
                (RobotState.IDLE, 300, 1500),
            ):
                changes.append((t, st))
                d = int(rng.uniform(lo, hi) * S)
                if st == RobotState.CHARGING:
                    sessions.append((t + d, 40.0 * d / S / 3600.0, rng.random() > 0.03))
                t += d
        ch_ts = np.array([c[0] for c in changes if c[0] < end_ns], dtype=np.int64)
        ch_st = np.array([c[1] for c in changes if c[0] < end_ns], dtype=np.float64)
        k = np.searchsorted(ch_ts, grid, side="right") - 1
        st_grid = ch_st[k]
        charging = st_grid == RobotState.CHARGING
        power = np.where(charging, 40.0, 0.0)
        energy = np.cumsum(power * 10 / 3600.0)
        s_end = np.array([s[0] for s in sessions], dtype=np.int64)
        ok = np.array([s[2] for s in sessions], dtype=bool)
        done = np.searchsorted(s_end[ok], grid, side="right").astype(np.float64)
        failed = np.searchsorted(s_end[~ok], grid, side="right").astype(np.float64)
        soc = 80.0 - 30.0 * (np.cumsum(charging) % 40) / 40.0
        batches.append(_batch(MEASUREMENT_ROBOT, ch_ts, robot.id, {"state": ch_st}, fleet.id))
        batches.append(
            _batch(
                MEASUREMENT_ROBOT,
                grid,
                robot.id,
                {
                    "soc_pct": soc,
                    "charging_power_kw": power,
                    "energy_delivered_kwh_total": np.round(energy, 3),
                    "sessions_completed_total": done,
                    "sessions_failed_total": failed,
                    "position_x_m": np.zeros(len(grid)),
                    "position_y_m": np.zeros(len(grid)),
                    "error_code": np.zeros(len(grid)),
                },
                fleet.id,
            )
        )
    return batches


def plant_history(plant: Plant, start_ns: int, end_ns: int, *, seed: int = 7) -> PlantHistory:
    printer_batches, stops = printer_history(plant, start_ns, end_ns, seed=seed)
    return PlantHistory(printer_batches + robot_history(plant, start_ns, end_ns, seed=seed + 4), stops)
