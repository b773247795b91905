"""Exactness: a range made of whole shifts, computed in one pass, gives each shift exactly (==) what that
shift computed alone gives, when each computation reads its range with context (docs/kpi.md, "Context").

So per-shift ledger rows, added in shift order, equal the range's own per-shift figures added in the same
order, bit for bit. The property runs over random shift calendars (holes, breaks, readings exactly on
boundaries), messy series (gaps, duplicates, disorder, wraps, resets), connectivity outages and operator
stop-reason overrides. A shift is compared once every field has a reading at or after its end (it is
"closed"); before that its last reading's hold depends on where the computation stops (docs/kpi.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import reduce

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.models.calendar import ShiftInstance, shift_instances, to_ns
from shopfloor.models.kpi import KpiConfig, build_report, outage_spans
from shopfloor.models.kpi.context import (
    OPEN_END_NS,
    fields_with_context,
    read_end_ns,
    report_context,
    robot_lookahead_ns,
    with_context,
)
from shopfloor.models.kpi.fleet import FleetTotals
from shopfloor.models.kpi.overrides import apply_reason_overrides
from shopfloor.models.kpi.pipeline import (
    printer_shift_totals,
    printer_stop_events,
    printer_throughput,
    robot_shift_totals,
)
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.plant import load_plant
from shopfloor.models.samples import ConnectivityEvent, Series
from shopfloor.models.states import PrinterState, RobotState
from shopfloor.store.annotations import ReasonOverride
from tests.models.kpi._series import printer_fields
from tests.models.kpi._strategies import (
    HORIZON_S,
    NS,
    T0,
    counter_series,
    instances,
    robot_state_series,
    state_series,
)

PLANT = load_plant()
PRINTER = PLANT.printers[0]
FLEET = PLANT.fleets[0]
PRINTER_CODES = [int(s) for s in PrinterState] + [42]  # one code the contract does not know
REASON_CODES = [0, 0, 1, 2, 10, 20, 30, 999]  # 999: not in the plant file
DESIGN_CODES = [0, *(d.code for d in PLANT.designs), 999]  # 0: no design; 999: not in the plant file
ORDER_NUMBERS = [0, 7001, 7002, 7003]  # 0: no order
ROBOT_CODES = [int(s) for s in RobotState]
PRINTER_COUNTERS = (
    "printed_m_total",
    "defective_m_total",
    "energy_kwh_total",
    "water_l_total",
    "ink_consumed_kg_total",
)
ROBOT_COUNTERS = ("sessions_completed_total", "sessions_failed_total", "energy_delivered_kwh_total")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# The context edges (an outage or an override's end between a shift's end and its closing reading, an arrival past
# the first reading after a dispatch) need a few coincidences: more examples for the two main properties.
MANY = settings(SETTINGS, max_examples=400)

# --------------------------------------------------------------------------- strategies


@st.composite
def near_wrap(draw: st.DrawFn, wrap: float) -> Series:
    """A counter that crosses the printer's own wrap span (the plant's is far above what the strategy draws)."""
    s = draw(counter_series(1000.0))
    if len(s.ts_ns) == 0 or not draw(st.booleans()):
        return s
    # Shifted so that a drawn reading sits just below the wrap span: the readings after it wrap to near 0.
    pivot = float(np.asarray(s.value)[draw(st.integers(0, len(s.ts_ns) - 1))])
    return Series(s.ts_ns, np.mod(np.asarray(s.value) - pivot + wrap - 0.25, wrap))


def closing_reading(draw: st.DrawFn, s: Series, codes: list[int] | None, stays_open: bool) -> Series:
    """A reading after every shift (so shifts are closed), unless the field ``stays_open``."""
    if stays_open:
        return s
    t = T0 + draw(st.integers(HORIZON_S + 20, HORIZON_S + 200)) * NS
    value = np.asarray(s.value, dtype=np.float64)
    finite = value[np.isfinite(value)]
    last = float(finite[-1]) if len(finite) else 0.0
    nxt = float(draw(st.sampled_from(codes))) if codes is not None else last + draw(st.sampled_from([0.0, 2.5]))
    return Series(np.append(np.asarray(s.ts_ns, dtype=np.int64), t), np.append(value, nxt))


@st.composite
def printer_series(draw: st.DrawFn) -> dict[str, Series]:
    """Every field closed after the shifts, or one left open (its last reading may lie inside a shift)."""
    open_field = draw(st.sampled_from([None, None, None, "state", "stop_reason", *PRINTER_COUNTERS]))
    fields = {
        name: closing_reading(draw, draw(state_series(codes)), codes, open_field == name)
        for name, codes in (
            ("state", PRINTER_CODES),
            ("stop_reason", REASON_CODES),
            ("design_code", DESIGN_CODES),
            ("order_number", ORDER_NUMBERS),
        )
    }
    for name in PRINTER_COUNTERS:
        if draw(st.integers(0, 5)) == 0:
            continue  # a missing field is no data, not an error
        wrap = PRINTER.signal(name).wrap_m
        counter = draw(near_wrap(wrap) if wrap else counter_series(1000.0))
        fields[name] = closing_reading(draw, counter, None, open_field == name)
    return fields


@st.composite
def robot_series(draw: st.DrawFn) -> dict[str, Series]:
    open_field = draw(st.sampled_from([None, None, None, "state", *ROBOT_COUNTERS]))
    state = draw(st.one_of(robot_state_series(), state_series(ROBOT_CODES)))
    fields = {"state": closing_reading(draw, state, ROBOT_CODES, open_field == "state")}
    for name in ROBOT_COUNTERS:
        fields[name] = closing_reading(draw, draw(counter_series(1000.0)), None, open_field == name)
    return fields


@st.composite
def case(
    draw: st.DrawFn, equipment: str, series: st.SearchStrategy[dict[str, Series]]
) -> tuple[dict[str, Series], list[ShiftInstance], list[ConnectivityEvent], list[ReasonOverride]]:
    """Series, then shifts, link drops and operator overrides around them. Shift edges fall anywhere or just
    around a reading, and half of the other moments just around a shift edge: context matters where a
    shift's last reading, its end, an outage or an override's end and the closing reading are seconds apart."""
    full = draw(series)
    times = sorted({int(t - T0) // NS for s in full.values() for t in np.asarray(s.ts_ns, dtype=np.int64)})
    anywhere = st.integers(-20, HORIZON_S + 20)
    near = st.sampled_from(times).flatmap(lambda t: st.integers(t - 2, t + 4)) if times else anywhere
    inst = draw(instances(st.one_of(anywhere, near)).filter(bool))
    edges = sorted({(t - T0) // NS for i in inst for t in (i.start_ns, i.end_ns)})

    def moment() -> int:
        if draw(st.booleans()):
            return T0 + draw(st.integers(-30, HORIZON_S + 220)) * NS
        # Half seconds too: readings are whole seconds apart, so this falls between an edge and the next one.
        return T0 + draw(st.sampled_from(edges)) * NS + draw(st.integers(-2, 6)) * NS // 2

    events = []
    for _ in range(draw(st.integers(0, 3))):  # outages: the link drops, and comes back or stays down
        down = moment()
        events.append(ConnectivityEvent(down, equipment, "test", False))
        if draw(st.integers(0, 3)):
            events.append(ConnectivityEvent(down + draw(st.integers(1, 20)) * NS, equipment, "test", True))
    events.sort(key=lambda e: e.ts_ns)
    overrides = []
    for ident in range(draw(st.integers(0, 3))):
        a = moment()
        b = a + draw(st.integers(1, 150)) * NS if draw(st.booleans()) else moment()
        code = draw(st.sampled_from(REASON_CODES))
        if b > a:
            overrides.append(ReasonOverride(ident + 1, equipment, a, b, code, "op", ident, ""))
    return full, inst, events, overrides


# --------------------------------------------------------------------------- one computation, as the API will run it


def printer_read(
    full: Mapping[str, Series], overrides: Sequence[ReasonOverride], start: int, end: int
) -> dict[str, Series]:
    """What the store returns for [start, end) (the context rule) with the operator's overrides applied."""
    fields = fields_with_context(full, start, end)
    if overrides and "stop_reason" in fields:
        # The override rule adds boundary samples only inside what was read: up to the last sample read.
        fields["stop_reason"] = apply_reason_overrides(fields["stop_reason"], overrides, read_end_ns([fields], end) + 1)
    return fields


