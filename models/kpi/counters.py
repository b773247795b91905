"""Totalising counters -> increments, and increments -> amounts per time bucket.

Rules (docs/kpi.md, "Counters"):

* increment i is what the counter gained between samples i-1 and i, over
  [t(i-1), t(i)); it is attributed to where that interval starts, t(i-1),
  just as the state time of the same interval is (so metres and running
  time of a shift match, and a reading taken exactly at the end of a shift
  closes that shift). The first sample has no increment.
* a counter **reported by exception** (a robot's, over an OPC UA
  subscription) holds its last value until it reports a change: its gain
  happened at the later sample, the change, so ``at_change`` books it there
  (one nanosecond before it: a change read exactly at a shift's end closes that shift).
  Booked at the earlier sample, the first session a robot completes after
  hours parked would land in the shift of the one before - and a shift's
  figures would wait for a change that may come days later.
* a drop of more than half the wrap span is a wrap: increment = delta + span
  (the half-span rule of SNMP/RRDtool counter handling). Any other drop is a
  reset (PLC restart, meter exchange): the counter restarted from 0, so the
  increment is the new value.
* an increment that spans a gap (samples further apart than ``max_gap_ns``,
  or a connectivity outage between them) is kept - the metres were printed -
  but flagged ``across_gap``: totals include it, time-based KPIs such as OEE
  performance exclude it, because the matching time is "no data"; so does
  ``throughput``, whose buckets are rates in time (see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shopfloor.models.kpi.outages import NO_SPANS, Spans, overlaps
from shopfloor.models.timebase import NS_PER_S


@dataclass(frozen=True, slots=True)
class Increments:
    # Where the increment is booked: the start of the interval it covers (the earlier sample) for a polled
    # counter, its end (the change) for one reported by exception (``at_change``).
    ts_ns: npt.NDArray[np.int64]
    end_ns: npt.NDArray[np.int64]  # the reading that closes it
    amount: npt.NDArray[np.float64]  # >= 0, engineering units of the counter
    # Rare events are kept as indices into amount (a day of 1 Hz data has a handful), not as masks.
    gap_index: npt.NDArray[np.intp]
    wrap_index: npt.NDArray[np.intp]
    reset_index: npt.NDArray[np.intp]

    def _mask(self, index: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        mask = np.zeros(len(self.amount), dtype=bool)
        mask[index] = True
        return mask

    @property
    def across_gap(self) -> npt.NDArray[np.bool_]:
        return self._mask(self.gap_index)

    @property
    def wrapped(self) -> npt.NDArray[np.bool_]:
        return self._mask(self.wrap_index)

    @property
    def reset(self) -> npt.NDArray[np.bool_]:
        return self._mask(self.reset_index)

    @property
    def wraps(self) -> int:
        return len(self.wrap_index)

    @property
    def resets(self) -> int:
        return len(self.reset_index)

    @property
    def total(self) -> float:
        return float(self.amount.sum())

    @property
    def known(self) -> npt.NDArray[np.float64]:
        """Amounts with across-gap increments zeroed (for KPIs that divide by observed time)."""
        out = self.amount.copy()
        out[self.gap_index] = 0.0
        return out


NO_INDEX = np.empty(0, dtype=np.intp)


def increments(
    ts_ns: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64],
    wrap_span: float | None,
    max_gap_ns: int | None,
    outages: Spans = NO_SPANS,
) -> Increments:
    """Increments of a clean (sorted, unique) counter series."""
    if len(ts_ns) < 2:
        return Increments(ts_ns[:0], ts_ns[:0], np.empty(0, dtype=np.float64), NO_INDEX, NO_INDEX, NO_INDEX)
    amount = np.diff(value)
    # Drops are rare: find them only if there is one (min is a cheap pass), then fix those few in place.
    drop = np.flatnonzero(amount < 0) if amount.min() < 0 else NO_INDEX
    is_wrap = np.zeros(len(drop), dtype=bool)
    if len(drop):
        d = amount[drop]
        if wrap_span is not None:
            is_wrap = d < -0.5 * wrap_span
        # A wrap adds the span back; a reset restarted from 0 (never below 0, whatever the meter sent).
        amount[drop] = np.maximum(np.where(is_wrap, d + (wrap_span or 0.0), value[1:][drop]), 0.0)
    across = NO_INDEX if max_gap_ns is None else np.flatnonzero(np.diff(ts_ns) > max_gap_ns)
    if len(outages[0]):
        hit = np.flatnonzero(overlaps(outages, ts_ns[:-1], ts_ns[1:]))
        across = np.union1d(across, hit)
    return Increments(ts_ns[:-1], ts_ns[1:], amount, across, drop[is_wrap], drop[~is_wrap])


def at_change(incs: Increments) -> Increments:
    """The same increments booked at the reading that reported them (counters reported by exception).

    Booked one nanosecond before that reading: what a reading reports changed before it, so a reading exactly at
    a shift's end closes that shift, as a polled counter's does, and one exactly at its start belongs to the
    shift before.
    """
    return Increments(incs.end_ns - 1, incs.end_ns, incs.amount, incs.gap_index, incs.wrap_index, incs.reset_index)


def starting_in(incs: Increments, start_ns: int, end_ns: int) -> Increments:
    """The increments that start in [start_ns, end_ns): all a computation of that range may count.

    A range's series carries context samples beyond both ends (docs/kpi.md,
    "Context"): the increment that ends at the first sample inside started
    before ``start_ns`` and belongs to the range before; the one closed by the
    sample after ``end_ns`` started inside and is kept.
    """
    i0, i1 = (int(i) for i in np.searchsorted(incs.ts_ns, [start_ns, end_ns]))
    if i0 == 0 and i1 == len(incs.ts_ns):
        return incs

    def pick(index: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        return index[(index >= i0) & (index < i1)] - i0

    return Increments(
        incs.ts_ns[i0:i1],
        incs.end_ns[i0:i1],
        incs.amount[i0:i1],
        pick(incs.gap_index),
        pick(incs.wrap_index),
        pick(incs.reset_index),
    )


def bucket_sum(
    ts_ns: npt.NDArray[np.int64], amount: npt.NDArray[np.float64], edges_ns: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Sum and count of amounts per bucket [edges[k], edges[k+1]); values outside all buckets are dropped."""
    n_buckets = max(len(edges_ns) - 1, 0)
    if n_buckets == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    index = np.searchsorted(edges_ns, ts_ns, side="right") - 1
    inside = (index >= 0) & (index < n_buckets)
    index = index[inside]
    # (copy=False: no copy, the dtypes are already these; numpy's stubs type bincount as intp either way)
    sums = np.bincount(index, weights=amount[inside], minlength=n_buckets).astype(np.float64, copy=False)
    counts = np.bincount(index, minlength=n_buckets).astype(np.int64, copy=False)
    return sums, counts


