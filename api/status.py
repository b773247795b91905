"""Live status of every machine and robot: newest values, state and since when, this shift's counters.

Values come from ``store.latest`` (memory) merged with the live hub (newest
timestamp wins). "This shift" amounts on the tiles (metres, kWh, sessions)
are the newest counter reading minus the first reading of the shift, with
the counter's wrap span added back after a wrap; they are cheap enough for a
1 s refresh. The authoritative figures are the KPI endpoints (the KPI core
also handles resets and gaps).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from shopfloor.api.live import LiveHub, StateInfo, state_labels
from shopfloor.api.timerange import current_shift, iso
from shopfloor.models.bands import band_of
from shopfloor.models.calendar import ShiftInstance
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.kpi import energy_kpis
from shopfloor.models.plant import ObjectiveKpi, Plant
from shopfloor.models.states import RobotState, StateFamily, state_family
from shopfloor.models.timebase import NS_PER_S
from shopfloor.store.base import SampleStore, StoreError, StoreUnavailable

log = logging.getLogger("shopfloor.api.status")

SINCE_LOOKBACK_NS = 12 * 3600 * NS_PER_S  # how far back "in this state since" is searched at start-up
PRINTER_COUNTERS = ("printed_m_total", "energy_kwh_total", "water_l_total")
BASELINE_LOOKBACK_NS = 6 * 3600 * NS_PER_S  # how far before a shift start its counters' readings are looked for
RETRY_S = 30.0
ROBOT_COUNTERS = ("energy_delivered_kwh_total", "sessions_completed_total", "sessions_failed_total")


class StatusService:
    def __init__(
        self, plant: Plant, store: SampleStore, hub: LiveHub, *, clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self.plant = plant
        self.clock_ns = clock_ns
        self.store = store
        self.hub = hub
        self._lock = threading.Lock()
        self._first: dict[tuple[str, str, str], float] = {}  # (shift key, equipment, field) -> first reading
        self._since_seeded: set[str] = set()
        self._retry_at: dict[tuple[str, str], float] = {}
        self._history_error: str | None = None  # logged once, not on every status call that meets it
        self._printer_ids = [p.id for p in plant.printers]
        self._robot_ids = [r.id for f in plant.fleets for r in f.robots]
        self._wrap = {(p.id, s.name): s.wrap_m for p in plant.printers for s in p.signals}

    # ------------------------------------------------------------------ helpers

    def _merged_latest(self, measurement: str, ids: list[str]) -> dict[str, dict[str, tuple[int, float]]]:
        latest = self.store.latest(measurement, ids)
        for e in ids:
            for f, tv in self.hub.values(e).items():
                cur = latest.setdefault(e, {}).get(f)
                if cur is None or tv[0] > cur[0]:
                    latest[e][f] = tv
        return latest

    def _seed_since(self, measurement: str, ids: list[str], now_ns: int) -> None:
        """Find when the current state began from stored history, once per equipment."""
        todo = [e for e in ids if e not in self._since_seeded]
        if not todo:
            return
        found = self.store.read_series(measurement, todo, ["state"], now_ns - SINCE_LOOKBACK_NS, now_ns + 1)
        for e in todo:
            s = found[e]["state"]
            self._since_seeded.add(e)
            if len(s.ts_ns) == 0:
                continue
            codes = np.rint(s.value).astype(np.int64)
            change = np.flatnonzero(codes[1:] != codes[:-1])
            first = int(change[-1] + 1) if len(change) else 0
            self.hub.seed_state(e, StateInfo(int(codes[-1]), int(s.ts_ns[first]), int(s.ts_ns[-1])))

    def _first_readings(
        self, shift: ShiftInstance, measurement: str, ids: list[str], fields: tuple[str, ...], now_ns: int
    ) -> None:
        """Each counter's reading at the shift start: the last one before it, else the first one after it.

        Robots report by exception, so a counter that did not change for hours has no sample near the
        shift start: the value in force then is the last one before it. Looked up once per shift; what is
        still missing (no reading at all yet) is retried at most every RETRY_S, not on every status call.
        """
        key = shift.key  # a computed property: once, not once per (robot, counter)
        missing = [(e, f) for e in ids for f in fields if (key, e, f) not in self._first]
        if not missing or time.monotonic() < self._retry_at.get((shift.key, measurement), 0.0):
            return
        eqs = sorted({e for e, _ in missing})
        data = self.store.read_series(
            measurement, eqs, list(fields), shift.start_ns - BASELINE_LOOKBACK_NS, max(now_ns, shift.start_ns + 1)
        )
        for e, f in missing:
            s = data[e][f]
            if len(s.value):
                k = int(np.searchsorted(s.ts_ns, shift.start_ns, side="right")) - 1
                self._first[(shift.key, e, f)] = float(s.value[max(k, 0)])
        if any((shift.key, e, f) not in self._first for e, f in missing):
            self._retry_at[(shift.key, measurement)] = time.monotonic() + RETRY_S

    def _shift_amount(self, key: str, e: str, f: str, latest: dict[str, tuple[int, float]]) -> float | None:
        first = self._first.get((key, e, f))
        if first is None or f not in latest:
            return None
        delta = latest[f][1] - first
        if delta < 0:
            wrap = self._wrap.get((e, f))
            delta = delta + wrap if wrap and delta + wrap >= 0 else latest[f][1]  # wrap, else a reset
        return delta

    def _state_json(self, kind: str, e: str, latest: dict[str, tuple[int, float]]) -> dict[str, Any]:
        info = self.hub.state(e)
        code = info.code if info else (int(latest["state"][1]) if "state" in latest else None)
        since = info.since_ns if info else None
        if code is None:
            return {
                "state": None,
                "state_label": None,
                "state_label_zh": None,
                "state_family": StateFamily.OFF.value,
                "since": None,
                "since_ns": None,
            }
        en, zh = state_labels(kind, code)
        return {
            "state": code,
            "state_family": state_family(kind, code).value,
            "state_label": en,
            "state_label_zh": zh,
            "since": iso(self.plant, since) if since else None,
            "since_ns": since,
        }

    def _link_json(self, equipment: str) -> dict[str, Any] | None:
        link = self.hub.link(equipment)
        if link is None:
            return None
        return {"connected": link.connected, "since": iso(self.plant, link.ts_ns), "detail": link.detail}

    def _target(self, equipment: str, kpi: ObjectiveKpi) -> float | None:
        for team in self.plant.teams:
            if equipment in team.equipment:
                for o in team.objectives:
                    if o.kpi is kpi:
                        return o.target
        return None

    # ------------------------------------------------------------------ the status

    def status(self, now_ns: int | None = None) -> dict[str, Any]:
        now = self.clock_ns() if now_ns is None else now_ns
        shift = current_shift(self.plant, now)
        with self._lock:  # seeding reads the store: once, not once per concurrent request
            try:
                self._seed_since(MEASUREMENT_PRINTER, self._printer_ids, now)
                self._seed_since(MEASUREMENT_ROBOT, self._robot_ids, now)
                self._first_readings(shift, MEASUREMENT_PRINTER, self._printer_ids, PRINTER_COUNTERS, now)
                self._first_readings(shift, MEASUREMENT_ROBOT, self._robot_ids, ROBOT_COUNTERS, now)
            except StoreError as exc:
                # The live values are in memory: show them; what needs history is filled in when the store is back.
                # Said once per distinct error; a StoreUnavailable (a full disk) the store says itself.
                if str(exc) != self._history_error and not isinstance(exc, StoreUnavailable):
                    log.warning("status: cannot read history yet (%s)", exc)
                self._history_error = str(exc)
            else:
                self._history_error = None
            if len(self._first) > 4096:  # old shifts' readings are never needed again
                self._first = {k: v for k, v in self._first.items() if k[0] == shift.key}
                self._retry_at = {k: v for k, v in self._retry_at.items() if k[0] == shift.key}
        printers_latest = self._merged_latest(MEASUREMENT_PRINTER, self._printer_ids)
        robots_latest = self._merged_latest(MEASUREMENT_ROBOT, self._robot_ids)
        elapsed = max(0, min(now, shift.end_ns) - shift.start_ns) / (shift.end_ns - shift.start_ns)
        printers = []
        for p in self.plant.printers:
            lt = printers_latest.get(p.id, {})
            value = {f: tv[1] for f, tv in lt.items()}
            printed = self._shift_amount(shift.key, p.id, "printed_m_total", lt)
            energy = self._shift_amount(shift.key, p.id, "energy_kwh_total", lt)
            water = self._shift_amount(shift.key, p.id, "water_l_total", lt)
            reason_code = int(value["stop_reason"]) if "stop_reason" in value else 0
            reason = self.plant.stop_reason(reason_code)
            target = self._target(p.id, ObjectiveKpi.PRINTED_M)
            expected = target * elapsed if target else None  # pro-rata target at this moment
            pace = band_of(100.0 * printed / expected) if printed is not None and expected else None
            # Savings by the KPI core's formulas (kpi/energy.py), so the tile and the reports agree.
            saving = energy_kpis(printed, energy or 0.0, water or 0.0, self.plant.baseline) if printed else None
            newest = max((tv[0] for tv in lt.values()), default=None)
            state = self._state_json("printer", p.id, lt)
            printers.append(
                {
                    "id": p.id,
                    "name": p.name,
                    "name_zh": p.name_zh,
                    "model": p.model,
                    **state,
                    # Not producing (a known state outside the run family): the tile names the stop's reason.
                    "stopped": state["state"] is not None and state["state_family"] != StateFamily.RUN,
                    "stop_reason": reason_code or None,
                    "stop_reason_label": reason.name if reason else None,
                    "stop_reason_label_zh": reason.name_zh if reason else None,
                    "speed_m_min": value.get("speed_m_min"),
                    "speed_setpoint_m_min": value.get("speed_setpoint_m_min"),
                    "ideal_speed_m_min": p.ideal_speed_m_min,
                    "power_kw": value.get("power_kw"),
                    "printed_m_shift": printed,
                    "energy_kwh_shift": energy,
                    "water_l_shift": water,
                    "energy_kwh_per_m_shift": energy / printed if energy is not None and printed else None,
                    "water_l_per_m_shift": water / printed if water is not None and printed else None,
                    "baseline_energy_kwh_per_m": self.plant.baseline.energy_kwh_per_m,
                    "baseline_water_l_per_m": self.plant.baseline.water_l_per_m,
                    "target_m_shift": target,
                    "expected_m_now": expected,
                    "metres_band": None if pace is None else pace.value,
                    "metres_ahead_m": printed - expected if printed is not None and expected else None,
                    "energy_saving_pct": None if saving is None or energy is None else saving.energy_saving_pct,
                    "water_saving_pct": None if saving is None or water is None else saving.water_saving_pct,
                    "data_age_s": None if newest is None else max(0.0, (now - newest) / NS_PER_S),
                    "link": self._link_json(p.id),
                }
            )
        fleets = []
        for f in self.plant.fleets:
            robots = []
            for r in f.robots:
                lt = robots_latest.get(r.id, {})
                value = {k: tv[1] for k, tv in lt.items()}
                soc = value.get("soc_pct")
                robots.append(
                    {
                        "id": r.id,
                        "name": r.name,
                        "name_zh": r.name_zh,
                        **self._state_json("robot", r.id, lt),
                        "soc_pct": soc,
                        "low_charge": soc is not None and soc < f.low_charge_pct,
                        "charging_power_kw": value.get("charging_power_kw"),
                        "error_code": int(value["error_code"]) if "error_code" in value else None,
                        "sessions_shift": self._shift_amount(shift.key, r.id, "sessions_completed_total", lt),
                        "failed_sessions_shift": self._shift_amount(shift.key, r.id, "sessions_failed_total", lt),
                        "energy_delivered_kwh_shift": self._shift_amount(
                            shift.key, r.id, "energy_delivered_kwh_total", lt
                        ),
                    }
                )
            families = Counter(x["state_family"] for x in robots)
            fleets.append(
                {
                    "id": f.id,
                    "name": f.name,
                    "name_zh": f.name_zh,
                    "link": self._link_json(f.id),
                    "robots": robots,
                    "sessions_shift": sum(x["sessions_shift"] or 0 for x in robots),
                    "energy_delivered_kwh_shift": sum(x["energy_delivered_kwh_shift"] or 0 for x in robots),
                    "charging_now": sum(1 for x in robots if x["state"] == RobotState.CHARGING),
                    # The summary a room reads before the cells: robots per state family, faults, low charge.
                    "families": {fam.value: families[fam.value] for fam in StateFamily if families[fam.value]},
                    "faults": families[StateFamily.FAULT.value],
                    "low_charge": sum(1 for x in robots if x["low_charge"]),
                    "low_charge_pct": f.low_charge_pct,
                    "target_sessions_shift": self._target(f.id, ObjectiveKpi.CHARGING_SESSIONS),
                }
            )
        return {
            "now": iso(self.plant, now),
            "now_ns": now,
            "shift": {
                "key": shift.key,
                "id": shift.shift_id,
                "crew": shift.crew,
                "start": iso(self.plant, shift.start_ns),
                "end": iso(self.plant, shift.end_ns),
                "elapsed_pct": 100.0 * elapsed,
            },
            "printers": printers,
            "fleets": fleets,
        }
