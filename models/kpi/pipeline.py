"""One equipment's series -> additive totals per shift instance (the vectorised path).

Each function returns a list of length ``len(instances) + 1``: one entry per
shift instance, and a last one for what lies inside [start_ns, end_ns) but
outside every shift.

Samples outside [start_ns, end_ns) are context (docs/kpi.md, "Context";
context.py cuts them): they close the increment of the last reading inside,
carry the state at ``start_ns`` in under the gap rule and show arrivals after
dispatches inside, but nothing that starts outside the range is counted - not
in a shift instance that overlaps the range only partly, nor in the outside
slot. So a range made of whole shifts gives each shift exactly what that
shift computed alone gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from shopfloor.models.calendar import ShiftInstance, assign_instances
from shopfloor.models.kpi.clean import clean_series
from shopfloor.models.kpi.counters import Increments, Throughput, at_change, increments, starting_in, throughput
from shopfloor.models.kpi.downtime import StopEvents, shift_downtime, stop_events
from shopfloor.models.kpi.fleet import N_ROBOT_STATES, FleetTotals, responses, state_seconds
from shopfloor.models.kpi.intervals import Intervals, runs, state_intervals
from shopfloor.models.kpi.oee import TimeTotals
from shopfloor.models.kpi.orders import (
    OrderSteps,
    changeovers_as_setup,
    ideal_speed_m_min_at,
    order_changes_ns,
    order_steps,
)
from shopfloor.models.kpi.outages import NO_SPANS, Spans
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.kpi.time_model import classify
from shopfloor.models.plant import Design, Fleet, Plant, Printer, StopReason
from shopfloor.models.samples import Series
from shopfloor.models.timebase import NS_PER_S


@dataclass(frozen=True, slots=True)
class KpiConfig:
    """Tunable rules; every default is documented in docs/kpi.md."""

    max_gap_polls: float = 3.0  # printer samples further apart than this many poll intervals: no data between
    robot_max_gap_s: float | None = None  # None: OPC UA reports by exception, only outages make no data
    micro_stop_s: float = 60.0  # stops shorter than this are performance loss, not downtime
    attainment_cap: float = 1.2  # an objective counts at most 120 % of its target
    # A robot connecting later than this after its dispatch is no response; also how far past a range's end
    # the robot state must be read (docs/kpi.md, "Context").
    response_horizon_s: float = 3600.0
    # After a shift's end and the horizon, before its ledger rows are written: the closing polls land.
    ledger_settle_s: float = 60.0

    @classmethod
    def of(cls, plant: Plant) -> KpiConfig:
        """The rules the plant file's ``[kpi]`` table sets."""
        k = plant.kpi
        return cls(
            max_gap_polls=k.max_gap_polls,
            robot_max_gap_s=k.robot_max_gap_s,
            micro_stop_s=k.micro_stop_s,
            attainment_cap=k.attainment_cap,
            response_horizon_s=k.response_horizon_s,
            ledger_settle_s=k.ledger_settle_s,
        )

    def __post_init__(self) -> None:
        if self.max_gap_polls <= 0:
            raise ValueError(f"max_gap_polls must be > 0, got {self.max_gap_polls}")
        if self.robot_max_gap_s is not None and self.robot_max_gap_s <= 0:
            raise ValueError(f"robot_max_gap_s must be > 0 or None, got {self.robot_max_gap_s}")
        if self.micro_stop_s < 0:
            raise ValueError(f"micro_stop_s must be >= 0, got {self.micro_stop_s}")
        if self.attainment_cap < 1:
            raise ValueError(f"attainment_cap must be >= 1, got {self.attainment_cap}")
        if not self.response_horizon_s > 0:
            raise ValueError(f"response_horizon_s must be > 0, got {self.response_horizon_s}")
        if self.ledger_settle_s < 0:
            raise ValueError(f"ledger_settle_s must be >= 0, got {self.ledger_settle_s}")


