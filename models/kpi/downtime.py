"""Stop events, micro-stops and seconds per ISO element per shift instance.

One definition of a stop event (docs/kpi.md, "Stop events") serves the
downtime Pareto's stop counts, failures (MTBF/MTTR), micro-stops and the
operator's stop list (api/stops.py):

    a stop event is a maximal run of contiguous non-running time with data
    that keeps one reason code, one ISO element and one shift instance.

So a stop that goes FAULT -> HELD with the same reason is one event; a stop
an operator splits into two reasons is two events (two failures if both are
unplanned); a shift boundary, a planned break (its non-running time is PDOT)
or a stretch of no data ends an event. Events of ADOT or ADET shorter than
``micro_stop_s`` are micro-stops: their time moves into APT, so it shows as a
performance loss, not an availability loss (the usual TPM "minor stops"
convention), and they are neither failures nor Pareto stops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shopfloor.models.kpi.intervals import NO_DATA, Intervals
from shopfloor.models.kpi.oee import TimeTotals
from shopfloor.models.kpi.time_model import N_ELEMENTS, Element
from shopfloor.models.states import PrinterState
from shopfloor.models.timebase import NS_PER_S

STOP_ELEMENTS = (Element.ADOT, Element.ADET)  # events of these can be micro-stops
DOWNTIME_ELEMENTS = (Element.AUST, Element.ADOT, Element.ADET)  # the Pareto's elements


@dataclass(frozen=True, slots=True)
class StopEvents:
    start_ns: npt.NDArray[np.int64]
    end_ns: npt.NDArray[np.int64]
    element: npt.NDArray[np.int64]
    reason: npt.NDArray[np.int64]
    instance: npt.NDArray[np.intp]
    micro: npt.NDArray[np.bool_]

    @property
    def failure(self) -> npt.NDArray[np.bool_]:
        """Unplanned events at least the micro-stop threshold long: what MTBF/MTTR count."""
        return (self.element == Element.ADOT) & ~self.micro

    @property
    def counted(self) -> npt.NDArray[np.bool_]:
        """Events the downtime Pareto counts as stops (setup, unplanned, external; not micro)."""
        return np.isin(self.element, DOWNTIME_ELEMENTS) & ~self.micro

    def __len__(self) -> int:
        return len(self.start_ns)


def event_ids(intervals: Intervals, element: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Event number of every interval (-1 for running time and no data)."""
    stop = (intervals.state != NO_DATA) & (intervals.state != PrinterState.RUNNING)
    n = len(element)
    new = stop.copy()
    if n > 1:
        continues = (
            stop[1:]
            & stop[:-1]
            & (element[1:] == element[:-1])
            & (intervals.reason[1:] == intervals.reason[:-1])
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
    el = element[first]
    micro = np.isin(el, STOP_ELEMENTS) & ((end - start) < micro_stop_s * NS_PER_S)
    return StopEvents(start, end, el, intervals.reason[first], intervals.instance[first], micro)


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
    if len(ev):
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
    failure = ev.failure
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
    # Pareto input: downtime seconds by reason over intervals, stop counts by reason over events (one
    # definition of a stop, see the module docstring); few of either, so a dict per shift is cheap.
    down = np.isin(effective, DOWNTIME_ELEMENTS)
    reason_s: list[dict[int, float]] = [{} for _ in range(n_slots)]
    reason_stops: list[dict[int, int]] = [{} for _ in range(n_slots)]
    if down.any():
        # (slot, reason) pairs as columns: any reason code works, no packing into one integer.
        keys = np.stack([slot[down].astype(np.int64), intervals.reason[down]])
        uniq, inverse = np.unique(keys, axis=1, return_inverse=True)
        secs = np.bincount(inverse.ravel(), weights=dur_s[down])
        for (k, code), s in zip(uniq.T.tolist(), secs.tolist(), strict=True):
            reason_s[k][code] = s
    counted = ev.counted
    if counted.any():
        keys = np.stack([ev_slot[counted].astype(np.int64), ev.reason[counted]])
        uniq, counts = np.unique(keys, axis=1, return_counts=True)
        for (k, code), c in zip(uniq.T.tolist(), counts.tolist(), strict=True):
            reason_stops[k][code] = c
    return ShiftDowntime(times, reason_s, reason_stops)
