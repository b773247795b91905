"""Stops of a printer in a time range, with the reasons in force after operator overrides.

A stop is a maximal stretch of samples whose state is not RUNNING, with no
gap longer than the KPI core's ``max_gap_polls`` poll intervals. It ends at the
first RUNNING sample after it (or at its last sample + one poll interval when
the data stops, ``ongoing`` when it is the newest data). Within a stop the
reason may change (a split): ``segments`` lists each reason's stretch. This is
what an operator picks from to assign, correct or split a reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from api.timerange import iso
from models.contract import MEASUREMENT_PRINTER
from models.kpi import KpiConfig
from models.plant import Plant
from models.states import PrinterState
from store.annotations import AnnotationStore, apply_reason_overrides
from store.base import SampleStore

NS_PER_S = 1_000_000_000
MAX_STOPS = 500  # per response: a day has tens of stops; more means the range is too wide


def list_stops(plant: Plant, store: SampleStore, annotations: AnnotationStore, printer_id: str,
               start_ns: int, end_ns: int, config: KpiConfig = KpiConfig()) -> list[dict[str, Any]]:
    printer = plant.printer(printer_id)
    poll_ns = int(printer.modbus.poll_interval_s * NS_PER_S)
    max_gap_ns = int(config.max_gap_polls * poll_ns)
    data = store.read_series(MEASUREMENT_PRINTER, [printer_id], ["state", "stop_reason"], start_ns, end_ns)[printer_id]
    state, reason = data["state"], data["stop_reason"]
    overrides = annotations.overrides([printer_id], start_ns, end_ns)
    if overrides:
        reason = apply_reason_overrides(reason, overrides, end_ns)
    ts, code = state.ts_ns, np.rint(state.value).astype(np.int64)
    if len(ts) == 0:
        return []
    stopped = code != PrinterState.RUNNING
    gap_after = np.r_[np.diff(ts) > max_gap_ns, True]
    starts = np.flatnonzero(stopped & np.r_[True, ~stopped[:-1] | gap_after[:-1]])
    # The last sample of each stop: the next sample runs, or a gap / the end of data follows.
    lasts = np.flatnonzero(stopped & (np.r_[~stopped[1:], True] | gap_after))
    stops = []
    for k, j in zip(starts[:MAX_STOPS].tolist(), lasts[:MAX_STOPS].tolist()):
        ongoing = j + 1 == len(ts)
        ended_by_run = j + 1 < len(ts) and not gap_after[j]
        stop_end = int(ts[j + 1]) if ended_by_run else int(ts[j]) + poll_ns
        stop_start = int(ts[k])
        states = sorted({int(c) for c in code[k:j + 1]})
        stops.append({
            "equipment": printer_id,
            "start": iso(plant, stop_start), "end": iso(plant, stop_end),
            "start_ns": stop_start, "end_ns": stop_end,
            "duration_s": (stop_end - stop_start) / NS_PER_S,
            "ongoing": ongoing,
            "states": states,
            "segments": _reason_segments(plant, reason.ts_ns, reason.value, stop_start, stop_end),
        })
    return stops


def _reason_segments(plant: Plant, r_ts: np.ndarray, r_val: np.ndarray, start_ns: int, end_ns: int
                     ) -> list[dict[str, Any]]:
    """Stretches of one reason inside [start_ns, end_ns); the value in force at start counts from start."""
    k0 = max(int(np.searchsorted(r_ts, start_ns, side="right")) - 1, 0)
    k1 = int(np.searchsorted(r_ts, end_ns, side="left"))
    ts, val = r_ts[k0:k1], np.rint(r_val[k0:k1]).astype(np.int64)
    if len(ts) == 0:
        return [_segment(plant, start_ns, end_ns, 0)]
    change = np.flatnonzero(np.r_[True, val[1:] != val[:-1]])
    bounds = [max(int(ts[c]), start_ns) for c in change] + [end_ns]
    return [_segment(plant, bounds[i], bounds[i + 1], int(val[c])) for i, c in enumerate(change)
            if bounds[i + 1] > bounds[i]]


def _segment(plant: Plant, start_ns: int, end_ns: int, code: int) -> dict[str, Any]:
    reason = plant.stop_reason(code)
    return {"start_ns": start_ns, "end_ns": end_ns, "reason_code": code,
            "reason_key": reason.key if reason else None,
            "reason": reason.name if reason else None, "reason_zh": reason.name_zh if reason else None}