def _slots(instances: Sequence[ShiftInstance], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    index = assign_instances(list(instances), ts_ns)
    return np.where(index < 0, len(instances), index)


def slot_sums(
    instances: Sequence[ShiftInstance], ts_ns: npt.NDArray[np.int64], amount: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Sum per shift instance (+ outside) of amounts at sorted times: two searches and one slice sum per shift.

    Cheaper than giving each sample a bucket (searchsorted per sample + bincount) on long series.
    """
    n = len(instances)
    out = np.zeros(n + 1)
    if len(ts_ns) == 0:
        return out
    starts = np.searchsorted(ts_ns, np.array([i.start_ns for i in instances], dtype=np.int64))
    ends = np.searchsorted(ts_ns, np.array([i.end_ns for i in instances], dtype=np.int64))
    for k in range(n):  # a handful of shifts
        out[k] = amount[starts[k] : ends[k]].sum()
    out[n] = amount.sum() - out[:n].sum()
    return out


def _per_slot(instances: Sequence[ShiftInstance], inc: Increments, known_only: bool) -> npt.NDArray[np.float64]:
    total = slot_sums(instances, inc.ts_ns, inc.amount)
    if not known_only:
        return total
    # Across-gap increments are few: subtract them bucket by bucket.
    gap = inc.gap_index
    if len(gap) == 0:
        return total
    return total - np.bincount(_slots(instances, inc.ts_ns[gap]), weights=inc.amount[gap], minlength=len(instances) + 1)


def _counter(
    fields: Mapping[str, Series],
    name: str,
    wrap: float | None,
    gap: int | None,
    out: Spans,
    start_ns: int,
    end_ns: int,
    by_exception: bool = False,
) -> Increments:
    """The increments a computation of [start_ns, end_ns) counts (context samples only close or open them).

    ``by_exception``: the counter reports changes only, so each increment is booked at its change
    (docs/kpi.md, "Counters").
    """
    ts, value = clean_series(fields.get(name))
    incs = increments(ts, value, wrap, gap, out)
    return starting_in(at_change(incs) if by_exception else incs, start_ns, end_ns)


def printer_intervals(
    fields: Mapping[str, Series],
    start_ns: int,
    end_ns: int,
    instances: Sequence[ShiftInstance],
    outages: Spans,
    max_gap_ns: int | None,
) -> Intervals:
    st = runs(*clean_series(fields.get("state")), end_ns, max_gap_ns)
    rs = runs(*clean_series(fields.get("stop_reason")), end_ns, max_gap_ns)
    return state_intervals(st, start_ns, end_ns, instances, reason=rs, outages=outages)


def printer_elements(iv: Intervals, stop_reasons: list[StopReason], steps: OrderSteps) -> npt.NDArray[np.int64]:
    """The ISO 22400 element of every interval: the time model's table, then a stop between two orders as setup
    (models/kpi/orders.py). One function, so the KPIs and the operator's stop list agree."""
    return changeovers_as_setup(iv, classify(iv, stop_reasons), order_changes_ns(steps))


def printer_gap_ns(printer: Printer, config: KpiConfig) -> int:
    """Printer samples further apart than this leave no data between them."""
    return round(config.max_gap_polls * printer.modbus.poll_interval_s * NS_PER_S)


def printer_throughput(
    printer: Printer,
    fields: Mapping[str, Series],
    start_ns: int,
    end_ns: int,
    period_s: float,
    outages: Spans = NO_SPANS,
    config: KpiConfig = KpiConfig(),
) -> Throughput:
    """Metres per ``period_s`` bucket from the wrapping metres counter (wraps, resets, gaps, outages and
    context samples handled as everywhere else: docs/kpi.md, "Counters" and "Context")."""
    name = "printed_m_total"
    wrap = printer.signal(name).wrap_m
    incs = _counter(fields, name, wrap, printer_gap_ns(printer, config), outages, start_ns, end_ns)
    return throughput(incs, start_ns, end_ns, period_s)


def printer_stop_events(
    printer: Printer,
    stop_reasons: list[StopReason],
    fields: Mapping[str, Series],
    start_ns: int,
    end_ns: int,
    instances: Sequence[ShiftInstance],
    outages: Spans = NO_SPANS,
    config: KpiConfig = KpiConfig(),
) -> tuple[Intervals, StopEvents]:
    """The state intervals and the stop events the KPIs count, for the operator's stop list (api/stops.py).

    The same code path as ``printer_shift_totals``, so what an operator sees as
    one stop event is exactly what the Pareto and the failure count count.
    """
    iv = printer_intervals(fields, start_ns, end_ns, instances, outages, printer_gap_ns(printer, config))
    return iv, stop_events(iv, printer_elements(iv, stop_reasons, order_steps(fields)), config.micro_stop_s)


def _only(inc: Increments, keep: npt.NDArray[np.bool_]) -> Increments:
    """``inc`` with the amounts not kept set to 0 (same positions, so slot sums add the rest exactly as before)."""
    return inc if keep.all() else replace(inc, amount=np.where(keep, inc.amount, 0.0))


def _ideal_seconds(
    instances: Sequence[ShiftInstance],
    produced: Increments,
    defective: Increments,
    produced_speed_m_min: npt.NDArray[np.float64],
    defective_speed_m_min: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per slot, metres at their order's ideal speed (``ideal_s``) and good metres at it (``good_ideal_s``).

    Grouped by speed (a shift prints a handful of designs): Σ over speeds of (metres at that speed) / speed,
    so a line that printed one design all along gets exactly produced_m / ideal speed (docs/kpi.md, "Orders").
    """
    ideal = np.zeros(len(instances) + 1)
    good = np.zeros(len(instances) + 1)
    for speed_m_min in np.unique(np.concatenate([produced_speed_m_min, defective_speed_m_min])):
        speed_m_s = float(speed_m_min) / 60.0
        p = _per_slot(instances, _only(produced, produced_speed_m_min == speed_m_min), known_only=True)
        d = _per_slot(instances, _only(defective, defective_speed_m_min == speed_m_min), known_only=True)
        ideal += p / speed_m_s
        good += (p - d) / speed_m_s
    return ideal, good


def printer_shift_totals(
    printer: Printer,
    stop_reasons: list[StopReason],
    fields: Mapping[str, Series],
    start_ns: int,
    end_ns: int,
    instances: Sequence[ShiftInstance],
    outages: Spans = NO_SPANS,
    config: KpiConfig = KpiConfig(),
    designs: Sequence[Design] = (),
) -> list[PrinterTotals]:
    """Per shift instance (and the slot outside every shift), one printer's additive totals.

    ``designs``: the plant file's; each metres increment is measured against the ideal speed of the design
    in force where it is booked (models/kpi/orders.py), the printer's ``ideal_speed_m_min`` where none is.
    """
    gap = printer_gap_ns(printer, config)
    iv = printer_intervals(fields, start_ns, end_ns, instances, outages, gap)
    steps = order_steps(fields)
    down = shift_downtime(iv, printer_elements(iv, stop_reasons, steps), len(instances), config.micro_stop_s)

    def counter(name: str) -> Increments:
        return _counter(fields, name, printer.signal(name).wrap_m, gap, outages, start_ns, end_ns)

    printed, defective = counter("printed_m_total"), counter("defective_m_total")
    energy, water, ink = counter("energy_kwh_total"), counter("water_l_total"), counter("ink_consumed_kg_total")
    produced_k = _per_slot(instances, printed, known_only=True)
    printed_all = _per_slot(instances, printed, known_only=False)
    defective_k = _per_slot(instances, defective, known_only=True)
    defective_all = _per_slot(instances, defective, known_only=False)
    energy_s, water_s, ink_s = (_per_slot(instances, c, False) for c in (energy, water, ink))
    ideal_k, good_ideal_k = _ideal_seconds(
        instances,
        printed,
        defective,
        ideal_speed_m_min_at(steps, designs, printer.ideal_speed_m_min, printed.ts_ns),
        ideal_speed_m_min_at(steps, designs, printer.ideal_speed_m_min, defective.ts_ns),
    )
    all_counters = (printed, defective, energy, water, ink)
    no_events = np.zeros(len(instances) + 1, dtype=np.intp)
    wraps = sum(
        (np.bincount(_slots(instances, c.ts_ns[c.wrap_index]), minlength=len(instances) + 1) for c in all_counters),
        start=no_events,
    )
    resets = sum(
        (np.bincount(_slots(instances, c.ts_ns[c.reset_index]), minlength=len(instances) + 1) for c in all_counters),
        start=no_events,
    )
    out = []
    for k in range(len(instances) + 1):
        out.append(
            PrinterTotals(
                times=down.times[k],
                produced_m=float(produced_k[k]),
                defective_m=float(defective_k[k]),
                ideal_s=float(ideal_k[k]),
                good_ideal_s=float(good_ideal_k[k]),
                printed_m=float(printed_all[k]),
                printed_across_gap_m=float(printed_all[k] - produced_k[k]),
                defective_all_m=float(defective_all[k]),
                energy_kwh=float(energy_s[k]),
                water_l=float(water_s[k]),
                ink_kg=float(ink_s[k]),
                counter_wraps=int(wraps[k]),
                counter_resets=int(resets[k]),
                downtime_s_by_reason=down.reason_s[k],
                stops_by_reason=down.reason_stops[k],
            )
        )
    return out


def robot_wrap_span(fleet: Fleet, name: str) -> float | None:
    """Integer OPC UA counters wrap at their type's width; Double totals do not wrap."""
    bits = {"UInt16": 16, "UInt32": 32}.get(fleet.variable(name).variant_type)
    return None if bits is None else float(1 << bits)


def robot_shift_totals(
    fleet: Fleet,
    robot_id: str,
    fields: Mapping[str, Series],
    start_ns: int,
    end_ns: int,
    instances: Sequence[ShiftInstance],
    outages: Spans = NO_SPANS,
    config: KpiConfig = KpiConfig(),
) -> list[FleetTotals]:
    """Per shift instance (and the slot outside every shift), one robot's additive totals.

    ``outages``: the fleet link's, not cut at ``start_ns``; a counter increment booked at its change inside
    the range covers the time since the reading before, which may lie before the range.
    """
    gap = None if config.robot_max_gap_s is None else round(config.robot_max_gap_s * NS_PER_S)
    st = runs(*clean_series(fields.get("state")), end_ns, gap)
    # Robots do not stop for the crew's planned breaks: no split there.
    iv = state_intervals(st, start_ns, end_ns, instances, outages=outages, split_breaks=False)
    sec = state_seconds(iv, len(instances))
    resp = responses(st, outages, config.response_horizon_s)
    # A dispatch seen only in the context before start belongs to the range before.
    inside = (resp.dispatch_ns >= start_ns) & (resp.dispatch_ns < end_ns)
    resp_dispatch_ns, resp_s = resp.dispatch_ns[inside], resp.response_s[inside]
    resp_slot = _slots(instances, resp_dispatch_ns)

    def counter(name: str) -> Increments:
        return _counter(fields, name, robot_wrap_span(fleet, name), gap, outages, start_ns, end_ns, by_exception=True)

    done, failed, energy = (
        counter(n) for n in ("sessions_completed_total", "sessions_failed_total", "energy_delivered_kwh_total")
    )
    done_s, failed_s, energy_s = (_per_slot(instances, c, False) for c in (done, failed, energy))
    done_known = _per_slot(instances, done, True)
    order = np.argsort(resp_slot, kind="stable")
    bounds = np.searchsorted(resp_slot[order], np.arange(len(instances) + 2))
    values = resp_s[order]
    return [
        FleetTotals(
            seconds_by_state=tuple(float(x) for x in sec[k, :N_ROBOT_STATES]),
            no_data_s=float(sec[k, N_ROBOT_STATES]),
            sessions_completed=float(done_s[k]),
            sessions_failed=float(failed_s[k]),
            energy_delivered_kwh=float(energy_s[k]),
            across_gap_sessions=float(done_s[k] - done_known[k]),
            response_s=tuple(values[bounds[k] : bounds[k + 1]].tolist()),
            robot_ids=frozenset({robot_id}),
        )
        for k in range(len(instances) + 1)
    ]


__all__ = [
    "KpiConfig",
    "TimeTotals",
    "printer_gap_ns",
    "printer_shift_totals",
    "printer_stop_events",
    "robot_shift_totals",
    "robot_wrap_span",
]