def printer_run(
    full: Mapping[str, Series],
    events: Sequence[ConnectivityEvent],
    overrides: Sequence[ReasonOverride],
    start: int,
    end: int,
    inst: Sequence[ShiftInstance],
    config: KpiConfig,
) -> list[PrinterTotals]:
    fields = printer_read(full, overrides, start, end)
    out = outage_spans(events, PRINTER.id, start, OPEN_END_NS)
    return printer_shift_totals(PRINTER, PLANT.stop_reasons, fields, start, end, inst, out, config, PLANT.designs)


def robot_run(
    full: Mapping[str, Series],
    events: Sequence[ConnectivityEvent],
    start: int,
    end: int,
    inst: Sequence[ShiftInstance],
    config: KpiConfig,
) -> list[FleetTotals]:
    fields = fields_with_context(full, start, end, robot_lookahead_ns(config))
    out = outage_spans(events, FLEET.id, 0, OPEN_END_NS)  # as models/kpi/report.py: not cut at start
    return robot_shift_totals(FLEET, "r1", fields, start, end, inst, out, config)


def closed(full: Mapping[str, Series], end: int) -> bool:
    """Every field that has readings has one at or after ``end``: the shift's closing reading is in."""
    for s in full.values():
        ts = np.asarray(s.ts_ns)[np.isfinite(np.asarray(s.value, dtype=np.float64))]
        if len(ts) and ts.max() < end:
            return False
    return True


