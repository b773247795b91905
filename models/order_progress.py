"""Where the running print order stands: metres done and remaining, and its ETA at the current rate (pure).

The rule (docs/kpi.md, "Order progress"):

* the running order is the one in force at ``now_ns`` (the newest order-register reading); none runs when
  that is "no order" (0) or the line never reported one;
* metres done are every metres increment booked while that order number was loaded, over all its spans in
  the range read: across shifts, and across an interruption by another order when the same number resumes
  (the plant reuses no order number for another job, so one number is one order). Increments across a
  data gap count: the metres were printed (as in the order's report);
* metres ordered come from the imported plan; without one, nothing remains to say (``remaining_m`` null);
* the rate is the metres the order printed over its last ``window_ns`` of loaded time (walking back over its
  spans, up to ``now_ns``), or over all its time when it has run less: stops count in that time, so a
  stopped line's ETA moves out, and a line stopped for the whole window has no rate;
* the ETA is ``now + remaining / rate``; when it cannot be given, ``eta_reason`` says why:
  ``"no plan"`` (nothing ordered to finish), ``"done"`` (the ordered metres are printed), ``"stopped"``
  (nothing printed in the window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopfloor.models.kpi.counters import Increments
from shopfloor.models.kpi.orders import NO_ORDER, OrderSteps
from shopfloor.models.timebase import NS_PER_S

RATE_WINDOW_NS = 30 * 60 * NS_PER_S  # a recent half hour: long enough to smooth a short stop, short to follow one

NO_PLAN, DONE, STOPPED = "no plan", "done", "stopped"


@dataclass(frozen=True, slots=True)
class OrderProgress:
    order_number: int
    design_code: int
    started_ns: int  # the start of its first span in the range read (``since_ns`` if loaded before it)
    done_m: float
    ordered_m: float | None  # None: no plan
    remaining_m: float | None
    rate_m_min: float | None  # None: the order has had no time yet
    eta_ns: int | None
    eta_reason: str | None  # why there is no ETA: NO_PLAN, DONE or STOPPED


def running_order(steps: OrderSteps, now_ns: int) -> int | None:
    """The order number in force at ``now_ns``; None for "no order" or before the first reading."""
    i = int(steps.index_at(np.array([now_ns], dtype=np.int64))[0])
    return None if i < 0 or int(steps.order_number[i]) == NO_ORDER else int(steps.order_number[i])


def order_spans_of(steps: OrderSteps, order_number: int, since_ns: int, now_ns: int) -> list[tuple[int, int]]:
    """The [start, end) spans inside [since_ns, now_ns] in which ``order_number`` was loaded, in time order."""
    ends = np.r_[steps.ts_ns[1:], now_ns]
    mine = (steps.order_number == order_number) & (steps.ts_ns <= now_ns) & (ends > since_ns)
    return [(max(int(s), since_ns), min(int(e), now_ns)) for s, e in zip(steps.ts_ns[mine], ends[mine], strict=True)]


def metres_in(incs: Increments, spans: list[tuple[int, int]]) -> float:
    """Metres of the increments booked in the spans."""
    if not spans or len(incs.ts_ns) == 0:
        return 0.0
    starts = np.array([s for s, _ in spans], dtype=np.int64)
    ends = np.array([e for _, e in spans], dtype=np.int64)
    i = np.searchsorted(starts, incs.ts_ns, side="right") - 1
    inside = (i >= 0) & (incs.ts_ns < ends[np.clip(i, 0, None)])
    return float(incs.amount[inside].sum())


def last_of(spans: list[tuple[int, int]], window_ns: int) -> list[tuple[int, int]]:
    """The last ``window_ns`` of the spans' time (all of it when they hold less)."""
    out: list[tuple[int, int]] = []
    left = window_ns
    for start, end in reversed(spans):
        if left <= 0:
            break
        begin = max(start, end - left)
        out.append((begin, end))
        left -= end - begin
    return out[::-1]


def order_progress(
    steps: OrderSteps,
    printed: Increments,
    now_ns: int,
    ordered_m: float | None,
    *,
    since_ns: int | None = None,
    window_ns: int = RATE_WINDOW_NS,
) -> OrderProgress | None:
    """The running order's progress at ``now_ns``, or None when no order runs.

    ``steps``: the order registers over the range read, [since_ns, now_ns] (models.kpi.orders.order_steps; a
    reading before ``since_ns`` says which order was loaded then); ``printed``: the metres counter's increments
    over that range; ``ordered_m``: the plan's metres for the running order (None: no plan).
    """
    number = running_order(steps, now_ns)
    if number is None:
        return None
    i = int(steps.index_at(np.array([now_ns], dtype=np.int64))[0])
    first_ns = int(steps.ts_ns[0]) if since_ns is None else since_ns
    spans = order_spans_of(steps, number, first_ns, now_ns)
    done_m = metres_in(printed, spans)
    recent = last_of(spans, window_ns)
    recent_ns = sum(e - s for s, e in recent)
    rate_m_min = None if recent_ns <= 0 else metres_in(printed, recent) / (recent_ns / NS_PER_S / 60.0)
    remaining_m = None if ordered_m is None else max(0.0, ordered_m - done_m)
    eta_ns: int | None = None
    reason: str | None = None
    if remaining_m is None:
        reason = NO_PLAN
    elif remaining_m <= 0.0:
        reason = DONE
    elif not rate_m_min:
        reason = STOPPED
    else:
        eta_ns = now_ns + round(remaining_m / rate_m_min * 60.0) * NS_PER_S  # to the second: shown to the minute
    return OrderProgress(
        order_number=number,
        design_code=int(steps.design_code[i]),
        started_ns=spans[0][0],
        done_m=done_m,
        ordered_m=ordered_m,
        remaining_m=remaining_m,
        rate_m_min=rate_m_min,
        eta_ns=eta_ns,
        eta_reason=reason,
    )


__all__ = ["DONE", "NO_PLAN", "RATE_WINDOW_NS", "STOPPED", "OrderProgress", "order_progress", "running_order"]
