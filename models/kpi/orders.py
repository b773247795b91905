"""Print orders: which order ran when on a line, and the ideal speed of the design it printed (pure).

The line PLC serves the current order number and design code (docs/data-contract.md, "Printer order fields"); each
reading holds until the next one, like a state. This module is the one place that turns those readings into

* ``OrderSteps``: the order and design in force from each change on;
* ``ideal_speed_m_min_at``: the ideal speed in force at given times - the design's from the plant file's
  ``[[designs]]``, the printer's ``ideal_speed_m_min`` for no design or a design the file does not list.
  The KPI pipeline divides each metres increment by it (docs/kpi.md, "Orders"); an hour-by-hour board asks
  it for each hour's target;
* ``order_spans``: the contiguous runs of one order, for per-order reports;
* ``changeovers_as_setup``: a stop between two orders is setup time (AUST), attributed to the change.

An operator can start and end orders too (store/annotations.py, ``order_event``): ``operator_order_spans`` turns
those events into spans and ``apply_operator_orders`` lays them over the readings, before any of the above reads
them (docs/kpi.md, "Orders").

A reading before the first one of a series is "no order" (0). Order readings are not cut by the gap rule:
an order stays loaded across a link outage, and the metres read across a gap are excluded from performance
anyway (docs/kpi.md, "Counters").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from shopfloor.models.contract import DESIGN_CODE_FIELD, ORDER_NUMBER_FIELD
from shopfloor.models.kpi.clean import clean_series
from shopfloor.models.kpi.intervals import NO_DATA, Intervals
from shopfloor.models.kpi.time_model import Element
from shopfloor.models.plant import NO_DESIGN, Design
from shopfloor.models.samples import Series
from shopfloor.models.states import PrinterState

NO_ORDER = 0
OPEN_END_NS = 2**63 - 1  # an operator order with no later event runs on


@dataclass(frozen=True, slots=True)
class OrderSteps:
    """The order and design in force from ``ts_ns[i]`` until ``ts_ns[i + 1]`` (the last one: onward)."""

    ts_ns: npt.NDArray[np.int64]
    order_number: npt.NDArray[np.int64]
    design_code: npt.NDArray[np.int64]

    def index_at(self, ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
        """Index of the step in force at each time (at or before it); -1 before the first step."""
        return np.searchsorted(self.ts_ns, ts_ns, side="right") - 1


@dataclass(frozen=True, slots=True)
class OrderSpan:
    """One contiguous run of an order on a line, [start_ns, end_ns)."""

    order_number: int
    design_code: int
    start_ns: int
    end_ns: int


def _held(
    ts: npt.NDArray[np.int64], value: npt.NDArray[np.float64], at: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The value of a step series at each time of ``at``; 0 before its first reading."""
    if len(ts) == 0:
        return np.zeros(len(at), dtype=np.int64)
    i = np.searchsorted(ts, at, side="right") - 1
    return np.where(i >= 0, np.rint(value[np.clip(i, 0, None)]), 0.0).astype(np.int64)


def order_steps(fields: Mapping[str, Series]) -> OrderSteps:
    """The order steps of one printer's stored fields (either field may be missing: it reads 0)."""
    o_ts, o_value = clean_series(fields.get(ORDER_NUMBER_FIELD))
    d_ts, d_value = clean_series(fields.get(DESIGN_CODE_FIELD))
    ts = np.union1d(o_ts, d_ts).astype(np.int64)
    order, design = _held(o_ts, o_value, ts), _held(d_ts, d_value, ts)
    if len(ts) == 0:
        return OrderSteps(ts, order, design)
    change = np.ones(len(ts), dtype=bool)
    change[1:] = (order[1:] != order[:-1]) | (design[1:] != design[:-1])
    return OrderSteps(ts[change], order[change], design[change])


class OperatorOrderEvent(Protocol):
    """What the rule needs of an operator's order event: the annotation store's rows qualify."""

    @property
    def kind(self) -> str: ...  # "start" or "end"

    @property
    def at_ns(self) -> int: ...

    @property
    def order_number(self) -> int: ...

    @property
    def design_code(self) -> int: ...