def alone(item: ShiftInstance) -> tuple[int, int, list[ShiftInstance]]:
    return item.start_ns, item.end_ns, [item]


# --------------------------------------------------------------------------- properties


@MANY
@given(
    drawn=case(PRINTER.id, printer_series()),
    micro=st.sampled_from([0.0, 3.0, 60.0]),
    gap_polls=st.sampled_from([3.0, 20.0]),
)
def test_printer_shift_alone_equals_its_slot_in_one_pass(drawn, micro, gap_polls):
    full, inst, events, overrides = drawn
    config = KpiConfig(micro_stop_s=micro, max_gap_polls=gap_polls)
    start, end = inst[0].start_ns, inst[-1].end_ns
    whole = printer_run(full, events, overrides, start, end, inst, config)
    for k, item in enumerate(inst):
        own = printer_run(full, events, overrides, *alone(item), config)
        assert own[1] == PrinterTotals(), "nothing of a shift's own range lies outside it"
        if closed(full, item.end_ns):
            assert own[0] == whole[k], k
    # The ledger: closed shifts' rows added in order == the one pass's slots added in the same order.
    done = [k for k, item in enumerate(inst) if closed(full, item.end_ns)]
    rows = [printer_run(full, events, overrides, *alone(inst[k]), config)[0] for k in done]
    assert reduce(PrinterTotals.__add__, rows, PrinterTotals()) == reduce(
        PrinterTotals.__add__, (whole[k] for k in done), PrinterTotals()
    )


@MANY
@given(
    drawn=case(FLEET.id, robot_series()),
    gap_s=st.sampled_from([None, 3.0]),
    horizon_s=st.sampled_from([5.0, 40.0, 3600.0]),
)
def test_robot_shift_alone_equals_its_slot_in_one_pass(drawn, gap_s, horizon_s):
    full, inst, events, _ = drawn
    config = KpiConfig(robot_max_gap_s=gap_s, response_horizon_s=horizon_s)
    start, end = inst[0].start_ns, inst[-1].end_ns
    whole = robot_run(full, events, start, end, inst, config)
    for k, item in enumerate(inst):
        own = robot_run(full, events, *alone(item), config)
        assert own[1] == FleetTotals(robot_ids=frozenset({"r1"})), "nothing of a shift's own range lies outside it"
        # Report by exception (no gap rule): the last reading holds to any end, so even open shifts agree.
        if gap_s is None or closed(full, item.end_ns):
            assert own[0] == whole[k], k


