"""Stop events, micro-stops and seconds per ISO element per shift instance.

A stop event is a maximal stretch of contiguous intervals of one element,
ADOT (unplanned) or ADET (external), inside one shift instance: events are
split at shift boundaries, and a planned break (PDOT) ends them. Events
shorter than ``micro_stop_s`` are micro-stops: their time moves into APT,
so it shows as a performance loss, not an availability loss (the usual TPM
"minor stops" convention), and they are not failures for MTBF/MTTR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.kpi.intervals import Intervals
from models.kpi.oee import TimeTotals
from models.kpi.time_model import N_ELEMENTS, Element

NS_PER_S = 1_000_000_000
STOP_ELEMENTS = (Element.ADOT, Element.ADET)
DOWNTIME_ELEMENTS = (Element.AUST, Element.ADOT, Element.ADET)


@dataclass(frozen=True, slots=True)
class StopEvents:
    start_ns: npt.NDArray[np.int64]
    end_ns: npt.NDArray[np.int64]
    element: npt.NDArray[np.int64]
    instance: npt.NDArray[np.intp]
    micro: npt.NDArray[np.bool_]


def event_ids(intervals: Intervals, element: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Event number of every interval (-1 for intervals that are no stop)."""
    stop = np.isin(element, STOP_ELEMENTS)
    n = len(element)
    new = stop.copy()
    if n > 1:
        continues = (
            stop[1:]
            & stop[:-1]
            & (element[1:] == element[:-1])
            & (intervals.instance[1:] == intervals.instance[:-1])
            & (intervals.start_ns[1:] == intervals.end_ns[:-1])
        )
        new[1:] &= ~continues
    ids = np.cumsum(new) - 1
    return np.where(stop, ids, -1)


def stop_events(intervals: Intervals, element: npt.NDArray[np.int64], micro_stop_s: float) -> StopEvents:
    ids = event_ids(intervals, element)
    stop = ids >= 0
    first = np.flatnonzero(stop & np.r_[True, ids[1:] != ids[:-1]])
    last = np.flatnonzero(stop & np.r_[ids[1:] != ids[:-1], True])
    start, end = intervals.start_ns[first], intervals.end_ns[last]
    micro = (end - start) < micro_stop_s * NS_PER_S
    return StopEvents(start, end, element[first], intervals.instance[first], micro)


@dataclass(frozen=True, slots=True)
class ShiftDowntime:
    """Per shift instance: the time totals and seconds / stop counts per stop reason."""

    times: list[TimeTotals]
    reason_s: list[dict[int, float]]  # reason code (0 = unspecified) -> seconds of AUST+ADOT+ADET
    reason_stops: list[dict[int, int]]


def shift_downtime(
    intervals: Intervals, element: npt.NDArray[np.int64], n_instances: int, micro_stop_s: float
) -> ShiftDowntime:
    """Accumulate per instance; index n_instances collects what is outside every shift."""
    ev = stop_events(intervals, element, micro_stop_s)
    ids = event_ids(intervals, element)
    micro_interval = np.zeros(len(element), dtype=bool)
    if len(ev.micro):
        micro_interval = (ids >= 0) & ev.micro[np.clip(ids, 0, None)]
    effective = np.where(micro_interval, Element.APT, element)
    slot = np.where(intervals.instance < 0, n_instances, intervals.instance)
    dur_s = intervals.duration_ns / NS_PER_S
    n_slots = n_instances + 1
    sec = np.bincount(slot * N_ELEMENTS + effective, weights=dur_s, minlength=n_slots * N_ELEMENTS)
    sec = sec.reshape(n_slots, N_ELEMENTS)
    micro_s = np.bincount(slot, weights=np.where(micro_interval, dur_s, 0.0), minlength=n_slots)
    ev_slot = np.where(ev.instance < 0, n_instances, ev.instance)
    ev_s = (ev.end_ns - ev.start_ns) / NS_PER_S
    micro_n = np.bincount(ev_slot[ev.micro], minlength=n_slots)
    failure = (ev.element == Element.ADOT) & ~ev.micro
    fail_n = np.bincount(ev_slot[failure], minlength=n_slots)
    repair = np.bincount(ev_slot[failure], weights=ev_s[failure], minlength=n_slots)
    times = [
        TimeTotals(
            apt_s=float(sec[k, Element.APT]),
            aust_s=float(sec[k, Element.AUST]),
            adot_s=float(sec[k, Element.ADOT]),
            adet_s=float(sec[k, Element.ADET]),
            pdot_s=float(sec[k, Element.PDOT]),
            no_data_s=float(sec[k, Element.NO_DATA]),
            outside_shift_s=float(sec[k, Element.OUTSIDE_SHIFT]),
            micro_stop_s=float(micro_s[k]),
            micro_stops=int(micro_n[k]),
            failures=int(fail_n[k]),
            repair_s=float(repair[k]),
        )
        for k in range(n_slots)
    ]
    # Pareto input: downtime by reason (few intervals, so a dict per shift is cheap).
    down = np.isin(effective, DOWNTIME_ELEMENTS)
    reason_s: list[dict[int, float]] = [{} for _ in range(n_slots)]
    reason_stops: list[dict[int, int]] = [{} for _ in range(n_slots)]
    if down.any():
        keys = slot[down].astype(np.int64) * 65536 + intervals.reason[down]
        uniq, inverse = np.unique(keys, return_inverse=True)
        secs = np.bincount(inverse, weights=dur_s[down])
        counts = np.bincount(inverse)
        for key, s, c in zip(uniq.tolist(), secs.tolist(), counts.tolist()):
            reason_s[key // 65536][key % 65536] = s
            reason_stops[key // 65536][key % 65536] = c
    return ShiftDowntime(times, reason_s, reason_stops)