def operator_order_spans(events: Sequence[OperatorOrderEvent]) -> list[OrderSpan]:
    """The spans of one line's operator orders, from its events in force in (at, id) order.

    An operator's order holds over [start, end): from its start event to the next event on that line, an end or
    another start (a start ends the order running before it). A span with no later event runs on
    (``OPEN_END_NS``). The spans depend on the events alone, never on the range read, so every range (a shift,
    a month) sees the same order at the same moment and per-shift ledger rows add up.
    """
    spans: list[OrderSpan] = []
    for k, e in enumerate(events):
        if e.kind != "start":
            continue
        end_ns = events[k + 1].at_ns if k + 1 < len(events) else OPEN_END_NS
        if end_ns > e.at_ns:  # an event at the same moment, entered later, supersedes it
            spans.append(OrderSpan(e.order_number, e.design_code, e.at_ns, end_ns))
    return spans


def _overlay(series: Series | None, spans: Sequence[OrderSpan], value_of: str, range_end_ns: int) -> Series:
    """One order field with the spans laid over it (see ``apply_operator_orders``)."""
    ts0, v0 = clean_series(series)
    ts, value = ts0.copy(), v0.copy()
    starts = {span.start_ns for span in spans}

    def in_a_span(t: int) -> bool:
        return any(span.start_ns <= t < span.end_ns for span in spans)

    def plc_at(t: int) -> float:
        return float(_held(ts0, v0, np.array([t], dtype=np.int64))[0])

    add_ts: list[int] = []
    add_v: list[float] = []
    for span in spans:
        own = float(getattr(span, value_of))
        value = np.where((ts >= span.start_ns) & (ts < span.end_ns), own, value)
        if not (ts0 == span.start_ns).any():
            add_ts.append(span.start_ns)
            add_v.append(own)
        # What was in force just before, as a reading: the start is then a change of order (a changeover if it
        # falls in a stop) even on a line whose registers were never read. It repeats the value in force there,
        # so no moment's order changes.
        before = span.start_ns - 1
        if not in_a_span(before) and not (ts0 == before).any():
            add_ts.append(before)
            add_v.append(plc_at(before))
        if span.end_ns < range_end_ns and span.end_ns not in starts and not (ts0 == span.end_ns).any():
            add_ts.append(span.end_ns)
            add_v.append(plc_at(span.end_ns))
    if add_ts:
        ts = np.concatenate([ts, np.array(add_ts, dtype=np.int64)])
        value = np.concatenate([value, np.array(add_v, dtype=np.float64)])
        order = np.argsort(ts, kind="stable")
        ts, value = ts[order], value[order]
    return Series(ts, value)


def apply_operator_orders(
    fields: Mapping[str, Series], spans: Sequence[OrderSpan], range_end_ns: int
) -> dict[str, Series]:
    """One printer's fields with its operator orders in place of the PLC's order registers.

    Inside each span [start, end) every ``order_number``/``design_code`` reading takes the span's value (their
    timestamps kept); a reading (start, the span's value) is added, one just before it repeating the value in
    force there (so the start is a change of order), and one (end, the PLC's value in force at end) if end is
    before ``range_end_ns`` - so outside the spans the PLC's readings rule, as read. A printer
    whose register map has no order fields gets the two series from the spans alone (0 = no order outside).
    ``spans`` must not overlap (``operator_order_spans`` gives such).
    """
    if not spans:
        return dict(fields)
    out = dict(fields)
    out[ORDER_NUMBER_FIELD] = _overlay(fields.get(ORDER_NUMBER_FIELD), spans, "order_number", range_end_ns)
    out[DESIGN_CODE_FIELD] = _overlay(fields.get(DESIGN_CODE_FIELD), spans, "design_code", range_end_ns)
    return out


