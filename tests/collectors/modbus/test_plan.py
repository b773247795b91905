"""Request planning: data-driven cases, the default map, and optimality against a brute-force set cover."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopfloor.collectors.modbus.plan import PlanError, PlanLimits, plan_printer, plan_requests
from shopfloor.collectors.modbus.reference import check_plan, min_requests
from shopfloor.models.plant import ModbusSignal, RegisterKind, load_plant
from shopfloor.models.registers import DataType, register_count

CASES = Path(__file__).parent / "testcases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "plan.toml").is_file())


def load_case(name: str) -> tuple[list[ModbusSignal], PlanLimits, dict[str, Any]]:
    plan = tomllib.loads((CASES / name / "plan.toml").read_text(encoding="utf-8"))
    expected = tomllib.loads((CASES / name / "expected.toml").read_text(encoding="utf-8"))
    signals = [ModbusSignal.model_validate(raw) for raw in plan.get("signals", [])]
    return signals, PlanLimits(**plan.get("limits", {})), expected


def test_there_are_cases() -> None:
    assert len(CASE_NAMES) >= 5


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case(name: str) -> None:
    signals, limits, expected = load_case(name)
    if "error" in expected:
        with pytest.raises(PlanError, match=expected["error"].replace("(", r"\(").replace(")", r"\)")):
            plan_requests(signals, limits)
        assert min_requests(signals, limits) is None
        return
    requests = plan_requests(signals, limits)
    got = [
        {"table": r.table.value, "address": r.address, "count": r.count, "signals": [s.name for s in r.signals]}
        for r in requests
    ]
    assert got == expected["requests"]
    check_plan(signals, limits, requests)
    # The expected files themselves must be optimal, not just what the code happens to do.
    assert len(requests) == min_requests(signals, limits)


def test_default_plant_map() -> None:
    printer = load_plant().printers[0]
    requests = plan_printer(printer)
    limits = PlanLimits.of(printer.modbus)
    check_plan(printer.signals, limits, requests)
    assert len(requests) == min_requests(printer.signals, limits)
    assert len(requests) < len(printer.signals)
    # The water meter sits 98 registers away from the dryer block: never merged over that hole.
    water = printer.signal("water_l_total")
    assert [r.signals for r in requests if water in r.signals] == [(water,)]


def test_limits_are_validated() -> None:
    with pytest.raises(PlanError, match="max_registers_per_request"):
        PlanLimits(max_registers_per_request=126)
    with pytest.raises(PlanError, match="max_bits_per_request"):
        PlanLimits(max_bits_per_request=0)
    with pytest.raises(PlanError, match="max_gap_registers"):
        PlanLimits(max_gap_registers=-1)


def test_overlapping_signals_are_refused() -> None:
    a = ModbusSignal.model_validate({"name": "a", "register": "holding", "address": 0, "type": "uint32"})
    b = ModbusSignal.model_validate({"name": "b", "register": "holding", "address": 1, "type": "uint16"})
    with pytest.raises(PlanError, match="overlap"):
        plan_requests([a, b], PlanLimits())


# --------------------------------------------------------------------------- property: optimal and valid

WORD_TYPES = [t for t in DataType if t is not DataType.BOOL]


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[ModbusSignal], PlanLimits]:
    limits = PlanLimits(
        max_registers_per_request=draw(st.integers(1, 16)),
        max_bits_per_request=draw(st.integers(1, 12)),
        max_gap_registers=draw(st.integers(0, 5)),
    )
    signals: list[ModbusSignal] = []
    for table in draw(st.lists(st.sampled_from(list(RegisterKind)), min_size=1, max_size=3, unique=True)):
        address = draw(st.integers(0, 20))
        for _ in range(draw(st.integers(1, 8))):
            data_type = DataType.BOOL if table.is_bit else draw(st.sampled_from(WORD_TYPES))
            signals.append(
                ModbusSignal.model_validate(
                    {"name": f"s{len(signals)}", "register": table.value, "address": address, "type": data_type.value}
                )
            )
            address += register_count(data_type) + draw(st.integers(0, 7))
    return signals, limits


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_plan_is_valid_and_optimal(case: tuple[list[ModbusSignal], PlanLimits]) -> None:
    signals, limits = case
    best = min_requests(signals, limits)
    if best is None:
        with pytest.raises(PlanError):
            plan_requests(signals, limits)
        return
    requests = plan_requests(signals, limits)
    check_plan(signals, limits, requests)
    assert len(requests) == best


@settings(max_examples=50, deadline=None)
@given(tables(), st.randoms(use_true_random=False))
def test_plan_ignores_declaration_order(case: tuple[list[ModbusSignal], PlanLimits], rng: Any) -> None:
    signals, limits = case
    shuffled = list(signals)
    rng.shuffle(shuffled)
    try:
        expected = plan_requests(signals, limits)
    except PlanError:
        with pytest.raises(PlanError):
            plan_requests(shuffled, limits)
        return
    assert plan_requests(shuffled, limits) == expected
