"""Benchmark of the KPI core: one day of 1 Hz data, 1 printer and 100 robots, every KPI by shift and team.

    python -m bench.kpi [--robots 100] [--repeats 5] [--ref-robots 5]

Prints, measured in this run (medians):
* the vectorised time (``build_report`` end to end),
* the ratio to the plain-Python reference (models.kpi.reference) - the
  reference runs the printer and ``--ref-robots`` robots and its robot part
  is scaled linearly to all robots (it is per-robot work), as printed,
* the ratio to one numpy pass over the same input arrays (``np.sum`` of every
  column the KPI core reads: the memory-bandwidth floor).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from bench._timing import median_s, ratio_line, time_line
from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.kpi import build_report
from shopfloor.models.kpi import reference as ref
from shopfloor.models.kpi.pipeline import KpiConfig
from shopfloor.models.plant import Fleet, Plant, Robot, load_plant
from shopfloor.models.samples import Series
from shopfloor.models.states import PrinterState as P
from shopfloor.models.states import RobotState as R

NS = 1_000_000_000
DAY_S = 86_400
SEED = 20261124


def plant_with_robots(n: int) -> Plant:
    """The default plant with its fleet grown to ``n`` robots (ids from the plant's own robots' pattern)."""
    base = load_plant()
    fleet = base.fleets[0]
    robots = [Robot(id=f"robot-{i:03d}", name=f"Robot {i}", name_zh=f"机器人 {i}") for i in range(n)]
    return base.model_copy(update={"fleets": [Fleet.model_validate({**fleet.model_dump(), "robots": robots})]})


def _runs_to_samples(
    rng: np.random.Generator, states: Sequence[int], mean_s: Sequence[float], n: int
) -> npt.NDArray[np.int64]:
    """Piecewise-constant series from a state cycle with exponential durations."""
    reps = n // 60 + 10
    seq = np.resize(np.asarray(states), reps * len(states))
    dur = np.maximum(1, rng.exponential(np.resize(np.asarray(mean_s, float), len(seq)))).astype(np.int64)
    return np.repeat(seq, dur)[:n]


def printer_day(
    rng: np.random.Generator, start_ns: int, wrap_m: float, design_codes: Sequence[int] = ()
) -> dict[str, Series]:
    cycle = [P.RUNNING, P.FAULT, P.RUNNING, P.SETUP, P.RUNNING, P.SUSPENDED, P.RUNNING, P.HELD]
    means = [3000, 400, 2500, 1000, 3000, 200, 2000, 30]
    reasons = {P.FAULT: 20, P.SETUP: 10, P.SUSPENDED: 30}
    state = _runs_to_samples(rng, cycle, means, DAY_S)
    reason = np.zeros(DAY_S)
    for s, r in reasons.items():
        reason[state == s] = r
    speed = np.where(state == P.RUNNING, 80.0 + rng.normal(0, 2, DAY_S), 0.0)
    metres = np.cumsum(speed / 60.0)
    ts = start_ns + np.arange(DAY_S, dtype=np.int64) * NS
    keep = np.ones(DAY_S, dtype=bool)
    keep[30_000:30_040] = False  # a 40 s gap: no data, never zero
    printed = np.mod(wrap_m - 5_000.0 + metres, wrap_m)  # wraps during the day
    # A new print order at the start of every setup (a changeover), its design cycling through the plant's.
    setup_starts = (state == P.SETUP) & np.r_[True, state[:-1] != P.SETUP]
    order_index = np.cumsum(setup_starts)
    designs = np.asarray(design_codes or [0], dtype=float)
    cols = {
        "state": state.astype(float),
        "stop_reason": reason,
        "printed_m_total": printed,
        "defective_m_total": metres * 0.012,
        "energy_kwh_total": 1e5 + np.cumsum(60 + 3.45 * speed) / 3600,
        "water_l_total": metres * 0.15,
        "ink_consumed_kg_total": metres * 0.008,
        "order_number": 7001.0 + order_index,
        "design_code": designs[order_index % len(designs)],
    }
    return {k: Series(ts[keep], v[keep]) for k, v in cols.items()}


def robot_day(rng: np.random.Generator, start_ns: int) -> dict[str, Series]:
    cycle = [R.IDLE, R.DISPATCHED, R.DRIVING, R.CONNECTING, R.CHARGING, R.RETURNING, R.SELF_CHARGING]
    means = [900, 8, 120, 45, 1800, 120, 600]
    state = _runs_to_samples(rng, cycle, means, DAY_S)
    if rng.random() < 0.3:
        a = int(rng.integers(0, DAY_S - 3600))
        state[a : a + 1800] = R.FAULT
    charging = state == R.CHARGING
    ended = np.r_[charging[:-1] & ~charging[1:], False]
    failed = ended & (rng.random(DAY_S) < 0.03)
    ts = start_ns + np.arange(DAY_S, dtype=np.int64) * NS
    return {
        "state": Series(ts, state.astype(float)),
        "energy_delivered_kwh_total": Series(ts, np.cumsum(charging * 40.0 / 3600)),
        "sessions_completed_total": Series(ts, np.cumsum(ended & ~failed).astype(float)),
        "sessions_failed_total": Series(ts, np.cumsum(failed).astype(float)),
    }


def reference_run(
    plant: Plant, start: int, end: int, data: dict[str, dict[str, Series]], robot_ids: list[str], cfg: KpiConfig
) -> None:
    """The reference pipeline over the printer and the given robots (per-equipment totals per shift)."""
    inst = shift_instances(plant.shift_calendar, plant.tz, start, end)
    for p in plant.printers:
        ref.printer_shift_totals(p, plant.stop_reasons, data[p.id], start, end, inst, (), cfg, plant.designs)
    fleet = plant.fleets[0]
    for rid in robot_ids:
        ref.robot_shift_totals(fleet, rid, data[rid], start, end, inst, (), cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ref-robots", type=int, default=5, help="robots the reference runs on (then scaled)")
    args = parser.parse_args(argv)

    plant = plant_with_robots(args.robots)
    rng = np.random.default_rng(SEED)
    start = to_ns(dt.datetime(2026, 11, 24, 6, tzinfo=plant.tz))
    end = start + DAY_S * NS
    printer = plant.printers[0]
    wrap_m = printer.signal("printed_m_total").wrap_m
    assert wrap_m is not None  # a counter (the plant file says so) wraps
    data = {printer.id: printer_day(rng, start, wrap_m, [d.code for d in plant.designs])}
    robot_ids = [r.id for r in plant.fleets[0].robots]
    for rid in robot_ids:
        data[rid] = robot_day(rng, start)
    cfg = KpiConfig()
    arrays = [a for fields in data.values() for s in fields.values() for a in (s.ts_ns, s.value)]
    n_samples = sum(len(s.ts_ns) for fields in data.values() for s in fields.values())
    megabytes = sum(a.nbytes for a in arrays) / 1e6

    report = build_report(plant, start, end, data, (), cfg)  # also a warm-up
    t_vec = median_s(lambda: build_report(plant, start, end, data, (), cfg), args.repeats)
    t_floor = median_s(lambda: [np.sum(a) for a in arrays], args.repeats)
    k = min(args.ref_robots, len(robot_ids))
    t_ref_printer = median_s(lambda: reference_run(plant, start, end, data, [], cfg), 1, warmup=0)
    t_ref_some = median_s(lambda: reference_run(plant, start, end, data, robot_ids[:k], cfg), 1, warmup=0)
    t_ref = t_ref_printer + (t_ref_some - t_ref_printer) * (len(robot_ids) / max(k, 1))

    p = report.printers[printer.id]
    print(
        f"input: 1 printer + {len(robot_ids)} robots, one day at 1 Hz: {n_samples:,} samples, "
        f"{len(arrays)} arrays, {megabytes:.0f} MB; {len(report.shifts)} shifts, {len(report.teams)} teams"
    )
    print(
        f"check: printer OEE {p.oee.oee_pct:.1f} %, fleet availability "
        f"{report.fleets['ev-robots'].availability_pct:.1f} %, best team {report.teams[0].team_id}"
    )
    print(time_line("vectorised build_report (median)", t_vec))
    print(time_line("numpy floor: np.sum over every input array", t_floor))
    print(time_line(f"reference: printer + {k} robots (1 run)", t_ref_some))
    print(time_line(f"reference scaled to {len(robot_ids)} robots", t_ref))
    speedup, floor_ratio = t_ref / t_vec, t_vec / t_floor
    print(ratio_line("speed-up vs plain-Python reference", speedup, ">= 100x", speedup >= 100))
    print(ratio_line("vectorised / numpy floor", floor_ratio, "<= 10x", floor_ratio <= 10))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
