"""Plain references for the request planner, used only by tests and the benchmark.

``min_requests`` solves the planning problem as a set cover by breadth-first
search over "which signals are read so far", without the sorted-run argument
the planner relies on: every candidate request is any address range that
starts at a signal, ends at a signal, contains only whole signals, respects
the limit and has no hole longer than the allowed gap. Exponential in the
number of signals per table: keep tables small (≤ 10 signals).

``check_plan`` checks any plan against the rules, independently of how it
was made.
"""

from __future__ import annotations

from collections.abc import Sequence

from shopfloor.collectors.modbus.plan import PlanLimits, ReadRequest
from shopfloor.models.plant import ModbusSignal, RegisterKind


def _by_table(signals: Sequence[ModbusSignal]) -> dict[RegisterKind, list[ModbusSignal]]:
    tables: dict[RegisterKind, list[ModbusSignal]] = {}
    for signal in signals:
        tables.setdefault(signal.table, []).append(signal)
    return tables


def _longest_hole(signals: Sequence[ModbusSignal], start: int, end: int) -> int:
    used = [False] * (end - start)
    for signal in signals:
        for a in range(max(start, signal.address), min(end, signal.end_address)):
            used[a - start] = True
    longest = run = 0
    for flag in used:
        run = 0 if flag else run + 1
        longest = max(longest, run)
    return longest


def _range_ok(signals: Sequence[ModbusSignal], start: int, end: int, limits: PlanLimits, table: RegisterKind) -> bool:
    if end - start > limits.per_request(table):
        return False
    for signal in signals:
        overlaps = signal.address < end and signal.end_address > start
        inside = start <= signal.address and signal.end_address <= end
        if overlaps and not inside:
            return False  # would split a value
    return _longest_hole(signals, start, end) <= limits.max_gap_registers


def min_requests_table(signals: Sequence[ModbusSignal], limits: PlanLimits, table: RegisterKind) -> int | None:
    """Fewest valid requests covering all ``signals`` of one table; None when impossible."""
    n = len(signals)
    full = (1 << n) - 1
    masks = set()
    for start in {s.address for s in signals}:
        for end in {s.end_address for s in signals}:
            if end > start and _range_ok(signals, start, end, limits, table):
                mask = sum(1 << i for i, s in enumerate(signals) if start <= s.address and s.end_address <= end)
                masks.add(mask)
    frontier, seen, depth = {0}, {0}, 0
    while frontier:
        if full in frontier:
            return depth
        depth += 1
        frontier = {state | m for state in frontier for m in masks} - seen
        seen |= frontier
    return None


def min_requests(signals: Sequence[ModbusSignal], limits: PlanLimits) -> int | None:
    total = 0
    for table, members in _by_table(signals).items():
        best = min_requests_table(members, limits, table)
        if best is None:
            return None
        total += best
    return total


def check_plan(signals: Sequence[ModbusSignal], limits: PlanLimits, requests: Sequence[ReadRequest]) -> None:
    """Assert the plan reads every signal exactly once, whole, within limits and gap rules."""
    served: dict[str, int] = {}
    for request in requests:
        assert request.count >= 1
        assert request.count <= limits.per_request(request.table), request
        assert request.address >= 0 and request.end_address <= 65536
        assert (
            request.function_code
            == {RegisterKind.COIL: 1, RegisterKind.DISCRETE_INPUT: 2, RegisterKind.HOLDING: 3, RegisterKind.INPUT: 4}[
                request.table
            ]
        )
        for signal in request.signals:
            assert signal.table is request.table
            assert request.address <= signal.address and signal.end_address <= request.end_address, (signal, request)
            served[signal.name] = served.get(signal.name, 0) + 1
        # Every address read is used, or inside a hole no longer than the allowed gap.
        assert _longest_hole(request.signals, request.address, request.end_address) <= limits.max_gap_registers
        # The request starts and ends on a value it serves (never reads a stray register at an edge).
        assert min(s.address for s in request.signals) == request.address
        assert max(s.end_address for s in request.signals) == request.end_address
    assert served == {s.name: 1 for s in signals}