@SETTINGS
@given(drawn=case(PRINTER.id, printer_series()))
def test_stop_events_and_throughput_of_a_shift_alone_are_those_of_one_pass(drawn):
    """The operator's stop list and the 1 s throughput buckets (shift edges fall on whole seconds)."""
    full, inst, events, overrides = drawn
    start, end = inst[0].start_ns, inst[-1].end_ns
    fields = printer_read(full, overrides, start, end)
    out = outage_spans(events, PRINTER.id, start, OPEN_END_NS)
    _, ev = printer_stop_events(PRINTER, PLANT.stop_reasons, fields, start, end, inst, out)
    tp = printer_throughput(PRINTER, fields, start, end, 1.0, out)
    for k, item in enumerate(inst):
        if not closed(full, item.end_ns):
            continue
        a, b, one = alone(item)
        own_fields = printer_read(full, overrides, a, b)
        own_out = outage_spans(events, PRINTER.id, a, OPEN_END_NS)
        _, own_ev = printer_stop_events(PRINTER, PLANT.stop_reasons, own_fields, a, b, one, own_out)
        mine = ev.instance == k
        for name in ("start_ns", "end_ns", "element", "reason", "micro"):
            assert getattr(own_ev, name).tolist() == getattr(ev, name)[mine].tolist(), name
        own_tp = printer_throughput(PRINTER, own_fields, a, b, 1.0, own_out)
        i0, i1 = np.searchsorted(tp.edges_ns, [a, b])
        assert own_tp.edges_ns.tolist() == tp.edges_ns[i0 : i1 + 1].tolist()
        np.testing.assert_array_equal(own_tp.amount, tp.amount[i0:i1])  # NaN (no data) where NaN


def test_the_exactness_properties_compare_closed_shifts():
    """Guard: the strategies must produce closed shifts with readings inside, or the properties prove little."""
    seen: list[int] = []

    @settings(SETTINGS, derandomize=True, database=None)
    @given(drawn=case(PRINTER.id, printer_series()))
    def count(drawn):
        full, inst, _, _ = drawn
        seen.append(sum(1 for item in inst if closed(full, item.end_ns) and len(full["state"].ts_ns)))

    count()
    assert sum(1 for n in seen if n > 0) >= 50, seen


# --------------------------------------------------------------------------- the rule itself


def test_with_context_keeps_one_neighbour_each_side_of_any_age():
    ts = np.array([0, 5, 10, 10, 20, 30, 500], dtype=np.int64)
    s = Series(ts, np.array([0.0, 1.0, 2.0, 3.0, np.nan, 5.0, 6.0]))
    got = with_context(s, 10, 30)
    # The last write of 10 wins; the NaN at 20 is no sample; 5 is the last before, 30 the first at/after the end.
    assert got.ts_ns.tolist() == [5, 10, 30] and got.value.tolist() == [1.0, 3.0, 5.0]
    assert with_context(s, 11, 12).ts_ns.tolist() == [10, 30]  # nothing inside: both neighbours
    assert with_context(s, 31, 40).ts_ns.tolist() == [30, 500]  # an old neighbour is kept: its age is a gap
    assert with_context(s, 10, 30, lookahead_ns=480).ts_ns.tolist() == [5, 10, 30, 500]
    assert with_context(None, 0, 1).ts_ns.tolist() == []
    with pytest.raises(ValueError, match="lookahead_ns"):
        with_context(s, 0, 1, -1)


