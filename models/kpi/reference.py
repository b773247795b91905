"""Plain-Python twins of the vectorised KPI core: loops over samples, obviously correct, slow.

Used only by tests (vectorised == reference on random input) and by the
benchmark (speed-up). Each twin follows the rules in the docstring of the
module it mirrors, written the simplest way: one sample, one segment at a
time. Nothing here imports the vectorised helpers it is meant to check,
except dataclasses that carry results and the ISO tables.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from shopfloor.models.calendar import ShiftInstance
from shopfloor.models.kpi.fleet import FleetTotals
from shopfloor.models.kpi.oee import TimeTotals
from shopfloor.models.kpi.pipeline import KpiConfig, robot_wrap_span
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.kpi.time_model import CATEGORY_ELEMENT, DEFAULT_ELEMENT, Element
from shopfloor.models.plant import Design, Fleet, Printer, StopReason
from shopfloor.models.samples import Series
from shopfloor.models.states import PrinterState, RobotState
from shopfloor.models.timebase import NS_PER_S

NO_DATA = -1
Span = tuple[int, int]


def clean(ts: Sequence[int], value: Sequence[float]) -> tuple[list[int], list[float]]:
    """Stable sort by time, last write of a timestamp wins, non-finite values dropped."""
    pairs = sorted(((int(t), float(v)) for t, v in zip(ts, value, strict=True) if math.isfinite(v)), key=lambda p: p[0])
    last: dict[int, float] = {}
    for t, v in pairs:
        last[t] = v  # dicts keep first-insertion order, which is time order here
    return list(last.keys()), list(last.values())


def series(s: Series | None) -> tuple[list[int], list[float]]:
    if s is None:
        return [], []
    return clean(list(s.ts_ns), list(s.value))


def in_any(spans: Sequence[Span], t: int) -> bool:
    return any(a <= t < b for a, b in spans)


def meets(spans: Sequence[Span], a: int, b: int) -> bool:
    """Does the open interval (a, b) meet one of the spans?"""
    return any(s < b and e > a for s, e in spans)


def increments(
    ts: list[int],
    value: list[float],
    wrap: float | None,
    max_gap_ns: int | None,
    outages: Sequence[Span] = (),
    at_change: bool = False,
) -> list[tuple[int, float, bool, bool, bool]]:
    """(where booked, amount, across_gap, wrapped, reset) per sample after the first.

    Booked at the interval's start (the earlier sample), or with ``at_change`` (a counter reported by
    exception) just before its end, the reading that reported the change (so a reading exactly at a shift's
    end closes that shift)."""
    out = []
    for i in range(1, len(ts)):
        delta = value[i] - value[i - 1]
        wrapped = reset = False
        if delta >= 0:
            amount = delta
        elif wrap is not None and delta < -wrap / 2:
            amount, wrapped = delta + wrap, True
        else:
            amount, reset = value[i], True
        amount = max(amount, 0.0)
        across = (max_gap_ns is not None and ts[i] - ts[i - 1] > max_gap_ns) or meets(outages, ts[i - 1], ts[i])
        out.append((ts[i] - 1 if at_change else ts[i - 1], amount, across, wrapped, reset))
    return out


def bucket_sum(ts: Sequence[int], amount: Sequence[float], edges: Sequence[int]) -> tuple[list[float], list[int]]:
    sums = [0.0] * max(len(edges) - 1, 0)
    counts = [0] * len(sums)
    for t, a in zip(ts, amount, strict=True):
        for k in range(len(sums)):
            if edges[k] <= t < edges[k + 1]:
                sums[k] += a
                counts[k] += 1
                break
    return sums, counts


def throughput(
    incs: list[tuple[int, float, bool, bool, bool]], start_ns: int, end_ns: int, period_s: float
) -> tuple[list[int], list[float | None], float]:
    """(bucket edges, amount per bucket or None for no data, amount read across gaps), one increment at a time.

    An increment read across a gap has no known time: it goes into no bucket, only into the third result.
    """
    step = round(period_s * NS_PER_S)
    edges = [*range(start_ns, end_ns, step), end_ns]
    amounts: list[float | None] = [None] * (len(edges) - 1)
    across_total = 0.0
    for t, amount, across, _, _ in incs:
        if not start_ns <= t < end_ns:
            continue
        if across:
            across_total += amount
            continue
        k = (t - start_ns) // step
        amounts[k] = (amounts[k] or 0.0) + amount
    return edges, amounts, across_total


def holds(ts: list[int], end_ns: int, max_gap_ns: int | None) -> list[int]:
    out = []
    for i, t in enumerate(ts):
        nxt = ts[i + 1] if i + 1 < len(ts) else max(end_ns, t)
        out.append(nxt if max_gap_ns is None or nxt - t <= max_gap_ns else t)
    return out


def value_at(ts: list[int], hold: list[int], value: list[float], t: int, missing: int) -> int:
    i = bisect.bisect_right(ts, t) - 1  # the latest sample at or before t
    if i < 0:
        return missing
    return round(value[i]) if t < hold[i] else missing


def instance_of(instances: Sequence[ShiftInstance], t: int) -> int:
    for k, inst in enumerate(instances):
        if inst.start_ns <= t < inst.end_ns:
            return k
    return -1


def in_break(instances: Sequence[ShiftInstance], t: int) -> bool:
    return any(a <= t < b for inst in instances for a, b in inst.breaks_ns)


Interval = tuple[int, int, int, int, int, bool]  # start, end, state, reason, instance, in_break


def state_intervals(
    state: tuple[list[int], list[float]],
    start_ns: int,
    end_ns: int,
    instances: Sequence[ShiftInstance] = (),
    reason: tuple[list[int], list[float]] | None = None,
    outages: Sequence[Span] = (),
    max_gap_ns: int | None = None,
    split_breaks: bool = True,
) -> list[Interval]:
    ts, val = state
    hold = holds(ts, end_ns, max_gap_ns)
    cuts = {start_ns, end_ns, *ts, *hold}
    for a, b in outages:
        cuts |= {a, b}
    for inst in instances:
        cuts |= {inst.start_ns, inst.end_ns}
        if split_breaks:
            for a, b in inst.breaks_ns:
                cuts |= {a, b}
    if reason is not None:
        r_ts, r_val = reason
        r_hold = holds(r_ts, end_ns, max_gap_ns)
        cuts |= {*r_ts, *r_hold}
    edges = sorted(c for c in cuts if start_ns <= c <= end_ns)
    out: list[Interval] = []
    for a, b in itertools.pairwise(edges):
        s = NO_DATA if in_any(outages, a) else value_at(ts, hold, val, a, NO_DATA)
        r = 0 if reason is None or s == NO_DATA else value_at(r_ts, r_hold, r_val, a, 0)
        piece = (a, b, s, r, instance_of(instances, a), split_breaks and in_break(instances, a))
        if out and out[-1][1] == a and out[-1][2:] == piece[2:]:
            out[-1] = (out[-1][0], b, *piece[2:])
        else:
            out.append(piece)
    return out


def element(iv: Interval, stop_reasons: Sequence[StopReason]) -> Element:
    _, _, state, reason, instance, brk = iv
    if state == NO_DATA:
        return Element.NO_DATA
    if instance < 0:
        return Element.OUTSIDE_SHIFT
    running = state == PrinterState.RUNNING
    if brk and not running:
        return Element.PDOT
    if not running:
        for r in stop_reasons:
            if r.code == reason:
                return CATEGORY_ELEMENT[r.category]
    try:
        return DEFAULT_ELEMENT[PrinterState(state)]
    except ValueError:
        return Element.ADOT  # unknown code: a fault


def stop_events(
    intervals: list[Interval], elements: Sequence[Element], micro_stop_s: float
) -> list[tuple[int, int, Element, int, int, bool]]:
    """(start, end, element, reason, instance, micro) per stop event, walking the intervals one by one.

    A stop event: a maximal run of contiguous non-running time with data keeping one reason code, one
    ISO element and one shift instance (docs/kpi.md, "Stop events").
    """
    out: list[tuple[int, int, Element, int, int, bool]] = []
    open_event = False  # is the previous interval part of the last event?
    for iv, el in zip(intervals, elements, strict=True):
        start, end, state, reason, instance, _ = iv
        if state == NO_DATA or state == PrinterState.RUNNING:
            open_event = False
            continue
        if open_event:
            p_start, p_end, p_el, p_reason, p_inst, _ = out[-1]
            if p_end == start and p_el == el and p_reason == reason and p_inst == instance:
                out[-1] = (p_start, end, el, reason, instance, False)
                continue
        out.append((start, end, el, reason, instance, False))
        open_event = True
    return [
        (a, b, el, r, i, el in (Element.ADOT, Element.ADET) and (b - a) < micro_stop_s * NS_PER_S)
        for a, b, el, r, i, _ in out
    ]


def order_changes(fields: Mapping[str, Series]) -> list[int]:
    """Times at which the order number read changed to another order (not 0)."""
    ts, value = series(fields.get("order_number"))
    out: list[int] = []
    for k in range(1, len(ts)):
        if round(value[k]) != round(value[k - 1]) and round(value[k]) != 0:
            out.append(ts[k])
    return out


def changeover_elements(intervals: list[Interval], elements: list[Element], changes: Sequence[int]) -> list[Element]:
    """A stop (contiguous non-running time with data, one shift instance) in which another order was loaded:
    its delay time without a reason is setup (models/kpi/orders.py)."""
    out = list(elements)
    k = 0
    while k < len(intervals):
        if intervals[k][2] in (NO_DATA, PrinterState.RUNNING):
            k += 1
            continue
        j = k
        while (
            j + 1 < len(intervals)
            and intervals[j + 1][2] not in (NO_DATA, PrinterState.RUNNING)
            and intervals[j + 1][4] == intervals[k][4]
            and intervals[j + 1][0] == intervals[j][1]
        ):
            j += 1
        start, end = intervals[k][0], intervals[j][1]
        if any(start <= c < end for c in changes):
            for i in range(k, j + 1):
                if out[i] == Element.ADET and intervals[i][3] == 0:
                    out[i] = Element.AUST
        k = j + 1
    return out


def shift_downtime(
    intervals: list[Interval],
    stop_reasons: Sequence[StopReason],
    n_instances: int,
    micro_stop_s: float,
    changes: Sequence[int] = (),
) -> tuple[list[TimeTotals], list[dict[int, float]], list[dict[int, int]]]:
    elements = changeover_elements(intervals, [element(iv, stop_reasons) for iv in intervals], changes)
    events = stop_events(intervals, elements, micro_stop_s)
    acc = [
        dict.fromkeys(["apt", "aust", "adot", "adet", "pdot", "nd", "out", "micro_s", "repair"], 0.0)
        for _ in range(n_instances + 1)
    ]
    counts = [{"micro": 0, "fail": 0} for _ in range(n_instances + 1)]
    reason_n: list[dict[int, int]] = [{} for _ in range(n_instances + 1)]
    micro_spans: list[tuple[int, int]] = []
    for start, end, el, reason, inst, micro in events:
        slot = n_instances if inst < 0 else inst
        if micro:
            counts[slot]["micro"] += 1
            micro_spans.append((start, end))
            continue
        if el == Element.ADOT:
            counts[slot]["fail"] += 1
            acc[slot]["repair"] += (end - start) / NS_PER_S
        if el in (Element.AUST, Element.ADOT, Element.ADET):
            reason_n[slot][reason] = reason_n[slot].get(reason, 0) + 1
    reason_s: list[dict[int, float]] = [{} for _ in range(n_instances + 1)]
    names = {
        Element.APT: "apt",
        Element.AUST: "aust",
        Element.ADOT: "adot",
        Element.ADET: "adet",
        Element.PDOT: "pdot",
        Element.NO_DATA: "nd",
        Element.OUTSIDE_SHIFT: "out",
    }
    for iv, el in zip(intervals, elements, strict=True):
        slot = n_instances if iv[4] < 0 else iv[4]
        secs = (iv[1] - iv[0]) / NS_PER_S
        if any(a <= iv[0] < b for a, b in micro_spans):
            acc[slot]["micro_s"] += secs
            el = Element.APT
        acc[slot][names[el]] += secs
        if el in (Element.AUST, Element.ADOT, Element.ADET):
            reason_s[slot][iv[3]] = reason_s[slot].get(iv[3], 0.0) + secs
    times = [
        TimeTotals(
            a["apt"],
            a["aust"],
            a["adot"],
            a["adet"],
            a["pdot"],
            a["nd"],
            a["out"],
            a["micro_s"],
            c["micro"],
            c["fail"],
            a["repair"],
        )
        for a, c in zip(acc, counts, strict=True)
    ]
    return times, reason_s, reason_n


def _slot(instances: Sequence[ShiftInstance], t: int) -> int:
    k = instance_of(instances, t)
    return len(instances) if k < 0 else k


def starting_in(
    incs: list[tuple[int, float, bool, bool, bool]], start_ns: int, end_ns: int
) -> list[tuple[int, float, bool, bool, bool]]:
    """The increments a computation of [start_ns, end_ns) counts: those booked inside it."""
    return [inc for inc in incs if start_ns <= inc[0] < end_ns]


def per_slot(
    instances: Sequence[ShiftInstance], incs: list[tuple[int, float, bool, bool, bool]], known_only: bool
) -> list[float]:
    out = [0.0] * (len(instances) + 1)
    for t, amount, across, _, _ in incs:
        if not (known_only and across):
            out[_slot(instances, t)] += amount
    return out


def held_at(ts: list[int], value: list[float], t: int) -> int:
    """A step series' value at ``t`` (its last reading at or before ``t``); 0 before the first."""
    i = bisect.bisect_right(ts, t) - 1
    return 0 if i < 0 else round(value[i])


