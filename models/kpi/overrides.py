"""Operator stop-reason overrides applied to a measured ``stop_reason`` series (the rule is in docs/api.md).

Pure, on arrays: the annotation store (store/annotations.py) keeps the overrides and their audit trail,
the KPI layer reads them and applies them here, so a person's correction never rewrites a measured sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from shopfloor.models.samples import Series


class ReasonOverrideSpan(Protocol):
    """What the rule needs of an override: the annotation store's rows qualify without this layer knowing them."""

    @property
    def start_ns(self) -> int: ...

    @property
    def end_ns(self) -> int: ...

    @property
    def reason_code(self) -> int: ...


def apply_reason_overrides(
    series: Series, overrides: Sequence[ReasonOverrideSpan], range_end_ns: int | None = None
) -> Series:
    """The ``stop_reason`` series with operator overrides applied (oldest first, so the newest wins).

    For an override ``[start, end)`` with reason r:
    * every sample inside ``[start, end)`` gets the value r (timestamps are
      kept, so the series' sampling density - and the KPI core's gap
      detection - is unchanged);
    * a sample (start, r) is added, so the reason takes effect at the start;
    * a sample (end, v) is added, v being the value in force at ``end`` before
      this override, so the original reason resumes after it.
    Boundary samples are only added where the series has a sample at or before
    them (inside what was measured) and before ``range_end_ns``: an override
    never invents data.
    """
    ts = np.asarray(series.ts_ns, dtype=np.int64)
    value = np.asarray(series.value, dtype=np.float64)
    for o in overrides:
        if len(ts) == 0:
            break
        k_end = np.searchsorted(ts, o.end_ns, side="right") - 1
        resume = None if k_end < 0 or ts[k_end] == o.end_ns else float(value[k_end])
        inside = (ts >= o.start_ns) & (ts < o.end_ns)
        value = np.where(inside, float(o.reason_code), value)
        add_ts: list[int] = []
        add_v: list[float] = []
        if ts[0] <= o.start_ns and not (ts == o.start_ns).any():
            add_ts.append(o.start_ns)
            add_v.append(float(o.reason_code))
        if resume is not None and (range_end_ns is None or o.end_ns < range_end_ns):
            add_ts.append(o.end_ns)
            add_v.append(resume)
        if add_ts:
            ts = np.concatenate([ts, np.array(add_ts, dtype=np.int64)])
            value = np.concatenate([value, np.array(add_v, dtype=np.float64)])
            order = np.argsort(ts, kind="stable")
            ts, value = ts[order], value[order]
    return Series(ts, value)
