"""Ground truth of a printer simulation: what really happened, kept exactly.

The KPI tests compare what the collectors and the KPI core compute against
these records, never against the values served over Modbus (which are
rounded to the register's resolution and wrap).

Conventions (documented in docs/simulators-printer.md):

* Time is integer nanoseconds of simulated time, so sums never drift.
* A step ``[t0, t1)`` is integrated with the state decided at ``t0``; the
  state for the next step is decided at ``t1``. So ``state_ns[s]`` is exactly
  the time spent in state ``s`` and a stop event starts and ends on step
  boundaries.
* Totals (metres, energy, water, ink) count from the start of the simulation,
  so ``printed_m`` excludes the plant file's ``initial_printed_m`` offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shopfloor.models.states import PrinterState
from shopfloor.models.timebase import NS_PER_S


@dataclass(slots=True)
class StopEvent:
    """One contiguous period in a non-RUNNING state with one stop reason."""

    start_ns: int
    end_ns: int | None  # None while the stop is still going on
    state: PrinterState
    reason_code: int  # the plant's stop reason code; 0 if none (OFFLINE, HELD by emergency stop)

    @property
    def duration_s(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / NS_PER_S


@dataclass(slots=True)
class OrderRun:
    """One print order of the simulator's queue: loaded at ``start_ns`` (its changeover begins then), done at
    ``end_ns`` (the next order is loaded), with what was printed while it was loaded."""

    order_number: int
    design_code: int  # 0: the plant file lists no designs
    metres_ordered: float
    start_ns: int
    end_ns: int | None = None  # None while it is the order on the line
    printed_m: float = 0.0
    defective_m: float = 0.0


@dataclass(slots=True)
class PrinterTruth:
    start_ns: int
    now_ns: int
    printed_m: float = 0.0
    defective_m: float = 0.0
    energy_kwh: float = 0.0
    water_l: float = 0.0
    ink_kg: float = 0.0
    run_time_ns: int = 0
    changeovers: int = 0
    failures: int = 0
    # Nanoseconds spent in each PrinterState, indexed by the state's code.
    state_ns: list[int] = field(default_factory=lambda: [0] * len(PrinterState))
    stops: list[StopEvent] = field(default_factory=list)
    orders: list[OrderRun] = field(default_factory=list)  # the queue worked through so far, in order

    @property
    def elapsed_s(self) -> float:
        return (self.now_ns - self.start_ns) / NS_PER_S

    @property
    def good_m(self) -> float:
        return self.printed_m - self.defective_m

    def state_seconds(self) -> dict[PrinterState, float]:
        return {state: self.state_ns[state] / NS_PER_S for state in PrinterState}

    def stops_between(self, start_ns: int, end_ns: int) -> list[StopEvent]:
        """Stops that overlap [start_ns, end_ns) (open stops count as lasting until now)."""
        return [s for s in self.stops if s.start_ns < end_ns and self._end(s) > start_ns]

    def _end(self, stop: StopEvent) -> int:
        return stop.end_ns if stop.end_ns is not None else self.now_ns

    def seconds_by_reason(self) -> dict[int, float]:
        """Stop seconds per reason code, open stops counted until now."""
        out: dict[int, float] = {}
        for stop in self.stops:
            end = stop.end_ns if stop.end_ns is not None else self.now_ns
            out[stop.reason_code] = out.get(stop.reason_code, 0.0) + (end - stop.start_ns) / NS_PER_S
        return out