def ideal_speed_at(
    design_code: tuple[list[int], list[float]], designs: Sequence[Design], default_m_min: float, t: int
) -> float:
    """The ideal speed of the design the line reported at ``t`` (models/kpi/orders.py)."""
    code = held_at(*design_code, t)
    for design in designs:
        if code != 0 and design.code == code:
            return design.ideal_speed_m_min
    return default_m_min


def ideal_per_slot(
    instances: Sequence[ShiftInstance],
    produced: list[tuple[int, float, bool, bool, bool]],
    defective: list[tuple[int, float, bool, bool, bool]],
    speed: Callable[[int], float],
) -> tuple[list[float], list[float]]:
    """(ideal_s, good_ideal_s) per slot: metres grouped by the speed they ran at, each group / its speed."""
    by_speed: dict[float, tuple[list[float], list[float]]] = {}
    n = len(instances) + 1
    for rows, column in ((produced, 0), (defective, 1)):
        for t, amount, across, _, _ in rows:
            v = speed(t)
            by_speed.setdefault(v, ([0.0] * n, [0.0] * n))
            if not across:
                by_speed[v][column][_slot(instances, t)] += amount
    ideal, good = [0.0] * n, [0.0] * n
    for v in sorted(by_speed):
        p, d = by_speed[v]
        for k in range(n):
            ideal[k] += p[k] / (v / 60.0)
            good[k] += (p[k] - d[k]) / (v / 60.0)
    return ideal, good