def test_an_increment_before_the_range_counts_nowhere_even_in_a_shift_the_range_cuts():
    """A range that starts inside a shift: the context increment lies in that shift, but before the range."""
    start = to_ns(dt.datetime(2026, 11, 24, 8, tzinfo=PLANT.tz))  # inside the early shift
    ts = start + np.array([-60, 10, 20, 3600], dtype=np.int64) * NS
    fields = {
        "state": Series(ts, np.full(4, float(PrinterState.RUNNING))),
        "printed_m_total": Series(ts, [0, 5, 7, 9.0]),
    }
    inst = shift_instances(PLANT.shift_calendar, PLANT.tz, start, start + 30 * NS)
    assert inst[0].start_ns < start
    config = KpiConfig(max_gap_polls=30)  # samples up to 15 s apart hold
    [t, outside] = printer_shift_totals(
        PRINTER, PLANT.stop_reasons, fields, start, start + 30 * NS, inst, config=config
    )
    # 10 -> 20 s and 20 -> 3600 s start inside (the last across a gap); -60 -> 10 s started before.
    assert t.printed_m == 4.0 and t.printed_across_gap_m == 2.0 and t.produced_m == 2.0
    assert outside == PrinterTotals()
    # The state before start holds in only up to the gap rule: -60 s is far, so [start, 10 s) is no data.
    assert t.times.no_data_s == 10.0 + 10.0 and t.times.apt_s == 10.0


def test_a_robot_response_belongs_to_the_dispatch_and_needs_the_horizon_past_the_end():
    start = to_ns(dt.datetime(2026, 11, 24, 6, tzinfo=PLANT.tz))
    end = start + 3600 * NS
    ts = end + np.array([-100, -60, 5 * 60, 20 * 60, 30 * 60], dtype=np.int64) * NS
    codes = [RobotState.IDLE, RobotState.DISPATCHED, RobotState.DRIVING, RobotState.CHARGING, RobotState.IDLE]
    full = {"state": Series(ts, np.array(codes, dtype=np.float64))}
    inst = shift_instances(PLANT.shift_calendar, PLANT.tz, start, end)
    got = robot_run(full, (), start, end, inst, KpiConfig())
    # Dispatched in this range, connected 21 min later, past the first reading after the end (DRIVING).
    assert got[0].response_s == (21 * 60.0,)
    only_one_after = fields_with_context(full, start, end)
    assert robot_shift_totals(FLEET, "r1", only_one_after, start, end, inst)[0].response_s == ()
    late = robot_run(full, (), start, end, inst, KpiConfig(response_horizon_s=600))
    assert late[0].response_s == ()  # connected after the horizon: no response
    nxt = robot_run(full, (), end, end + 3600 * NS, [], KpiConfig())
    assert nxt[0].response_s == ()  # the next range sees the arrival, not the dispatch


def two_shifts() -> tuple[int, int, int, list[ShiftInstance]]:
    """The early and the late shift of a day: start, the boundary between them, end, and the instances."""
    start = to_ns(dt.datetime(2026, 11, 24, 6, tzinfo=PLANT.tz))
    end = to_ns(dt.datetime(2026, 11, 24, 22, tzinfo=PLANT.tz))
    inst = shift_instances(PLANT.shift_calendar, PLANT.tz, start, end)
    assert [i.shift_id for i in inst] == ["early", "late"]
    return start, inst[0].end_ns, end, inst


