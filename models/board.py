"""The hour-by-hour production board: target against actual per hour of a shift, and the end-of-shift projection.

Pure: no I/O, no clock. The API (api/board.py) feeds it a shift instance, the
ideal speed over time, the metres per hour bucket measured by
``models.kpi.counters.throughput`` and "now"; the page only formats what comes
back.

Rules (docs/kpi.md, "Hour-by-hour board"):

* **Hours** are aligned to the shift's start; the last one ends with the
  shift and may be shorter.
* **Planned minutes** of an hour: its minutes less the planned breaks inside it.
* **Target** of an hour: the ideal speed (m/min) integrated over its planned
  minutes. The ideal speed is an explicit step function of time
  (:class:`SpeedSpan` spans; no span = no order = no target), so print orders
  with their own design speeds plug in later without changing the board;
  today the API passes one span at the printer's ``ideal_speed_m_min``.
* **Due**: the target of the planned time already gone by (the whole target
  of a finished hour, the pro-rata part of the running hour, nothing of a
  future hour): variance and band compare actual metres with what is due, so
  a running hour is not red only because it has not ended.
* **Actual** metres come from the counter's hourly buckets; an hour in which
  nothing was observed is ``None`` (no data), never 0. Metres printed across a
  data gap cannot be placed in an hour (docs/kpi.md, "Counters") and are
  reported once as ``across_gap_m``.
* **Current rate** is the shift's rate so far: known actual metres over the
  planned minutes gone by in the hours that have data. Breaks therefore do not
  dilute it, and one slow or stopped hour lowers it only by its share.
* **Projected end-of-shift metres** = actual so far (hours plus metres across
  gaps) + current rate x planned minutes still to come. A finished shift's
  projection is its actual; a shift without any data has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shopfloor.models.bands import Band, band_of
from shopfloor.models.calendar import ShiftInstance
from shopfloor.models.kpi.orders import OrderSteps, ideal_speed_m_min_at
from shopfloor.models.plant import Design
from shopfloor.models.timebase import NS_PER_S

NS_PER_MIN = 60 * NS_PER_S
HOUR_NS = 3600 * NS_PER_S

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class SpeedSpan:
    """The ideal speed in force over ``[start_ns, end_ns)`` (one order, or the machine's design speed)."""

    start_ns: int
    end_ns: int
    speed_m_min: float


@dataclass(frozen=True, slots=True)
class HourTarget:
    start_ns: int
    end_ns: int
    planned_min: float
    target_m: float


@dataclass(frozen=True, slots=True)
class BoardHour:
    index: int
    start_ns: int
    end_ns: int
    planned_min: float
    target_m: float
    due_m: float  # target of the planned time gone by in this hour
    actual_m: float | None  # None: no data (or the hour has not started)
    variance_m: float | None  # actual - due
    attainment_pct: float | None  # actual / due
    band: Band | None
    cum_target_m: float
    cum_due_m: float
    cum_actual_m: float | None  # None for hours that have not started
    cum_variance_m: float | None
    started: bool
    finished: bool


@dataclass(frozen=True, slots=True)
class Board:
    hours: tuple[BoardHour, ...]
    target_m: float  # the whole shift's
    due_m: float  # target of the planned time gone by
    actual_m: float | None  # known hours plus metres across gaps; None without any data
    across_gap_m: float
    rate_m_min: float | None  # current rate (see module docstring)
    planned_min_left: float
    projected_m: float | None
    projected_band: Band | None  # projected against the shift's target


def planned_spans(start_ns: int, end_ns: int, breaks_ns: Sequence[Span]) -> list[Span]:
    """``[start_ns, end_ns)`` less the planned breaks, as sorted disjoint spans."""
    out: list[Span] = []
    cursor = start_ns
    for b0, b1 in sorted(breaks_ns):
        if b1 <= cursor or b0 >= end_ns:
            continue
        if b0 > cursor:
            out.append((cursor, b0))
        cursor = max(cursor, b1)
    if cursor < end_ns:
        out.append((cursor, end_ns))
    return out


def _overlap_ns(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def hour_edges(shift: ShiftInstance) -> list[Span]:
    """The shift's hours, aligned to its start; the last ends with the shift."""
    starts = range(shift.start_ns, shift.end_ns, HOUR_NS)
    return [(s, min(s + HOUR_NS, shift.end_ns)) for s in starts]


def planned_metres(spans: Sequence[Span], speeds: Sequence[SpeedSpan], start_ns: int, end_ns: int) -> float:
    """Ideal metres of the planned ``spans`` inside ``[start_ns, end_ns)``."""
    total = 0.0
    for p0, p1 in spans:
        for sp in speeds:
            ns = _overlap_ns(p0, p1, max(sp.start_ns, start_ns), min(sp.end_ns, end_ns))
            total += ns / NS_PER_MIN * sp.speed_m_min
    return total


def planned_minutes(spans: Sequence[Span], start_ns: int, end_ns: int) -> float:
    return sum(_overlap_ns(p0, p1, start_ns, end_ns) for p0, p1 in spans) / NS_PER_MIN


def hour_targets(shift: ShiftInstance, breaks_ns: Sequence[Span], speeds: Sequence[SpeedSpan]) -> list[HourTarget]:
    """The one place an hour's target is computed: ideal speed over planned time, less planned breaks."""
    spans = planned_spans(shift.start_ns, shift.end_ns, breaks_ns)
    return [
        HourTarget(h0, h1, planned_minutes(spans, h0, h1), planned_metres(spans, speeds, h0, h1))
        for h0, h1 in hour_edges(shift)
    ]


def constant_speed(shift: ShiftInstance, speed_m_min: float) -> tuple[SpeedSpan, ...]:
    """One speed over the whole shift (a line that reports no print orders: its ``ideal_speed_m_min``)."""
    return (SpeedSpan(shift.start_ns, shift.end_ns, speed_m_min),)


def order_speeds(
    shift: ShiftInstance, steps: OrderSteps, designs: Sequence[Design], default_m_min: float
) -> tuple[SpeedSpan, ...]:
    """The running orders' ideal speeds over the shift: each order's design speed from when it was loaded, the
    line's default before the first reading and for unknown designs (models/kpi/orders.py, as performance
    measures them). The order loaded last holds to the shift's end: what is left of the shift is planned at it."""
    inside = steps.ts_ns[(steps.ts_ns > shift.start_ns) & (steps.ts_ns < shift.end_ns)]
    starts = np.concatenate(([shift.start_ns], inside)).astype(np.int64)
    ends = np.concatenate((inside, [shift.end_ns])).astype(np.int64)
    speeds = ideal_speed_m_min_at(steps, designs, default_m_min, starts)
    return tuple(SpeedSpan(int(a), int(b), float(v)) for a, b, v in zip(starts, ends, speeds, strict=True))


def _pct(actual: float, due: float) -> float | None:
    return 100.0 * actual / due if due > 0 else None


def board(
    shift: ShiftInstance,
    speeds: Sequence[SpeedSpan],
    actual_m: Sequence[float | None],
    now_ns: int,
    *,
    across_gap_m: float = 0.0,
) -> Board:
    """The board of ``shift`` at ``now_ns``.

    ``actual_m``: metres per hour bucket aligned to the shift start (``throughput(...).amount`` with NaN as
    None), as many as have started (the running hour's bucket ends at now); missing entries are no data.
    """
    breaks = shift.breaks_ns
    spans = planned_spans(shift.start_ns, shift.end_ns, breaks)
    targets = hour_targets(shift, breaks, speeds)
    hours: list[BoardHour] = []
    cum_target = cum_due = cum_actual = 0.0
    any_data = False
    rate_metres = rate_minutes = 0.0
    for k, t in enumerate(targets):
        started = t.start_ns < now_ns
        finished = t.end_ns <= now_ns
        seen_end = min(t.end_ns, now_ns)
        due = t.target_m if finished else (planned_metres(spans, speeds, t.start_ns, seen_end) if started else 0.0)
        actual = actual_m[k] if started and k < len(actual_m) else None
        cum_target += t.target_m
        cum_due += due
        if actual is not None:
            any_data = True
            cum_actual += actual
            rate_metres += actual
            rate_minutes += planned_minutes(spans, t.start_ns, seen_end)
        pct = None if actual is None else _pct(actual, due)
        hours.append(
            BoardHour(
                index=k,
                start_ns=t.start_ns,
                end_ns=t.end_ns,
                planned_min=t.planned_min,
                target_m=t.target_m,
                due_m=due,
                actual_m=actual,
                variance_m=None if actual is None else actual - due,
                attainment_pct=pct,
                band=band_of(pct),
                cum_target_m=cum_target,
                cum_due_m=cum_due,
                cum_actual_m=cum_actual if started and any_data else None,
                cum_variance_m=cum_actual - cum_due if started and any_data else None,
                started=started,
                finished=finished,
            )
        )
    actual_total = cum_actual + across_gap_m if any_data or across_gap_m else None
    left = planned_minutes(spans, max(now_ns, shift.start_ns), shift.end_ns)
    rate = rate_metres / rate_minutes if rate_minutes > 0 else None
    if actual_total is None:
        projected = None
    elif left <= 0:
        projected = actual_total
    else:
        projected = None if rate is None else actual_total + rate * left
    return Board(
        hours=tuple(hours),
        target_m=cum_target,
        due_m=cum_due,
        actual_m=actual_total,
        across_gap_m=across_gap_m,
        rate_m_min=rate,
        planned_min_left=left,
        projected_m=projected,
        projected_band=band_of(None if projected is None else _pct(projected, cum_target)),
    )