def printer_shift_totals(
    printer: Printer,
    stop_reasons: list[StopReason],
    fields: Mapping[str, Series],
    start_ns: int,
    end_ns: int,
    instances: Sequence[ShiftInstance],
    outages: Sequence[Span] = (),
    config: KpiConfig = KpiConfig(),
    designs: Sequence[Design] = (),
) -> list[PrinterTotals]:
    gap = round(config.max_gap_polls * printer.modbus.poll_interval_s * NS_PER_S)
    iv = state_intervals(
        series(fields.get("state")), start_ns, end_ns, instances, series(fields.get("stop_reason")), outages, gap
    )
    times, reason_s, reason_n = shift_downtime(
        iv, stop_reasons, len(instances), config.micro_stop_s, order_changes(fields)
    )
    incs = {
        name: starting_in(
            increments(*series(fields.get(name)), printer.signal(name).wrap_m, gap, outages), start_ns, end_ns
        )
        for name in (
            "printed_m_total",
            "defective_m_total",
            "energy_kwh_total",
            "water_l_total",
            "ink_consumed_kg_total",
        )
    }
    produced = per_slot(instances, incs["printed_m_total"], True)
    printed = per_slot(instances, incs["printed_m_total"], False)
    defective = per_slot(instances, incs["defective_m_total"], True)
    defective_all = per_slot(instances, incs["defective_m_total"], False)
    energy = per_slot(instances, incs["energy_kwh_total"], False)
    water = per_slot(instances, incs["water_l_total"], False)
    ink = per_slot(instances, incs["ink_consumed_kg_total"], False)
    design_code = series(fields.get("design_code"))
    ideal, good_ideal = ideal_per_slot(
        instances,
        incs["printed_m_total"],
        incs["defective_m_total"],
        lambda t: ideal_speed_at(design_code, designs, printer.ideal_speed_m_min, t),
    )
    wraps = [0] * (len(instances) + 1)
    resets = [0] * (len(instances) + 1)
    for rows in incs.values():
        for t, _, _, wrapped, reset in rows:
            wraps[_slot(instances, t)] += wrapped
            resets[_slot(instances, t)] += reset
    return [
        PrinterTotals(
            times[k],
            produced[k],
            defective[k],
            ideal[k],
            printed[k],
            printed[k] - produced[k],
            defective_all[k],
            energy[k],
            water[k],
            ink[k],
            wraps[k],
            resets[k],
            reason_s[k],
            reason_n[k],
            good_ideal[k],
        )
        for k in range(len(instances) + 1)
    ]