@dataclass(frozen=True, slots=True)
class Throughput:
    edges_ns: npt.NDArray[np.int64]  # bucket k is [edges[k], edges[k+1])
    amount: npt.NDArray[np.float64]  # NaN where no observed increment starts in the bucket: no data, not zero
    per_minute: npt.NDArray[np.float64]  # amount / bucket length in minutes
    # Read across a gap: real, counted in totals, but when it was made is unknown, so in no bucket.
    # sum(amount, NaN as 0) + across_gap == what the increments starting in the range add up to.
    across_gap: float = 0.0


def throughput(incs: Increments, start_ns: int, end_ns: int, period_s: float) -> Throughput:
    """Amount per fixed bucket (minute, hour ...) aligned on ``start_ns``; the last bucket may be shorter.

    Rule (docs/kpi.md, "Counters"): an increment flagged ``across_gap`` is left
    out of every bucket - the counter only says that the metres were printed
    somewhere inside the unobserved stretch, so putting them where the gap
    starts would inflate that bucket's rate (and spreading them evenly would
    invent a rate nobody measured). They are reported once, as ``across_gap``.
    A bucket in which only such increments start is no data (NaN).
    """
    if period_s <= 0:
        raise ValueError(f"period_s must be > 0, got {period_s}")
    if end_ns <= start_ns:
        raise ValueError(f"empty range: start_ns {start_ns} >= end_ns {end_ns}")
    step = round(period_s * NS_PER_S)
    edges = np.arange(start_ns, end_ns, step, dtype=np.int64)
    edges = np.append(edges, np.int64(end_ns))
    # ``known`` zeroes the few across-gap amounts; their counts are taken back out the same way (they are
    # rare, so this is cheaper than masking the whole series).
    sums, counts = bucket_sum(incs.ts_ns, incs.known, edges)
    gap_ts = incs.ts_ns[incs.gap_index]
    gap_sums, gap_counts = bucket_sum(gap_ts, incs.amount[incs.gap_index], edges)
    counts = counts - gap_counts
    amount = np.where(counts > 0, sums, np.nan)
    minutes = np.diff(edges) / 60e9
    return Throughput(edges, amount, amount / minutes, float(gap_sums.sum()))


def shift_edges(starts_ns: list[int], ends_ns: list[int]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """Bucket edges for (possibly non-contiguous) shift instances, and which bucket is which instance.

    Returns edges and, for each instance, the index of its bucket; the buckets
    between non-adjacent instances collect what falls outside every shift.
    """
    edges: list[int] = []
    slot: list[int] = []
    for s, e in zip(starts_ns, ends_ns, strict=True):
        if not edges or edges[-1] != s:
            edges.append(s)
        slot.append(len(edges) - 1)
        edges.append(e)
    return np.array(edges, dtype=np.int64), np.array(slot, dtype=np.intp)
