"""A sampled state series -> state intervals, cut at gaps, outages, shifts and planned breaks.

Rules (docs/kpi.md, "State intervals"):

* a sample's value holds from its timestamp until the next sample, provided
  that sample comes within ``max_gap_ns``; otherwise the time up to the next
  sample is no data. The last sample holds until ``end_ns`` under the same
  rule. ``max_gap_ns=None`` means report-by-exception (an OPC UA
  subscription only sends changes): silence is then not a gap, and only
  connectivity outages make no data.
* time before the first sample and inside an outage span is no data.
* intervals are split at shift-instance boundaries and at planned breaks.

The work is done on *runs* (maximal stretches of one value with no gap),
so a day of 1 Hz samples costs a few vector passes and the rest handles a few
hundred runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shopfloor.models.calendar import ShiftInstance, assign_instances, in_planned_break
from shopfloor.models.kpi.outages import NO_SPANS, Spans, covered

NO_DATA = -1  # state of an interval nobody knows anything about


@dataclass(frozen=True, slots=True)
class Runs:
    """Maximal stretches [start, end) of one value known without a gap (end == start: known at one instant only)."""

    start_ns: npt.NDArray[np.int64]
    end_ns: npt.NDArray[np.int64]
    value: npt.NDArray[np.int64]


def runs(ts_ns: npt.NDArray[np.int64], value: npt.NDArray[np.float64], end_ns: int, max_gap_ns: int | None) -> Runs:
    """Compress a clean series into runs of equal (integer) value.

    Only the run boundaries are touched after two vector passes (value
    changes, gaps), so the cost is a few passes over the samples.
    """
    n = len(ts_ns)
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return Runs(empty, empty, empty)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(value[1:], value[:-1], out=new[1:])
    gap_after = None
    if max_gap_ns is not None:
        gap_after = np.diff(ts_ns) > max_gap_ns
        new[1:] |= gap_after
    first = np.flatnonzero(new)
    codes = np.rint(value[first]).astype(np.int64)
    if len(first) > 1:
        # Values that differ but round to the same code (2.0, 2.2) are one run, unless a gap lies between.
        same = codes[1:] == codes[:-1]
        if gap_after is not None:
            same &= ~gap_after[first[1:] - 1]
        if same.any():
            keep = np.r_[True, ~same]
            first, codes = first[keep], codes[keep]
    last = np.empty_like(first)
    last[:-1] = first[1:] - 1
    last[-1] = n - 1
    return Runs(ts_ns[first], hold_until_at(ts_ns, last, end_ns, max_gap_ns), codes)


def hold_until_at(
    ts_ns: npt.NDArray[np.int64], index: npt.NDArray[np.intp], end_ns: int, max_gap_ns: int | None
) -> npt.NDArray[np.int64]:
    """Until when the samples at ``index`` are known (their own timestamp if a gap follows)."""
    n = len(ts_ns)
    nxt = np.where(index + 1 < n, ts_ns[np.minimum(index + 1, n - 1)], np.maximum(end_ns, ts_ns[index]))
    if max_gap_ns is None:
        return nxt
    return np.where(nxt - ts_ns[index] <= max_gap_ns, nxt, ts_ns[index])


@dataclass(frozen=True, slots=True)
class Intervals:
    """Consecutive, non-overlapping [start, end) intervals covering [range start, range end)."""

    start_ns: npt.NDArray[np.int64]
    end_ns: npt.NDArray[np.int64]
    state: npt.NDArray[np.int64]  # NO_DATA where unknown
    reason: npt.NDArray[np.int64]  # 0 where none or unknown
    instance: npt.NDArray[np.intp]  # index into the shift instances, -1 outside every shift
    in_break: npt.NDArray[np.bool_]

    @property
    def duration_ns(self) -> npt.NDArray[np.int64]:
        return self.end_ns - self.start_ns

    def __len__(self) -> int:
        return len(self.start_ns)


def _value_at(r: Runs, t_ns: npt.NDArray[np.int64], missing: int) -> npt.NDArray[np.int64]:
    """Value of the run covering each moment, ``missing`` where no run covers it."""
    if len(r.start_ns) == 0:
        return np.full(t_ns.shape, missing, dtype=np.int64)
    k = np.searchsorted(r.start_ns, t_ns, side="right") - 1
    kc = np.clip(k, 0, None)
    known = (k >= 0) & (t_ns < r.end_ns[kc])
    return np.where(known, r.value[kc], missing)


def state_intervals(
    state: Runs,
    start_ns: int,
    end_ns: int,
    instances: Sequence[ShiftInstance] = (),
    reason: Runs | None = None,
    outages: Spans = NO_SPANS,
    split_breaks: bool = True,
) -> Intervals:
    """Cut [start_ns, end_ns) at every change of state, reason, shift, break or outage."""
    if end_ns <= start_ns:
        raise ValueError(f"empty range: start_ns {start_ns} >= end_ns {end_ns}")
    inst = list(instances)
    cuts = [
        np.array([start_ns, end_ns], dtype=np.int64),
        state.start_ns,
        state.end_ns,
        outages[0],
        outages[1],
        np.array([t for i in inst for t in (i.start_ns, i.end_ns)], dtype=np.int64),
    ]
    if split_breaks:
        cuts.append(np.array([t for i in inst for b in i.breaks_ns for t in b], dtype=np.int64))
    if reason is not None:
        cuts += [reason.start_ns, reason.end_ns]
    edges = np.unique(np.clip(np.concatenate(cuts), start_ns, end_ns))
    seg_start, seg_end = edges[:-1], edges[1:]
    seg_state = _value_at(state, seg_start, NO_DATA)
    seg_state[covered(outages, seg_start)] = NO_DATA
    seg_reason = np.zeros(len(seg_start), dtype=np.int64) if reason is None else _value_at(reason, seg_start, 0)
    seg_reason[seg_state == NO_DATA] = 0
    seg_inst = assign_instances(inst, seg_start)
    seg_break = in_planned_break(inst, seg_start) if split_breaks else np.zeros(len(seg_start), dtype=bool)
    # Merge neighbours that agree on everything: the segments were cut by runs that turned out equal.
    same = (
        (seg_state[1:] == seg_state[:-1])
        & (seg_reason[1:] == seg_reason[:-1])
        & (seg_inst[1:] == seg_inst[:-1])
        & (seg_break[1:] == seg_break[:-1])
    )
    first = np.flatnonzero(np.r_[True, ~same])
    last = np.r_[first[1:] - 1, len(seg_start) - 1]
    return Intervals(
        seg_start[first], seg_end[last], seg_state[first], seg_reason[first], seg_inst[first], seg_break[first]
    )