def responses(
    ts: list[int],
    value: list[float],
    end_ns: int,
    max_gap_ns: int | None,
    outages: Sequence[Span] = (),
    horizon_s: float | None = None,
) -> list[tuple[int, float]]:
    """(dispatch time, seconds to connected: the first CHARGING), walking the samples one by one.

    A connection more than ``horizon_s`` after the dispatch is no response.
    """
    hold = holds(ts, end_ns, max_gap_ns)
    state = [round(v) for v in value]
    out = []
    for i in range(1, len(ts)):
        entered = state[i] == RobotState.DISPATCHED and state[i - 1] != RobotState.DISPATCHED
        if not (entered and hold[i - 1] == ts[i]):
            continue
        for j in range(i + 1, len(ts)):
            if hold[j - 1] != ts[j]:
                break  # a gap: the arrival time is unknown
            if state[j] == RobotState.DISPATCHED and state[j - 1] != RobotState.DISPATCHED:
                break  # dispatched again before arriving
            if state[j] == RobotState.CHARGING:
                late = horizon_s is not None and ts[j] - ts[i] > round(horizon_s * NS_PER_S)
                if not meets(outages, ts[i], ts[j]) and not late:
                    out.append((ts[i], (ts[j] - ts[i]) / NS_PER_S))
                break
    return out


