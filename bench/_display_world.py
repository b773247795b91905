"""A plant with several lines and a hundred robots, and a moment of live data for it (bench.display and the tests).

``many_lines_plant`` derives the plant from the shipped plant file (the
single source of truth): the same line copied to ``lines`` printers, the
robots spread over two fleets. ``live_moment`` writes, for every line and
robot, two readings (at the shift's start and now) with a known state, charge
and counters, so a page showing them can be checked item by item.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from shopfloor.models.calendar import shift_at
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.plant import Plant, plant_from_dict
from shopfloor.models.samples import SampleBatch, SampleSink
from shopfloor.models.states import PrinterState, Quality, RobotState

S = 1_000_000_000
# What a plant file could hold to attack the page: every name the display shows is set to this when asked.
HOSTILE = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'
# Each line's state, in order: one producing, one stopped by a fault (with its reason), one in changeover.
LINE_STATES = (PrinterState.RUNNING, PrinterState.FAULT, PrinterState.SETUP, PrinterState.HELD)
FAULT_REASON = 20
ROBOT_STATES = tuple(RobotState)
ORDER_BASE = 9001  # line i runs order ORDER_BASE + i; it printed 4000 x (i + 1) m of it this shift


def shipped_raw() -> dict[str, Any]:
    text = resources.files("shopfloor.models.plants").joinpath("mso_cpp_plant.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def many_lines_plant(lines: int = 3, robots: int = 100, *, hostile: bool = False) -> Plant:
    """``lines`` printing lines and ``robots`` robots in two fleets (70 %, 30 %); ``hostile``: markup in names."""
    raw = copy.deepcopy(shipped_raw())
    first = raw["printers"][0]
    printers = []
    for i in range(1, lines + 1):
        p = copy.deepcopy(first)
        p["id"] = f"mso-cpp-{i}"
        p["name"] = first["name"].replace("1", str(i))
        p["name_zh"] = first["name_zh"].replace("1", str(i))
        p["modbus"]["port"] = first["modbus"]["port"] + i - 1
        printers.append(p)
    fleet = raw["fleets"][0]
    template = fleet["robots"][0]
    split = robots - robots * 3 // 10 if robots > 1 else robots
    yard = copy.deepcopy(fleet)
    yard.update(id="ev-yard", name="Yard charging robots", name_zh="停车场充电机器人", low_charge_pct=30.0)
    yard["opcua"] = dict(fleet["opcua"], endpoint="opc.tcp://127.0.0.1:4841/shopfloor/yard")
    fleet["robots"] = [
        dict(template, id=f"r{i:02d}", name=f"Charging robot {i:02d}", name_zh=f"充电机器人 {i:02d}号")
        for i in range(1, split + 1)
    ]
    yard["robots"] = [
        dict(template, id=f"y{i:02d}", name=f"Yard robot {i:02d}", name_zh=f"停车场机器人 {i:02d}号")
        for i in range(1, robots - split + 1)
    ]
    raw["printers"] = printers
    raw["fleets"] = [fleet] + ([yard] if yard["robots"] else [])
    printer_ids = [p["id"] for p in printers]
    fleet_ids = [f["id"] for f in raw["fleets"]]
    for team in raw["teams"]:
        if team["kind"] == "crew":
            team["equipment"] = printer_ids + fleet_ids
        elif team["id"] == "gravure":
            team["equipment"] = printer_ids
        else:
            team["equipment"] = fleet_ids
    if hostile:
        raw["plant"]["name"] = raw["plant"]["name_zh"] = f"{HOSTILE}plant"
        printers[1]["name"] = printers[1]["name_zh"] = f"{HOSTILE}line"
        fleet["name"] = fleet["name_zh"] = f"{HOSTILE}fleet"
        fleet["robots"][0]["name"] = fleet["robots"][0]["name_zh"] = f"{HOSTILE}robot"
        raw["teams"][0]["name"] = raw["teams"][0]["name_zh"] = f"{HOSTILE}team"
        for reason in raw["stop_reasons"]:
            if reason["code"] == FAULT_REASON:
                reason["name"] = reason["name_zh"] = f"{HOSTILE}reason"
    return plant_from_dict(raw, f"<{lines} lines, {robots} robots{', hostile names' if hostile else ''}>")


@dataclass(frozen=True)
class Expected:
    """What the page must show for each item of ``live_moment``."""

    line_state: dict[str, PrinterState]
    robot_state: dict[str, RobotState]
    robot_soc_pct: dict[str, float]
    line_order: dict[str, tuple[int, int]] = field(default_factory=dict)  # (order number, design code); 0: none


def robot_soc_pct(i: int) -> float:
    return float((7 + 13 * i) % 100)  # spread over 0..99: some below every fleet's low-charge level


def live_moment(plant: Plant, now_ns: int, sinks: list[SampleSink]) -> Expected:
    """Two readings per item, at the shift's start and at ``now_ns``, written to every sink (store, hub)."""
    running = shift_at(plant.shift_calendar, plant.tz, now_ns)
    # The first reading at the shift's start (what "this shift" counts from); between shifts an hour back.
    start = running.start_ns if running is not None else now_ns - 3600 * S
    p_rows: list[tuple[int, str, str, float | None, Quality, str]] = []
    line_state: dict[str, PrinterState] = {}
    line_order: dict[str, tuple[int, int]] = {}
    for i, p in enumerate(plant.printers):
        line = LINE_STATES[i % len(LINE_STATES)]
        line_state[p.id] = line
        # A print order on every line but a held one (its order tile hidden), each of another design.
        design = plant.designs[i % len(plant.designs)].code if plant.designs else 0
        order = (0, 0) if line == PrinterState.HELD else (ORDER_BASE + i, design)
        line_order[p.id] = order
        for ts, metres, kwh in ((start, 1000.0, 100.0), (now_ns, 1000.0 + 4000.0 * (i + 1), 100.0 + 280.0 * (i + 1))):
            p_rows += [
                (ts, p.id, "state", float(line), Quality.GOOD, ""),
                (ts, p.id, "stop_reason", float(FAULT_REASON if line == PrinterState.FAULT else 0), Quality.GOOD, ""),
                (ts, p.id, "speed_m_min", 80.0 if line == PrinterState.RUNNING else 0.0, Quality.GOOD, ""),
                (ts, p.id, "speed_setpoint_m_min", 80.0, Quality.GOOD, ""),
                (ts, p.id, "printed_m_total", metres, Quality.GOOD, ""),
                (ts, p.id, "energy_kwh_total", kwh, Quality.GOOD, ""),
                (ts, p.id, "water_l_total", metres * 0.15, Quality.GOOD, ""),
                (ts, p.id, "order_number", float(order[0]), Quality.GOOD, ""),
                (ts, p.id, "design_code", float(order[1]), Quality.GOOD, ""),
            ]
    batches = [SampleBatch.from_rows(MEASUREMENT_PRINTER, p_rows)]
    robot_state: dict[str, RobotState] = {}
    robot_soc: dict[str, float] = {}
    n = 0
    for fleet in plant.fleets:
        r_rows: list[tuple[int, str, str, float | None, Quality, str]] = []
        for r in fleet.robots:
            state = ROBOT_STATES[n % len(ROBOT_STATES)]
            soc = robot_soc_pct(n)
            robot_state[r.id], robot_soc[r.id] = state, soc
            for ts, sessions, kwh in ((start, 10.0, 200.0), (now_ns, 10.0 + n % 5, 200.0 + 20.0 * (n % 5))):
                r_rows += [
                    (ts, r.id, "state", float(state), Quality.GOOD, ""),
                    (ts, r.id, "soc_pct", soc, Quality.GOOD, ""),
                    (ts, r.id, "sessions_completed_total", sessions, Quality.GOOD, ""),
                    (ts, r.id, "sessions_failed_total", 0.0, Quality.GOOD, ""),
                    (ts, r.id, "energy_delivered_kwh_total", kwh, Quality.GOOD, ""),
                ]
            n += 1
        batches.append(SampleBatch.from_rows(MEASUREMENT_ROBOT, r_rows, fleet=fleet.id))
    for sink in sinks:
        for batch in batches:
            sink.write(batch)
    return Expected(line_state, robot_state, robot_soc, line_order)
