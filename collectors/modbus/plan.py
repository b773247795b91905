"""Request planning: which registers go into which Modbus read request. Pure, no I/O.

The rule, per table (holding FC3, input FC4, coil FC1, discrete input FC2):
sort the signals by address and walk them, extending the current request with
the next signal while

* the unused addresses between the request's end and the signal are at most
  ``max_gap`` (reading a few unused registers is cheaper than another round
  trip, but reading far over holes risks "illegal data address" exceptions),
* the request, extended to the signal's end, stays within the per-request
  limit (``max_registers_per_request`` ≤ 125 words for FC3/4,
  ``max_bits_per_request`` ≤ 2000 bits for FC1/2);

otherwise the current request is closed and a new one starts at the signal.
A multi-register value is never split: a request always covers whole signals.

Why this greedy walk gives the fewest requests (per table, hence overall):

1. Signals of one table do not overlap (the plant model checks it), so sorted
   by address they form a sequence s_1 … s_n. A request is a contiguous
   address range and must contain whole signals, so the signals it serves
   are a contiguous run s_i … s_j of that sequence; any plan can be rewritten
   so that every signal is served by exactly one request without adding
   requests. A plan is therefore a partition of s_1 … s_n into runs.
2. A run s_i … s_j is feasible when ``end(s_j) - start(s_i) <= limit`` and
   every gap between consecutive members is at most ``max_gap``. Feasibility
   is hereditary: every sub-run of a feasible run is feasible (its span is no
   longer, its gaps are a subset).
3. For hereditary run feasibility, "extend the current run as far as
   possible" is optimal. Exchange argument: let greedy's runs end at
   g_1 < g_2 < … and any other partition's at o_1 < o_2 < …. By induction
   g_k >= o_k: for k = 1 greedy takes the longest feasible prefix; if
   g_{k-1} >= o_{k-1}, then the other plan's k-th run (o_{k-1}, o_k], cut down
   to (g_{k-1}, o_k], is a sub-run and so feasible, hence greedy reaches at
   least o_k. So greedy finishes no later than any plan: it uses no more runs.

The tests check this against an independent brute-force set cover
(``tests/collectors/modbus/reference.py``) with hypothesis.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shopfloor.models.plant import ModbusEndpoint, ModbusSignal, Printer, RegisterKind

FUNCTION_CODES: dict[RegisterKind, int] = {
    RegisterKind.COIL: 1,
    RegisterKind.DISCRETE_INPUT: 2,
    RegisterKind.HOLDING: 3,
    RegisterKind.INPUT: 4,
}

# Order in which a poll reads the tables: machine data first, so that a poll
# cut short by a lost link has read the most important block.
TABLE_ORDER: tuple[RegisterKind, ...] = (
    RegisterKind.HOLDING,
    RegisterKind.INPUT,
    RegisterKind.COIL,
    RegisterKind.DISCRETE_INPUT,
)


class PlanError(ValueError):
    """The register map cannot be read within the given limits."""


@dataclass(frozen=True, slots=True)
class PlanLimits:
    max_registers_per_request: int = 125
    max_bits_per_request: int = 2000
    max_gap_registers: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.max_registers_per_request <= 125:
            raise PlanError(f"max_registers_per_request must be 1..125, got {self.max_registers_per_request}")
        if not 1 <= self.max_bits_per_request <= 2000:
            raise PlanError(f"max_bits_per_request must be 1..2000, got {self.max_bits_per_request}")
        if self.max_gap_registers < 0:
            raise PlanError(f"max_gap_registers must be >= 0, got {self.max_gap_registers}")

    @classmethod
    def of(cls, endpoint: ModbusEndpoint) -> PlanLimits:
        return cls(endpoint.max_registers_per_request, endpoint.max_bits_per_request, endpoint.max_gap_registers)

    def per_request(self, table: RegisterKind) -> int:
        return self.max_bits_per_request if table.is_bit else self.max_registers_per_request


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read: ``count`` registers (or bits) of ``table`` from ``address``, serving ``signals``."""

    table: RegisterKind
    address: int
    count: int
    signals: tuple[ModbusSignal, ...]

    @property
    def function_code(self) -> int:
        return FUNCTION_CODES[self.table]

    @property
    def end_address(self) -> int:
        return self.address + self.count

    def describe(self) -> str:
        return f"FC{self.function_code} {self.table.value} {self.address}..{self.end_address - 1}"


def plan_table(table: RegisterKind, signals: Iterable[ModbusSignal], limits: PlanLimits) -> list[ReadRequest]:
    """Fewest requests reading every signal of one table (see the module docstring)."""
    ordered = sorted(signals, key=lambda s: s.address)
    limit = limits.per_request(table)
    for signal in ordered:
        if signal.table is not table:
            raise PlanError(f"signal {signal.name!r} is in {signal.table.value}, not {table.value}")
        if signal.count > limit:
            raise PlanError(
                f"signal {signal.name!r} ({signal.type.value}) needs {signal.count} registers but at most"
                f" {limit} may be read per request: raise max_registers_per_request"
            )
    for before, after in itertools.pairwise(ordered):
        if after.address < before.end_address:
            raise PlanError(f"{table.value} signals {before.name!r} and {after.name!r} overlap")

    requests: list[ReadRequest] = []
    run: list[ModbusSignal] = []
    for signal in ordered:
        if run:
            start, end = run[0].address, run[-1].end_address
            if signal.address - end <= limits.max_gap_registers and signal.end_address - start <= limit:
                run.append(signal)
                continue
            requests.append(_request(table, run))
        run = [signal]
    if run:
        requests.append(_request(table, run))
    return requests


def _request(table: RegisterKind, run: Sequence[ModbusSignal]) -> ReadRequest:
    start = run[0].address
    return ReadRequest(table, start, run[-1].end_address - start, tuple(run))


def plan_requests(signals: Iterable[ModbusSignal], limits: PlanLimits) -> tuple[ReadRequest, ...]:
    """Fewest requests reading every signal, table by table in :data:`TABLE_ORDER`."""
    by_table: dict[RegisterKind, list[ModbusSignal]] = {}
    for signal in signals:
        by_table.setdefault(signal.table, []).append(signal)
    requests: list[ReadRequest] = []
    for table in TABLE_ORDER:
        if table in by_table:
            requests += plan_table(table, by_table[table], limits)
    return tuple(requests)


def plan_printer(printer: Printer) -> tuple[ReadRequest, ...]:
    """The requests of one poll of ``printer``, from its register map and endpoint limits."""
    return plan_requests(printer.signals, PlanLimits.of(printer.modbus))