def test_an_outage_after_the_end_makes_the_closing_increment_across_gap():
    """Outages are cut at the last sample read, not at the range's end: the closing increment of the early shift
    spans a link drop that lies entirely in the late shift."""
    start, edge, end, inst = two_shifts()
    fields = printer_fields(edge - 120 * NS, [(4, PrinterState.RUNNING, 0)], 400, 0)
    keep = {n: (s.ts_ns <= edge - NS) | (s.ts_ns >= edge + 5 * NS) for n, s in fields.items()}
    full = {n: Series(s.ts_ns[keep[n]], s.value[keep[n]]) for n, s in fields.items()}
    events = [
        ConnectivityEvent(edge + 2 * NS, PRINTER.id, "test", False),
        ConnectivityEvent(edge + 3 * NS, PRINTER.id, "test", True),
    ]
    config = KpiConfig(max_gap_polls=20)  # readings 6 s apart still hold: only the outage breaks them
    whole = printer_run(full, events, (), start, end, inst, config)
    own = printer_run(full, events, (), start, edge, inst[:1], config)
    assert own[0] == whole[0]
    assert own[0].printed_across_gap_m == pytest.approx(10.0)  # 6 s at 100 m/min
    series = {PRINTER.id: full}
    report = build_report(PLANT, start, end, report_context(PLANT, series, start, end), events, config)
    alone_report = build_report(PLANT, start, edge, report_context(PLANT, series, start, edge), events, config)
    assert alone_report.shifts[0] == report.shifts[0]
    # Cut at the range's end, the outage vanishes from the shift computed alone and the increment counts as observed.
    fields_read = fields_with_context(full, start, edge)
    cut_at_end = outage_spans(events, PRINTER.id, start, edge)
    wrong = printer_shift_totals(PRINTER, PLANT.stop_reasons, fields_read, start, edge, inst[:1], cut_at_end, config)
    assert wrong[0].printed_across_gap_m == 0.0 != whole[0].printed_across_gap_m


