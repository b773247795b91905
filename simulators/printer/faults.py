"""Which communication faults are injected into the printer simulator (pure state).

The server consults this on every request; the decision functions are pure so
they can be tested without a socket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes

from shopfloor.models.plant import ModbusSignal
from shopfloor.simulators.printer.registers import Override


@dataclass(frozen=True, slots=True)
class ExceptionRule:
    signals: frozenset[str] | None  # None: every request
    code: ExcCodes


@dataclass(slots=True)
class FaultState:
    stalled: bool = False
    exceptions: list[ExceptionRule] = field(default_factory=list)
    values: dict[str, Override] = field(default_factory=dict)  # injected garbage, by signal name

    def exception_for(self, touched: Iterable[ModbusSignal]) -> ExcCodes | None:
        """The exception code a request touching these signals gets, if any (latest rule wins)."""
        names = {s.name for s in touched}
        for rule in reversed(self.exceptions):
            if rule.signals is None or rule.signals & names:
                return rule.code
        return None

    def clear(self) -> None:
        self.stalled = False
        self.exceptions.clear()
        self.values.clear()


def exception_code(code: int) -> ExcCodes:
    """Validate a Modbus exception code (the ones pymodbus can send)."""
    try:
        return ExcCodes(code)
    except ValueError:
        allowed = ", ".join(f"{c.value} ({c.name.lower()})" for c in ExcCodes)
        raise ValueError(f"Modbus exception code {code!r} is not one of {allowed}") from None
