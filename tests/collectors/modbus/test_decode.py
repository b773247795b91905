"""Decoding responses into readings: values, quality rules, batches."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.collectors.modbus.decode import (
    Reading,
    decode_response,
    decode_signal,
    exception_detail,
    fail_request,
    readings_to_batch,
)
from shopfloor.collectors.modbus.plan import PlanLimits, plan_printer, plan_requests
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.plant import ModbusSignal, load_plant
from shopfloor.models.registers import ByteOrder, DataType, encode, integer_range
from shopfloor.models.states import Quality


def signal(**raw: Any) -> ModbusSignal:
    base = {"name": "x", "register": "holding", "address": 0, "type": "uint16"}
    return ModbusSignal.model_validate(base | raw)


@st.composite
def signal_and_value(draw: st.DrawFn) -> tuple[ModbusSignal, float]:
    data_type = draw(st.sampled_from([t for t in DataType if t is not DataType.BOOL]))
    scale = draw(st.sampled_from([1.0, 0.1, 0.001, -2.0]))
    offset = draw(st.sampled_from([0.0, -40.0, 1000.0]))
    s = signal(
        type=data_type.value,
        scale=scale,
        offset=offset,
        word_order=draw(st.sampled_from(list(ByteOrder))).value,
        byte_order=draw(st.sampled_from(list(ByteOrder))).value,
    )
    if data_type in (DataType.FLOAT32, DataType.FLOAT64):
        raw = draw(st.floats(-1e6, 1e6, allow_nan=False, width=32 if data_type is DataType.FLOAT32 else 64))
    else:
        low, high = integer_range(data_type)
        raw = draw(st.integers(max(low, -(2**52)), min(high, 2**52)))
    return s, raw * scale + offset


@settings(max_examples=300, deadline=None)
@given(signal_and_value())
def test_encoded_value_decodes_back_as_good(case: tuple[ModbusSignal, float]) -> None:
    s, value = case
    words = encode(value, s.type, scale=s.scale, offset=s.offset, word_order=s.word_order, byte_order=s.byte_order)
    reading = decode_signal(s, words)
    assert reading.quality is Quality.GOOD, reading
    assert reading.value is not None
    assert math.isclose(reading.value, value, rel_tol=1e-6, abs_tol=abs(s.scale) * 1e-6 + 1e-9)


def test_known_words() -> None:
    # 0x42C80000 is 100.0 as float32 ABCD; CDAB swaps the words.
    assert decode_signal(signal(type="float32"), [0x42C8, 0x0000]).value == 100.0
    assert decode_signal(signal(type="float32", word_order="little"), [0x0000, 0x42C8]).value == 100.0
    assert decode_signal(signal(type="int16", scale=0.1), [0xFFF6]).value == pytest.approx(-1.0)
    assert decode_signal(signal(type="uint32", scale=0.1), [0x0001, 0x0000]).value == pytest.approx(6553.6)


@pytest.mark.parametrize(
    ("low", "high", "value", "quality"),
    [
        (0, 200, 200.0, Quality.GOOD),
        (0, 200, 200.5, Quality.BAD_OUT_OF_RANGE),
        (0, 200, -0.5, Quality.BAD_OUT_OF_RANGE),
        (None, 200, -1e6, Quality.GOOD),
        (0, None, 1e30, Quality.GOOD),
    ],
)
def test_range(low: float | None, high: float | None, value: float, quality: Quality) -> None:
    s = signal(type="float32", min=low, max=high)
    reading = decode_signal(s, encode(value, DataType.FLOAT32))
    assert reading.quality is quality
    if quality is Quality.GOOD:
        assert reading.value == pytest.approx(value, rel=1e-6)
    else:
        assert reading.value is None
        assert "outside" in reading.detail


@pytest.mark.parametrize("bits", [0x7FC00000, 0x7F800000, 0xFF800000])  # NaN, +inf, -inf
def test_nan_and_inf_are_decode_errors(bits: int) -> None:
    words = [bits >> 16, bits & 0xFFFF]
    reading = decode_signal(signal(type="float32"), words)
    assert (reading.value, reading.quality) == (None, Quality.BAD_DECODE)


def test_float64_nan() -> None:
    payload = struct.pack(">d", float("nan"))
    words = [int.from_bytes(payload[i : i + 2], "big") for i in range(0, 8, 2)]
    assert decode_signal(signal(type="float64"), words).quality is Quality.BAD_DECODE


def test_short_read_and_bad_words() -> None:
    assert decode_signal(signal(type="uint32"), [1]).quality is Quality.BAD_DECODE
    assert decode_signal(signal(type="uint16"), [70000]).quality is Quality.BAD_DECODE


def test_response_is_split_by_address() -> None:
    printer = load_plant().printers[0]
    values = {s.name: (s.min if s.min is not None else 0) + 7 * s.scale for s in printer.signals}
    for request in plan_printer(printer):
        words = [0] * (request.count + (7 if request.table.is_bit else 0))  # bits come padded to a byte
        for s in request.signals:
            first = s.address - request.address
            words[first : first + s.count] = encode(
                values[s.name], s.type, scale=s.scale, offset=s.offset, word_order=s.word_order, byte_order=s.byte_order
            )
        readings = decode_response(request, words)
        assert [r.signal for r in readings] == [s.name for s in request.signals]
        for r in readings:
            expected = (
                (1.0 if values[r.signal] else 0.0)
                if printer.signal(r.signal).type is DataType.BOOL
                else values[r.signal]
            )
            assert r.quality is Quality.GOOD
            assert r.value == pytest.approx(expected, rel=1e-9)


def test_truncated_response_marks_the_missing_signals() -> None:
    a = signal(name="a", address=0, type="uint16")
    b = signal(name="b", address=1, type="uint32")
    (request,) = plan_requests([a, b], PlanLimits())
    readings = decode_response(request, [5, 1])  # b lacks its second word
    assert readings[0] == Reading("a", 5.0, Quality.GOOD)
    assert readings[1].quality is Quality.BAD_DECODE and readings[1].value is None


def test_failed_request_and_exception_detail() -> None:
    (request,) = plan_requests([signal(name="a"), signal(name="b", address=1)], PlanLimits())
    readings = fail_request(request, Quality.BAD_DEVICE_EXCEPTION, exception_detail(request, 2))
    assert [(r.signal, r.value, r.quality) for r in readings] == [
        ("a", None, Quality.BAD_DEVICE_EXCEPTION),
        ("b", None, Quality.BAD_DEVICE_EXCEPTION),
    ]
    assert readings[0].detail == "exception code 2 (illegal data address) on FC3 holding 0..1"
    with pytest.raises(ValueError):
        fail_request(request, Quality.GOOD, "")


def test_batch_has_one_timestamp_and_no_bad_values() -> None:
    readings = [Reading("a", 1.5, Quality.GOOD), Reading("b", None, Quality.BAD_OUT_OF_RANGE, "999 outside")]
    batch = readings_to_batch("mso-cpp-1", 123, readings)
    assert batch.measurement == MEASUREMENT_PRINTER
    assert batch.ts_ns.tolist() == [123, 123]
    assert batch.equipment.tolist() == ["mso-cpp-1", "mso-cpp-1"]
    assert batch.field.tolist() == ["a", "b"]
    assert batch.value[0] == 1.5 and np.isnan(batch.value[1])
    assert batch.quality.tolist() == [Quality.GOOD, Quality.BAD_OUT_OF_RANGE]
    assert batch.detail.tolist() == ["", "999 outside"]
