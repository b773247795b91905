"""Pure parts of the simulator: counter encoding, overrides, fault rules, the planned-time schedule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.models.calendar import in_planned_break, shift_at, shift_instances
from shopfloor.models.plant import ModbusSignal, Plant
from shopfloor.models.registers import decode
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.printer.faults import ExceptionRule, FaultState, exception_code
from shopfloor.simulators.printer.registers import RegisterTables, encode_signal, make_override
from shopfloor.simulators.printer.schedule import Plan, PlanLookup, plan_segments


def _signal(**kw: object) -> ModbusSignal:
    base = {"name": "x", "register": "holding", "address": 0, "type": "uint32", "counter": True, "scale": 0.1}
    return ModbusSignal.model_validate(base | kw)


@settings(max_examples=200, deadline=None)
@given(
    type_=st.sampled_from(["uint16", "int16", "uint32", "int32", "int64", "uint64"]),
    word=st.sampled_from(["big", "little"]),
    byte=st.sampled_from(["big", "little"]),
    raw=st.integers(0, 3 * (1 << 33)),
)
def test_counters_wrap_modulo_their_width(type_: str, word: str, byte: str, raw: int) -> None:
    signal = _signal(type=type_, word_order=word, byte_order=byte, scale=1.0)
    words = encode_signal(signal, float(raw))
    decoded = decode(words, signal.type, word_order=signal.word_order, byte_order=signal.byte_order)
    span = 1 << (16 * signal.count)
    # Reference: the decoded count is congruent to the true count modulo 2^bits.
    assert (int(decoded) - raw) % span == 0
    assert -(span // 2) <= decoded < span


def test_printed_metres_wrap_at_the_documented_value() -> None:
    signal = _signal()
    wrap_m = signal.wrap_m
    assert wrap_m == pytest.approx(429_496_729.6)
    below = decode(encode_signal(signal, wrap_m - 5.0), signal.type, scale=0.1)
    after = decode(encode_signal(signal, wrap_m + 12.3), signal.type, scale=0.1)
    assert below == pytest.approx(wrap_m - 5.0, abs=0.05)
    assert after == pytest.approx(12.3, abs=0.05)


def test_non_counters_are_clamped_not_wrapped() -> None:
    signal = _signal(type="int16", counter=False, scale=1.0)
    assert decode(encode_signal(signal, 40_000.0), signal.type) == 32767
    assert decode(encode_signal(signal, -40_000.0), signal.type) == -32768
    with pytest.raises(ValueError, match="raw registers"):
        encode_signal(signal, float("nan"))


def test_overrides_are_validated_at_the_call() -> None:
    signal = _signal(type="float32", counter=False, scale=1.0)
    assert make_override(signal, [0x7FC0, 0]).words == (0x7FC0, 0)
    with pytest.raises(ValueError, match="needs 2 words"):
        make_override(signal, [1, 2, 3])
    with pytest.raises(ValueError, match=r"0..65535"):
        make_override(signal, [70000, 0])
    bit = ModbusSignal.model_validate({"name": "b", "register": "coil", "address": 0, "type": "bool"})
    with pytest.raises(ValueError, match=r"0..1"):
        make_override(bit, [2])


def test_tables_follow_the_map_and_unknown_signals_are_zero(plant: Plant) -> None:
    printer = plant.printers[0]
    tables = RegisterTables(printer, known=["state"])
    assert "speed_m_min" in tables.unknown and "state" not in tables.unknown
    tables.refresh({"state": 3.0, "speed_m_min": 0.0}, {})
    assert tables.read(printer.signal("state").table, 0, 1) == [3]
    holding_end = max(s.end_address for s in printer.signals if s.table.value == "holding")
    assert tables.read(printer.signal("state").table, holding_end - 1, 1) is not None
    assert tables.read(printer.signal("state").table, holding_end - 1, 2) is None
    touched = tables.signals_in(printer.signal("speed_m_min").table, 3, 2)  # half of speed, half of setpoint
    assert [s.name for s in touched] == ["speed_m_min", "speed_setpoint_m_min"]


def test_fault_rules_latest_wins_and_match_by_signal(plant: Plant) -> None:
    printer = plant.printers[0]
    faults = FaultState()
    speed, state = printer.signal("speed_m_min"), printer.signal("state")
    assert faults.exception_for([speed]) is None
    faults.exceptions.append(ExceptionRule(frozenset({"speed_m_min"}), exception_code(2)))
    assert faults.exception_for([state]) is None
    assert faults.exception_for([state, speed]) == 2
    faults.exceptions.append(ExceptionRule(None, exception_code(4)))
    assert faults.exception_for([state]) == 4
    faults.clear()
    assert faults.exception_for([speed]) is None
    with pytest.raises(ValueError, match="not one of"):
        exception_code(9)


@settings(max_examples=150, deadline=None)
@given(offset_s=st.integers(0, 30 * 86_400))
def test_plan_lookup_agrees_with_the_calendar(plant: Plant, shift_start_ns: int, offset_s: int) -> None:
    t = shift_start_ns + offset_s * NS_PER_S
    lookup = PlanLookup(plant.shift_calendar, plant.tz)
    plan = lookup.plan_at(t)
    instance = shift_at(plant.shift_calendar, plant.tz, t)
    if instance is None:
        expected = Plan.NO_SHIFT
    else:
        in_break = in_planned_break([instance], np.array([t], dtype=np.int64))[0]
        expected = Plan.BREAK if in_break else Plan.PRODUCE
    assert plan is expected


def test_plan_segments_tile_the_window_and_mark_gaps(plant: Plant, shift_start_ns: int) -> None:
    # A calendar with only the early shift leaves 16 h a day without a shift.
    calendar = plant.shift_calendar.model_copy(update={"shifts": plant.shift_calendar.shifts[:1]})
    end = shift_start_ns + 2 * 86_400 * NS_PER_S
    segments = plan_segments(calendar, plant.tz, shift_start_ns, end)
    assert segments[0].start_ns == shift_start_ns and segments[-1].end_ns == end
    assert all(a.end_ns == b.start_ns for a, b in itertools.pairwise(segments))
    totals = {plan: sum(s.end_ns - s.start_ns for s in segments if s.plan is plan) / 3600e9 for plan in Plan}
    assert totals == {Plan.PRODUCE: 15.0, Plan.BREAK: 1.0, Plan.NO_SHIFT: 32.0}
    assert len(shift_instances(calendar, plant.tz, shift_start_ns, end)) == 2
