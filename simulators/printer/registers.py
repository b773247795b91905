"""The printer's four Modbus tables, filled from engineering values (pure, no I/O).

The layout comes from the plant file's register map only: each table is one
contiguous block from address 0 to the end of its last signal (gaps read as
0, as in a PLC data block); a read past the end is an illegal address.
Values are encoded with ``models.registers.encode``, the codec the collector
decodes with. Counters wrap modulo 2^bits of their type, as a PLC's counter
does; other values that do not fit their type are clamped (and logged once),
because a simulator must keep serving.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shopfloor.models.plant import ModbusSignal, Printer, RegisterKind
from shopfloor.models.registers import (
    FLOAT_TYPES,
    DataType,
    encode,
    integer_bits,
    integer_range,
    raw_to_registers,
    register_count,
)

log = logging.getLogger("shopfloor.simulators.printer")

# Modbus read function code -> table it reads (writes are refused by the server).
READ_FUNCTION_TABLES: dict[int, RegisterKind] = {
    1: RegisterKind.COIL,
    2: RegisterKind.DISCRETE_INPUT,
    3: RegisterKind.HOLDING,
    4: RegisterKind.INPUT,
}


def encode_signal(signal: ModbusSignal, value: float) -> list[int]:
    """Engineering value -> words for this signal; counters wrap, others clamp."""
    if signal.type is DataType.BOOL:
        return [1 if value else 0]
    if signal.type in FLOAT_TYPES:
        return encode(
            value,
            signal.type,
            scale=signal.scale,
            offset=signal.offset,
            word_order=signal.word_order,
            byte_order=signal.byte_order,
        )
    if not math.isfinite(value):
        raise ValueError(f"{signal.name}: {value!r} cannot be encoded as {signal.type.value}; give raw registers")
    raw = round((value - signal.offset) / signal.scale)
    low, high = integer_range(signal.type)
    if signal.counter:
        bits = integer_bits(signal.type)
        raw %= 1 << bits
        if low < 0 and raw > high:  # two's complement of the wrapped count
            raw -= 1 << bits
    elif not low <= raw <= high:
        clamped = min(max(raw, low), high)
        _warn_once(signal.name, f"{signal.name}: raw {raw} outside {signal.type.value}, clamped to {clamped}")
        raw = clamped
    return raw_to_registers(raw, signal.type, signal.word_order, signal.byte_order)


_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message)


@dataclass(frozen=True, slots=True)
class Override:
    """What a signal serves instead of the model's value: an engineering value or raw words."""

    value: float | None = None
    words: tuple[int, ...] | None = None

    def encode(self, signal: ModbusSignal) -> list[int]:
        if self.words is not None:
            return list(self.words)
        assert self.value is not None
        return encode_signal(signal, self.value)


def make_override(signal: ModbusSignal, value: float | Sequence[int]) -> Override:
    """Validate an override now, so a bad one fails at the call, not on every refresh."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        override = Override(value=float(value))
    elif isinstance(value, bool):
        override = Override(value=1.0 if value else 0.0)
    else:
        words = tuple(int(w) for w in value)
        if len(words) != register_count(signal.type):
            needed = register_count(signal.type)
            raise ValueError(f"{signal.name} ({signal.type.value}) needs {needed} words, got {len(words)}")
        limit = 1 if signal.table.is_bit else 0xFFFF
        if any(not 0 <= w <= limit for w in words):
            raise ValueError(f"{signal.name}: words must be in 0..{limit}, got {list(words)}")
        override = Override(words=words)
    override.encode(signal)  # raises now if the value cannot be encoded
    return override


class RegisterTables:
    """The four tables of one printer, refreshed from a dict of engineering values."""

    def __init__(self, printer: Printer, known: Sequence[str]) -> None:
        self.printer = printer
        sizes: dict[RegisterKind, int] = dict.fromkeys(RegisterKind, 0)
        for signal in printer.signals:
            sizes[signal.table] = max(sizes[signal.table], signal.end_address)
        self.tables: dict[RegisterKind, list[int]] = {kind: [0] * size for kind, size in sizes.items()}
        self.unknown = [s.name for s in printer.signals if s.name not in known]
        if self.unknown:
            log.warning(
                "printer %s: the simulator does not model %s; they are served as 0", printer.id, ", ".join(self.unknown)
            )

    def refresh(self, values: Mapping[str, float], overrides: Mapping[str, Override]) -> None:
        for signal in self.printer.signals:
            override = overrides.get(signal.name)
            if override is not None:
                words = override.encode(signal)
            else:
                words = encode_signal(signal, values.get(signal.name, 0.0))
            self.tables[signal.table][signal.address : signal.end_address] = words

    def read(self, table: RegisterKind, address: int, count: int) -> list[int] | None:
        """Words (or bits as 0/1) at address..address+count-1, or None if out of the block."""
        block = self.tables[table]
        if count < 1 or address < 0 or address + count > len(block):
            return None
        return block[address : address + count]

    def signals_in(self, table: RegisterKind, address: int, count: int) -> list[ModbusSignal]:
        """Signals that a read of [address, address+count) touches, even partly."""
        end = address + count
        return [s for s in self.printer.signals if s.table is table and s.address < end and s.end_address > address]