def design_speeds_m_min(
    designs: Sequence[Design], default_m_min: float, design_code: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Ideal speed of each design code: the plant file's, else ``default_m_min`` (no design, unknown code)."""
    speeds = np.full(len(design_code), default_m_min, dtype=np.float64)
    for design in designs:  # a pattern book of tens to hundreds of designs; the codes are few distinct values
        speeds[design_code == design.code] = design.ideal_speed_m_min
    speeds[design_code == NO_DESIGN] = default_m_min
    return speeds


def ideal_speed_m_min_at(
    steps: OrderSteps, designs: Sequence[Design], default_m_min: float, ts_ns: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """The ideal speed in force at each of ``ts_ns`` (``default_m_min`` before the first reading)."""
    if len(steps.ts_ns) == 0:
        return np.full(len(ts_ns), default_m_min, dtype=np.float64)
    step_speeds = design_speeds_m_min(designs, default_m_min, steps.design_code)
    i = steps.index_at(ts_ns)
    return np.where(i >= 0, step_speeds[np.clip(i, 0, None)], default_m_min)


def order_changes_ns(steps: OrderSteps) -> npt.NDArray[np.int64]:
    """When another order (not "no order") was loaded: the steps whose order number differs from the one before."""
    if len(steps.ts_ns) < 2:
        return np.empty(0, dtype=np.int64)
    changed = (steps.order_number[1:] != steps.order_number[:-1]) & (steps.order_number[1:] != NO_ORDER)
    return steps.ts_ns[1:][changed]


def changeovers_as_setup(
    intervals: Intervals, element: npt.NDArray[np.int64], changes_ns: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """``element`` with the stop between two orders as setup time (AUST) (docs/kpi.md, "Orders").

    A stop here is a maximal run of contiguous non-running time with data inside one shift instance; if another
    order is loaded during it (a change at or after its start, before its end), the stop is the changeover:
    its delay time with no reason given (ADET of IDLE, STOPPED, SUSPENDED without a reason) becomes AUST. A
    reason someone gave (starved, a fault) and a planned break keep their element. A stop cut by a shift's end
    is judged in each shift by what happened in that shift, so per-shift ledger rows still add up exactly.
    """
    n = len(intervals)
    if n == 0 or len(changes_ns) == 0:
        return element
    state = intervals.state
    stopped = (state != NO_DATA) & (state != PrinterState.RUNNING)
    if not stopped.any():
        return element
    # A stop starts at a stopped interval whose predecessor is not part of it (running, no data, another shift).
    joins = np.zeros(n, dtype=bool)
    joins[1:] = (
        stopped[:-1]
        & (intervals.instance[1:] == intervals.instance[:-1])
        & (intervals.start_ns[1:] == intervals.end_ns[:-1])
    )
    first = stopped & ~joins
    last = np.zeros(n, dtype=bool)
    last[:-1] = stopped[:-1] & ~(stopped[1:] & joins[1:])
    last[-1] = stopped[-1]
    starts, ends = intervals.start_ns[first], intervals.end_ns[last]
    has_change = np.searchsorted(changes_ns, ends, side="left") > np.searchsorted(changes_ns, starts, side="left")
    stop_id = np.cumsum(first) - 1
    in_changeover = stopped & has_change[np.clip(stop_id, 0, None)]
    delay_without_reason = (element == Element.ADET) & (intervals.reason == 0)
    return np.where(in_changeover & delay_without_reason, Element.AUST, element)


def order_spans(steps: OrderSteps, start_ns: int, end_ns: int) -> list[OrderSpan]:
    """The runs of an order (not "no order") overlapping [start_ns, end_ns), cut to it, in time order."""
    out: list[OrderSpan] = []
    n = len(steps.ts_ns)
    for i in range(n):
        begin = max(int(steps.ts_ns[i]), start_ns)
        stop = min(int(steps.ts_ns[i + 1]) if i + 1 < n else end_ns, end_ns)
        if stop <= begin or int(steps.order_number[i]) == NO_ORDER:
            continue
        number, design = int(steps.order_number[i]), int(steps.design_code[i])
        out.append(OrderSpan(number, design, begin, stop))
    return out


__all__ = [
    "NO_ORDER",
    "OPEN_END_NS",
    "OperatorOrderEvent",
    "OrderSpan",
    "OrderSteps",
    "apply_operator_orders",
    "changeovers_as_setup",
    "design_speeds_m_min",
    "ideal_speed_m_min_at",
    "operator_order_spans",
    "order_changes_ns",
    "order_spans",
    "order_steps",
]
