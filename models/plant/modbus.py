"""Printers on Modbus TCP: the endpoint, the register map and its checks."""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from shopfloor.models.contract import PRINTER_FIELDS, PRINTER_ORDER_FIELDS
from shopfloor.models.plant.common import FieldName, FiniteFloat, Identifier, PositiveFloat, StrictModel, by_key
from shopfloor.models.registers import INTEGER_TYPES, ByteOrder, DataType, integer_bits, register_count


class RegisterKind(StrEnum):
    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"

    @property
    def is_bit(self) -> bool:
        return self in (RegisterKind.COIL, RegisterKind.DISCRETE_INPUT)


class ModbusSignal(StrictModel):
    name: FieldName
    unit: str = ""
    # "register" in the file; renamed here because pydantic reserves the name.
    table: RegisterKind = Field(alias="register")
    address: Annotated[int, Field(ge=0, le=65535)]
    type: DataType
    word_order: ByteOrder = ByteOrder.BIG
    byte_order: ByteOrder = ByteOrder.BIG
    scale: FiniteFloat = 1.0
    offset: FiniteFloat = 0.0
    min: FiniteFloat | None = None  # engineering values outside [min, max] are BAD_OUT_OF_RANGE
    max: FiniteFloat | None = None
    counter: bool = False  # a total that only grows, wrapping at the type's width
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ModbusSignal:
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        if self.table.is_bit and self.type is not DataType.BOOL:
            raise ValueError(f"a {self.table.value} holds one bit: type must be 'bool', got {self.type.value!r}")
        if self.type is DataType.BOOL and not self.table.is_bit:
            raise ValueError(f"type 'bool' needs register 'coil' or 'discrete_input', got {self.table.value!r}")
        if self.address + register_count(self.type) > 65536:
            raise ValueError(f"address {self.address} + {register_count(self.type)} registers runs past 65535")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.counter and self.type in (DataType.BOOL, DataType.FLOAT32, DataType.FLOAT64):
            # A float total never wraps exactly; counters are integer registers.
            raise ValueError(f"counter signals must be integer types, got {self.type.value!r}")
        return self

    @property
    def count(self) -> int:
        """Registers (or bits) this signal occupies."""
        return register_count(self.type)

    @property
    def end_address(self) -> int:
        """One past the last address used."""
        return self.address + self.count

    @property
    def wrap_m(self) -> float | None:
        """Engineering span after which a counter wraps to zero (None if not a counter)."""
        if not self.counter:
            return None
        return (1 << integer_bits(self.type)) * abs(self.scale)


class ModbusEndpoint(StrictModel):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    unit_id: Annotated[int, Field(ge=0, le=255)] = 1
    timeout_s: PositiveFloat = 1.0
    poll_interval_s: PositiveFloat = 1.0
    max_registers_per_request: Annotated[int, Field(ge=1, le=125)] = 125
    max_bits_per_request: Annotated[int, Field(ge=1, le=2000)] = 2000
    # Unused registers the collector may read over to merge two requests into one.
    max_gap_registers: Annotated[int, Field(ge=0, le=124)] = 8
    # Longest wait between reconnect attempts: a device back after an outage is polled again within
    # this plus one poll interval; a device that stays down sees one attempt per this many seconds.
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    # The collector never writes to a PLC unless this is true.
    write_enabled: bool = False


class Printer(StrictModel):
    id: Identifier
    name: str
    name_zh: str
    model: str = "MSO-CPP"
    ideal_speed_m_min: PositiveFloat  # ISO 22400 ideal rate, for performance
    # Metres to print in the plant's year ([plant] year_start_month); None: no year-to-date target.
    annual_target_m: PositiveFloat | None = None
    modbus: ModbusEndpoint
    signals: Annotated[list[ModbusSignal], Field(min_length=1)]

    @model_validator(mode="after")
    def _signals_complete_and_disjoint(self) -> Printer:
        names = [s.name for s in self.signals]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"signal names must be unique, repeated: {', '.join(duplicates)}")
        missing = [f.name for f in PRINTER_FIELDS if f.name not in names]
        if missing:
            raise ValueError(f"missing required signals: {', '.join(missing)} (see docs/data-contract.md)")
        for spec in PRINTER_FIELDS:
            signal = self.signal(spec.name)
            if spec.counter and not signal.counter:
                raise ValueError(f"signal {spec.name!r} is a total: set counter = true")
        for spec in PRINTER_ORDER_FIELDS:
            if spec.name not in names:
                continue  # optional: a line without order registers measures every metre at ideal_speed_m_min
            signal = self.signal(spec.name)
            if signal.type not in INTEGER_TYPES or signal.counter or signal.scale != 1 or signal.offset != 0:
                raise ValueError(
                    f"signal {spec.name!r} holds a code: an integer type with scale 1, offset 0 and counter = false"
                    f" (see docs/data-contract.md), got {signal.type.value}"
                )
        by_table: dict[RegisterKind, list[ModbusSignal]] = {}
        for signal in self.signals:
            by_table.setdefault(signal.table, []).append(signal)
        for table, signals in by_table.items():
            signals.sort(key=lambda s: s.address)
            for before, after in itertools.pairwise(signals):
                if after.address < before.end_address:
                    raise ValueError(
                        f"{table.value} registers of {before.name!r} ({before.address}..{before.end_address - 1})"
                        f" and {after.name!r} ({after.address}..{after.end_address - 1}) overlap"
                    )
        return self

    def signal(self, name: str) -> ModbusSignal:
        return by_key(self.signals, name, lambda s: s.name, f"printer {self.id!r} has no signal {name!r}")