def robot_shift_totals(
    fleet: Fleet,
    robot_id: str,
    fields: Mapping[str, Series],
    start_ns: int,
    end_ns: int,
    instances: Sequence[ShiftInstance],
    outages: Sequence[Span] = (),
    config: KpiConfig = KpiConfig(),
) -> list[FleetTotals]:
    gap = None if config.robot_max_gap_s is None else round(config.robot_max_gap_s * NS_PER_S)
    st = series(fields.get("state"))
    iv = state_intervals(st, start_ns, end_ns, instances, None, outages, gap, split_breaks=False)
    n_states = max(RobotState) + 1
    secs = [[0.0] * (n_states + 1) for _ in range(len(instances) + 1)]
    for a, b, s, _, inst, _ in iv:
        col = s if 0 <= s < n_states else n_states
        secs[len(instances) if inst < 0 else inst][col] += (b - a) / NS_PER_S
    resp: list[list[float]] = [[] for _ in range(len(instances) + 1)]
    for t, r in responses(*st, end_ns, gap, outages, config.response_horizon_s):
        if start_ns <= t < end_ns:  # a dispatch in the context before start belongs to the range before
            resp[_slot(instances, t)].append(r)
    incs = {
        n: starting_in(
            increments(*series(fields.get(n)), robot_wrap_span(fleet, n), gap, outages, at_change=True),
            start_ns,
            end_ns,
        )
        for n in ("sessions_completed_total", "sessions_failed_total", "energy_delivered_kwh_total")
    }
    done = per_slot(instances, incs["sessions_completed_total"], False)
    done_known = per_slot(instances, incs["sessions_completed_total"], True)
    failed = per_slot(instances, incs["sessions_failed_total"], False)
    energy = per_slot(instances, incs["energy_delivered_kwh_total"], False)
    return [
        FleetTotals(
            tuple(secs[k][:n_states]),
            secs[k][n_states],
            done[k],
            failed[k],
            energy[k],
            done[k] - done_known[k],
            tuple(resp[k]),
            frozenset({robot_id}),
        )
        for k in range(len(instances) + 1)
    ]


def p90(values: Sequence[float]) -> float | None:
    """Type-7 quantile by hand: h = (n - 1) * 0.9, interpolate between the neighbours."""
    if not values:
        return None
    xs = sorted(values)
    h = (len(xs) - 1) * 0.9
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def as_spans(spans: tuple[np.ndarray, np.ndarray]) -> list[Span]:
    return [(int(a), int(b)) for a, b in zip(*spans, strict=True)]
