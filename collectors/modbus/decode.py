"""Decoding one request's response into per-signal readings. Pure, no I/O.

Quality rules (only GOOD readings carry a value; see models.states.Quality):

* words decode with :func:`models.registers.decode` (type, word/byte order,
  scale, offset) to a finite number inside the signal's ``[min, max]`` → GOOD;
* outside ``[min, max]`` → BAD_OUT_OF_RANGE (detail keeps the decoded number,
  so an engineer can see what the device sent, but it is never a value);
* NaN, ±inf, a word outside 0..65535, or a response too short to hold the
  signal → BAD_DECODE;
* a request that failed as a whole marks every signal it serves with the
  caller's quality (BAD_DEVICE_EXCEPTION, BAD_NO_COMMUNICATION).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from shopfloor.collectors.modbus.plan import ReadRequest
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.plant import ModbusSignal
from shopfloor.models.registers import RegisterDecodeError, decode
from shopfloor.models.samples import SampleBatch
from shopfloor.models.states import Quality

# Modbus exception codes (Modbus Application Protocol v1.1b3, section 7).
EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


@dataclass(frozen=True, slots=True)
class Reading:
    """One signal of one poll: a value when GOOD, else why not."""

    signal: str
    value: float | None
    quality: Quality
    detail: str = ""


def decode_signal(signal: ModbusSignal, words: Sequence[int | bool]) -> Reading:
    """Words (or bits) of exactly this signal → a reading with its quality."""
    if len(words) != signal.count:
        return Reading(signal.name, None, Quality.BAD_DECODE, f"short read: {len(words)} of {signal.count} registers")
    try:
        value = decode(
            [int(w) for w in words],
            signal.type,
            scale=signal.scale,
            offset=signal.offset,
            word_order=signal.word_order,
            byte_order=signal.byte_order,
        )
    except RegisterDecodeError as exc:
        return Reading(signal.name, None, Quality.BAD_DECODE, str(exc))
    if not math.isfinite(value):  # decode() already refuses these; kept so no path can store one
        return Reading(signal.name, None, Quality.BAD_DECODE, f"not a finite number: {value!r}")
    if (signal.min is not None and value < signal.min) or (signal.max is not None and value > signal.max):
        return Reading(signal.name, None, Quality.BAD_OUT_OF_RANGE, f"{value!r} outside [{signal.min}, {signal.max}]")
    return Reading(signal.name, value, Quality.GOOD)


def decode_response(request: ReadRequest, words: Sequence[int | bool]) -> list[Reading]:
    """Split a response (registers, or bits padded to a byte by the protocol) into readings."""
    readings = []
    for signal in request.signals:
        first = signal.address - request.address
        readings.append(decode_signal(signal, words[first : first + signal.count]))
    return readings


def fail_request(request: ReadRequest, quality: Quality, detail: str) -> list[Reading]:
    """Every signal the request serves, marked bad with the same reason."""
    if quality is Quality.GOOD:
        raise ValueError("a failed request cannot yield GOOD readings")
    return [Reading(signal.name, None, quality, detail) for signal in request.signals]


def exception_detail(request: ReadRequest, code: int) -> str:
    name = EXCEPTION_NAMES.get(code, "unknown exception")
    return f"exception code {code} ({name}) on {request.describe()}"


def readings_to_batch(equipment: str, ts_ns: int, readings: Iterable[Reading]) -> SampleBatch:
    """One ``printer`` batch with one timestamp for every reading of a poll."""
    rows = list(readings)
    n = len(rows)
    return SampleBatch(
        measurement=MEASUREMENT_PRINTER,
        ts_ns=np.full(n, ts_ns, dtype=np.int64),
        equipment=np.array([equipment] * n, dtype=object),
        field=np.array([r.signal for r in rows], dtype=object),
        value=np.array(
            [r.value if r.quality is Quality.GOOD and r.value is not None else np.nan for r in rows], dtype=np.float64
        ),
        quality=np.array([int(r.quality) for r in rows], dtype=np.uint8),
        detail=np.array([r.detail for r in rows], dtype=object),
    )
