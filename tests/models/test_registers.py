"""Register codec: published vendor byte layouts, and encode/decode round trips."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopfloor.models.registers import (
    ByteOrder,
    DataType,
    RegisterDecodeError,
    decode,
    encode,
    integer_range,
    raw_to_registers,
    registers_to_raw,
)

BIG, LITTLE = ByteOrder.BIG, ByteOrder.LITTLE


# The float 123456.0 is 0x47F12000 (IEEE 754). Vendors document the four
# layouts of a 32-bit value by the letters of its bytes A B C D = 47 F1 20 00.
@pytest.mark.parametrize(
    ("word_order", "byte_order", "expected"),
    [
        (BIG, BIG, [0x47F1, 0x2000]),  # ABCD
        (LITTLE, BIG, [0x2000, 0x47F1]),  # CDAB
        (BIG, LITTLE, [0xF147, 0x0020]),  # BADC
        (LITTLE, LITTLE, [0x0020, 0xF147]),  # DCBA
    ],
)
def test_float32_layouts_match_vendor_documentation(
    word_order: ByteOrder, byte_order: ByteOrder, expected: list[int]
) -> None:
    assert struct.pack(">f", 123456.0).hex() == "47f12000"
    assert raw_to_registers(123456.0, DataType.FLOAT32, word_order, byte_order) == expected
    assert registers_to_raw(expected, DataType.FLOAT32, word_order, byte_order) == 123456.0


def test_int64_word_order_little_reverses_all_four_registers() -> None:
    value = 0x0102_0304_0506_0708
    assert raw_to_registers(value, DataType.INT64) == [0x0102, 0x0304, 0x0506, 0x0708]
    assert raw_to_registers(value, DataType.INT64, LITTLE) == [0x0708, 0x0506, 0x0304, 0x0102]
    assert raw_to_registers(value, DataType.INT64, LITTLE, LITTLE) == [0x0807, 0x0605, 0x0403, 0x0201]


def test_scale_and_offset_follow_value_equals_raw_times_scale_plus_offset() -> None:
    words = encode(-12.5, DataType.INT16, scale=0.1, offset=-10.0)
    assert words == [raw_to_registers(-25, DataType.INT16)[0]]  # (-12.5 - -10) / 0.1 = -25
    assert decode(words, DataType.INT16, scale=0.1, offset=-10.0) == pytest.approx(-12.5)


def test_out_of_range_integer_is_refused_not_truncated() -> None:
    with pytest.raises(OverflowError):
        encode(70000, DataType.UINT16)


def test_nan_float_is_a_decode_error_not_a_value() -> None:
    words = raw_to_registers(math.nan, DataType.FLOAT32)
    with pytest.raises(RegisterDecodeError):
        decode(words, DataType.FLOAT32)


def test_short_read_is_a_decode_error() -> None:
    with pytest.raises(RegisterDecodeError, match="needs 2 registers"):
        decode([1], DataType.UINT32)


orders = st.sampled_from([BIG, LITTLE])


@given(data=st.data(), data_type=st.sampled_from([t for t in DataType if t is not DataType.BOOL]), wo=orders, bo=orders)
def test_round_trip_every_type_and_order(
    data: st.DataObject, data_type: DataType, wo: ByteOrder, bo: ByteOrder
) -> None:
    if data_type in (DataType.FLOAT32, DataType.FLOAT64):
        width = 32 if data_type is DataType.FLOAT32 else 64
        raw = data.draw(st.floats(allow_nan=False, allow_infinity=False, width=width))
    else:
        low, high = integer_range(data_type)
        raw = data.draw(st.integers(low, high))
    words = raw_to_registers(raw, data_type, wo, bo)
    assert all(0 <= w <= 0xFFFF for w in words)
    assert registers_to_raw(words, data_type, wo, bo) == raw
