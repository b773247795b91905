"""Pure encoding and decoding of Modbus register values.

The simulator encodes with these functions and the collector decodes with
them, so a register map declared once in the plant file means the same thing
on both sides. No I/O here.

Conventions (the ones PLC vendors document as "ABCD", "CDAB", "BADC", "DCBA"):

* ``byte_order`` is the order of the two bytes inside each 16-bit register:
  ``big`` = high byte first (the Modbus standard), ``little`` = swapped.
* ``word_order`` is the order of the registers of a multi-register value:
  ``big`` = most significant register at the lowest address, ``little`` =
  least significant first (common on Schneider and Siemens float32).

So float32 ABCD = (word big, byte big), CDAB = (word little, byte big),
BADC = (word big, byte little), DCBA = (word little, byte little).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from enum import StrEnum


class DataType(StrEnum):
    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"


class ByteOrder(StrEnum):
    BIG = "big"
    LITTLE = "little"


# struct format (big-endian) and number of 16-bit registers per type
_STRUCT: dict[DataType, tuple[str, int]] = {
    DataType.INT16: (">h", 1),
    DataType.UINT16: (">H", 1),
    DataType.INT32: (">i", 2),
    DataType.UINT32: (">I", 2),
    DataType.INT64: (">q", 4),
    DataType.UINT64: (">Q", 4),
    DataType.FLOAT32: (">f", 2),
    DataType.FLOAT64: (">d", 4),
}

INTEGER_TYPES = frozenset(
    {DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32, DataType.INT64, DataType.UINT64}
)
FLOAT_TYPES = frozenset({DataType.FLOAT32, DataType.FLOAT64})


class RegisterDecodeError(ValueError):
    """The registers cannot hold a value of the declared type."""


def register_count(data_type: DataType) -> int:
    """Number of 16-bit registers (or of bits, for BOOL: 1) a value occupies."""
    if data_type is DataType.BOOL:
        return 1
    return _STRUCT[data_type][1]


def integer_bits(data_type: DataType) -> int:
    """Width in bits of an integer type (used for counter wrap-around)."""
    if data_type not in INTEGER_TYPES:
        raise ValueError(f"{data_type} is not an integer type")
    return 16 * _STRUCT[data_type][1]


def integer_range(data_type: DataType) -> tuple[int, int]:
    bits = integer_bits(data_type)
    if data_type.value.startswith("u"):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _swap_bytes(word: int) -> int:
    return ((word & 0xFF) << 8) | (word >> 8)


def raw_to_registers(
    raw: int | float, data_type: DataType, word_order: ByteOrder = ByteOrder.BIG, byte_order: ByteOrder = ByteOrder.BIG
) -> list[int]:
    """Pack a raw (unscaled) number into registers in the given word/byte order."""
    fmt, count = _STRUCT[data_type]
    payload = struct.pack(fmt, raw)
    words = [int.from_bytes(payload[2 * i : 2 * i + 2], "big") for i in range(count)]
    if word_order is ByteOrder.LITTLE:
        words.reverse()
    if byte_order is ByteOrder.LITTLE:
        words = [_swap_bytes(w) for w in words]
    return words


def registers_to_raw(
    words: Sequence[int],
    data_type: DataType,
    word_order: ByteOrder = ByteOrder.BIG,
    byte_order: ByteOrder = ByteOrder.BIG,
) -> int | float:
    """Inverse of :func:`raw_to_registers`."""
    fmt, count = _STRUCT[data_type]
    if len(words) != count:
        raise RegisterDecodeError(f"{data_type} needs {count} registers, got {len(words)}")
    ordered = list(words)
    if any(not 0 <= w <= 0xFFFF for w in ordered):
        raise RegisterDecodeError(f"register value out of 0..65535 in {ordered}")
    if byte_order is ByteOrder.LITTLE:
        ordered = [_swap_bytes(w) for w in ordered]
    if word_order is ByteOrder.LITTLE:
        ordered.reverse()
    payload = b"".join(w.to_bytes(2, "big") for w in ordered)
    return struct.unpack(fmt, payload)[0]


def engineering_to_raw(value: float, data_type: DataType, scale: float, offset: float) -> int | float:
    """Engineering value -> raw register number: raw = (value - offset) / scale.

    Integers are rounded to the nearest count and must fit the type; a
    counter that has to wrap is wrapped by the caller (it knows it is one).
    """
    raw = (value - offset) / scale
    if data_type in FLOAT_TYPES:
        return raw
    rounded = round(raw)
    low, high = integer_range(data_type)
    if not low <= rounded <= high:
        raise OverflowError(f"{value} needs raw {rounded}, outside {data_type} range {low}..{high}")
    return rounded


def raw_to_engineering(raw: int | float, scale: float, offset: float) -> float:
    """Raw register number -> engineering value: value = raw * scale + offset."""
    return float(raw) * scale + offset


def encode(
    value: float,
    data_type: DataType,
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    word_order: ByteOrder = ByteOrder.BIG,
    byte_order: ByteOrder = ByteOrder.BIG,
) -> list[int]:
    """Engineering value -> list of register words (BOOL -> [0|1])."""
    if data_type is DataType.BOOL:
        return [1 if value else 0]
    raw = engineering_to_raw(value, data_type, scale, offset)
    return raw_to_registers(raw, data_type, word_order, byte_order)


def decode(
    words: Sequence[int],
    data_type: DataType,
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    word_order: ByteOrder = ByteOrder.BIG,
    byte_order: ByteOrder = ByteOrder.BIG,
) -> float:
    """Register words -> engineering value. Raises RegisterDecodeError on NaN/inf."""
    if data_type is DataType.BOOL:
        if len(words) != 1:
            raise RegisterDecodeError(f"bool needs 1 bit, got {len(words)}")
        return 1.0 if words[0] else 0.0
    raw = registers_to_raw(words, data_type, word_order, byte_order)
    value = raw_to_engineering(raw, scale, offset)
    if not math.isfinite(value):
        raise RegisterDecodeError(f"decoded {data_type} is not a finite number: {raw!r}")
    return value
