"""Connectivity events -> spans of time with no data.

A collector writes a ``connectivity`` record on every change of its link.
Between a ``connected=False`` event and the next ``connected=True`` event of
the same equipment nothing read from the device can be trusted, whatever
samples say: those spans are "no data". Before the first event in the range
the link is taken to be up (samples and gaps still decide).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from shopfloor.models.samples import ConnectivityEvent

Spans = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]  # (starts, ends), sorted, disjoint

NO_SPANS: Spans = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))


def outage_spans(events: Iterable[ConnectivityEvent], equipment: str, start_ns: int, end_ns: int) -> Spans:
    """Disjoint [start, end) spans inside [start_ns, end_ns) during which ``equipment`` was disconnected."""
    mine = sorted((e for e in events if e.equipment == equipment), key=lambda e: e.ts_ns)
    starts: list[int] = []
    ends: list[int] = []
    down_since: int | None = None
    for event in mine:  # a handful of events per day, not samples
        if not event.connected and down_since is None:
            down_since = event.ts_ns
        elif event.connected and down_since is not None:
            starts.append(down_since)
            ends.append(event.ts_ns)
            down_since = None
    if down_since is not None:
        starts.append(down_since)
        ends.append(end_ns)
    s = np.clip(np.array(starts, dtype=np.int64), start_ns, end_ns)
    e = np.clip(np.array(ends, dtype=np.int64), start_ns, end_ns)
    keep = e > s
    return s[keep], e[keep]


def covered(spans: Spans, ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """True where a moment lies inside one of the spans."""
    starts, ends = spans
    if len(starts) == 0:
        return np.zeros(ts_ns.shape, dtype=bool)
    k = np.searchsorted(starts, ts_ns, side="right") - 1
    return (k >= 0) & (ts_ns < ends[np.clip(k, 0, None)])


def overlaps(spans: Spans, a_ns: npt.NDArray[np.int64], b_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """True where the open interval (a, b) meets a span.

    Spans are disjoint and sorted, so the last span starting before b has the
    latest end of all such spans: checking that one is enough.
    """
    starts, ends = spans
    if len(starts) == 0:
        return np.zeros(a_ns.shape, dtype=bool)
    k = np.searchsorted(starts, b_ns, side="left") - 1
    return (k >= 0) & (ends[np.clip(k, 0, None)] > a_ns)
