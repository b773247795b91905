"""Cleaning a stored series: sorted, unique timestamps, finite values.

What the store returns is meant to be sorted GOOD samples, but retried writes
and merged spools can repeat or reorder timestamps. The rule is InfluxDB's:
a later write at the same timestamp replaces the earlier one, so after a
stable sort the *last* sample of each timestamp wins.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from shopfloor.models.samples import Series

EMPTY_TS = np.empty(0, dtype=np.int64)
EMPTY_VALUE = np.empty(0, dtype=np.float64)


def as_arrays(series: Series | None) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(ts_ns, value) as int64/float64 arrays; a missing series is empty. Raises on mismatched lengths."""
    if series is None:
        return EMPTY_TS, EMPTY_VALUE
    ts = np.asarray(series.ts_ns, dtype=np.int64)
    value = np.asarray(series.value, dtype=np.float64)
    if ts.ndim != 1 or value.ndim != 1 or len(ts) != len(value):
        raise ValueError(
            f"a Series needs two 1-D columns of equal length, got ts_ns {ts.shape} and value {value.shape}"
        )
    return ts, value


def clean(
    ts_ns: npt.NDArray[np.int64], value: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Sort stably by time, keep the last sample of each timestamp, drop non-finite values."""
    if len(ts_ns) != len(value):
        raise ValueError(f"ts_ns has {len(ts_ns)} rows, value has {len(value)}")
    if not np.isfinite(value.sum()):  # one cheap pass; NaN/inf anywhere makes the sum non-finite
        finite = np.isfinite(value)
        # A non-finite value is a missing sample (the store should never return one).
        ts_ns, value = ts_ns[finite], value[finite]
    if len(ts_ns) < 2:
        return ts_ns, value
    if np.greater(ts_ns[1:], ts_ns[:-1]).all():  # the common case: already clean, skip the O(n log n) sort
        return ts_ns, value
    order = np.argsort(ts_ns, kind="stable")
    ts_sorted = ts_ns[order]
    keep = np.empty(len(ts_sorted), dtype=bool)
    keep[-1] = True
    np.not_equal(ts_sorted[1:], ts_sorted[:-1], out=keep[:-1])
    return ts_sorted[keep], value[order][keep]


def clean_series(series: Series | None) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    return clean(*as_arrays(series))