def test_an_override_ending_between_the_end_and_the_closing_reading_resumes_as_in_a_longer_range():
    """The resume sample of an override that ends just after the shift is inside what was read."""
    start, edge, end, inst = two_shifts()
    ts = edge + np.arange(-60, 61, dtype=np.int64) * NS
    reason_ts = ts[(ts < edge) | (ts >= edge + 5 * NS)]  # the reason's polls skip 6 s around the edge
    full = {
        "state": Series(ts, np.full(len(ts), float(PrinterState.FAULT))),
        "stop_reason": Series(reason_ts, np.zeros(len(reason_ts))),
    }
    overrides = [ReasonOverride(1, PRINTER.id, edge - 30 * NS, edge + NS // 2, 20, "op", 0, "")]
    config = KpiConfig(micro_stop_s=0)
    whole = printer_run(full, (), overrides, start, end, inst, config)
    own = printer_run(full, (), overrides, start, edge, inst[:1], config)
    assert own[0] == whole[0]
    assert own[0].downtime_s_by_reason == {0: 30.0, 20: 30.0}
    # Applied up to the range's end only, the resume sample is dropped: the last second loses its reason.
    read = fields_with_context(full, start, edge)
    read["stop_reason"] = apply_reason_overrides(read["stop_reason"], overrides, edge)
    wrong = printer_shift_totals(PRINTER, PLANT.stop_reasons, read, start, edge, inst[:1], config=config)
    assert wrong[0].downtime_s_by_reason == {0: 31.0, 20: 29.0}


def test_an_open_shift_is_provisional_until_its_closing_reading():
    """No reading at or after the shift's end yet: its last reading holds to the end of whatever is computed,
    within the gap rule, so the shift alone and the shift inside a longer range differ until the closing
    reading comes; then they agree."""
    start, edge, end, inst = two_shifts()
    ts = edge + np.arange(-10, 0, dtype=np.int64) * NS
    running = {"state": Series(ts, np.full(len(ts), float(PrinterState.RUNNING)))}
    whole = printer_run(running, (), (), start, end, inst, KpiConfig())
    own = printer_run(running, (), (), start, edge, inst[:1], KpiConfig())
    assert own[0].times.apt_s == 10.0 and whole[0].times.apt_s == 9.0
    closing = np.append(ts, edge)
    closed_run = {"state": Series(closing, np.full(len(closing), float(PrinterState.RUNNING)))}
    whole = printer_run(closed_run, (), (), start, end, inst, KpiConfig())
    own = printer_run(closed_run, (), (), start, edge, inst[:1], KpiConfig())
    assert own[0] == whole[0] and own[0].times.apt_s == 10.0


# --------------------------------------------------------------------------- the defect, by example


def day_of_polls() -> tuple[int, int, dict[str, Series]]:
    """One production day (early, late, night) running at 100 m/min, one poll a second, the last poll at the
    day's end: polls land exactly on every shift boundary."""
    start = to_ns(dt.datetime(2026, 11, 24, 6, tzinfo=PLANT.tz))
    return start, start + 86_400 * NS, printer_fields(start, [(1440, PrinterState.RUNNING, 0)], 144_000, 1_440)


def test_a_days_metres_are_the_sum_of_its_three_shift_reports():
    start, end, fields = day_of_polls()
    series = {PRINTER.id: fields}
    day = build_report(PLANT, start, end, report_context(PLANT, series, start, end))
    shifts = []
    for item in day.shifts:
        report = build_report(
            PLANT, item.start_ns, item.end_ns, report_context(PLANT, series, item.start_ns, item.end_ns)
        )
        [own] = report.shifts
        assert own == item  # every figure of the shift, not only its metres
        shifts.append(own.printers[PRINTER.id])
    assert [s.key for s in day.shifts] == ["2026-11-24/early", "2026-11-24/late", "2026-11-24/night"]
    total = day.days[0].printers[PRINTER.id]
    assert total.printed_m == sum(s.printed_m for s in shifts) == pytest.approx(144_000)
    assert total.energy.energy_kwh == sum(s.energy.energy_kwh for s in shifts)
    assert total.times == reduce(lambda a, b: a + b, (s.times for s in shifts))


def test_without_context_each_shift_boundary_loses_one_poll():
    """The defect the context rule fixes: read [start, end) only, and a shift's closing poll is in no shift."""
    start, end, fields = day_of_polls()

    def cut(a: int, b: int) -> dict[str, dict[str, Series]]:
        return {
            PRINTER.id: {
                n: Series(s.ts_ns[(s.ts_ns >= a) & (s.ts_ns < b)], s.value[(s.ts_ns >= a) & (s.ts_ns < b)])
                for n, s in fields.items()
            }
        }

    day = build_report(PLANT, start, end, cut(start, end))
    shifts = [build_report(PLANT, i.start_ns, i.end_ns, cut(i.start_ns, i.end_ns)).shifts[0] for i in day.shifts]
    per_poll_m = 100.0 / 60.0
    lost = day.days[0].printers[PRINTER.id].printed_m - sum(s.printers[PRINTER.id].printed_m for s in shifts)
    assert lost == pytest.approx(2 * per_poll_m)  # two boundaries inside the day


def test_a_robot_counter_change_belongs_to_the_shift_it_was_reported_in():
    """Robots report by exception: a session completed after a night parked is the morning's, not booked back
    at the previous completion (yesterday's late shift); a change read exactly at a shift's end closes it."""
    morning = to_ns(dt.datetime(2026, 11, 24, 6, tzinfo=PLANT.tz))
    inst = shift_instances(PLANT.shift_calendar, PLANT.tz, morning - 16 * 3600 * NS, morning + 8 * 3600 * NS)
    assert len(inst) >= 2 and inst[-1].start_ns == morning
    evening = inst[-2]
    t = np.array(
        [evening.start_ns + 3600 * NS, morning + 2 * 3600 * NS, inst[-1].end_ns, inst[-1].end_ns + 60 * NS],
        dtype=np.int64,
    )
    full = {
        "state": Series(t[:1], np.array([RobotState.IDLE], dtype=np.float64)),
        "sessions_completed_total": Series(t, np.array([7.0, 8.0, 9.0, 10.0])),
    }
    whole = robot_run(full, (), inst[0].start_ns, inst[-1].end_ns, inst, KpiConfig())
    assert whole[len(inst) - 2].sessions_completed == 0.0, "nothing was completed in the evening after 7"
    assert whole[len(inst) - 1].sessions_completed == 2.0, "8 was reported in the morning; 9 at its end closes it"
    # The evening's figures were final when it closed: readings that came later change nothing of it.
    seen_then = {
        k: Series(s.ts_ns[s.ts_ns < evening.end_ns], s.value[s.ts_ns < evening.end_ns]) for k, s in full.items()
    }
    assert robot_run(seen_then, (), *alone(evening), KpiConfig())[0] == whole[len(inst) - 2]
