"""What a real pymodbus client reads over loopback equals the process model."""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient

from shopfloor.models.plant import Plant, plant_from_dict
from shopfloor.models.registers import DataType
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.printer.server import PrinterSimulator
from tests.simulators.printer._wire import read_signal, read_words

ORDERS = {"ABCD": ("big", "big"), "CDAB": ("little", "big"), "BADC": ("big", "little"), "DCBA": ("little", "little")}
# Raw values whose bytes are all different, so any order mistake shows; 64-bit ones stay below
# 2^53 so the engineering value (raw × scale + offset) is exact in a float.
RAW = {
    "int16": -0x1234,
    "uint16": 0xBEEF,
    "int32": -0x12345678,
    "uint32": 0xDEADBEEF,
    "int64": -0x123456789ABCDE,
    "uint64": 0x1A3456789ABCDE,
    "float32": -1234.5,
    "float64": -98765.4321,
}


def default_raw() -> dict[str, Any]:
    text = importlib.resources.files("shopfloor.models.plants").joinpath("mso_cpp_plant.toml").read_text("utf-8")
    return tomllib.loads(text)


def variant_plant(initial_printed_m: float = 0.0) -> Plant:
    """The default plant plus a test signal of every type in every order, with scale and offset."""
    raw = default_raw()
    signals = raw["printers"][0]["signals"]
    address = 200
    for type_name in RAW:
        for order, (word, byte) in ORDERS.items():
            count = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}.get(type_name, 4)
            signals.append(
                {
                    "name": f"t_{type_name}_{order.lower()}",
                    "register": "holding",
                    "address": address,
                    "type": type_name,
                    "word_order": word,
                    "byte_order": byte,
                    "scale": 0.5 if type_name.startswith(("int", "uint")) else 2.0,
                    "offset": -10.0,
                }
            )
            address += count
    signals.append({"name": "t_coil", "register": "coil", "address": 7, "type": "bool"})
    signals.append({"name": "t_input_bit", "register": "discrete_input", "address": 9, "type": "bool"})
    raw["simulation"]["printer"]["initial_printed_m"] = initial_printed_m
    return plant_from_dict(raw)


def engineering(signal_type: str, scale: float, offset: float) -> float:
    return RAW[signal_type] * scale + offset


@pytest.fixture
async def variant(clock: ManualClock) -> AsyncIterator[tuple[PrinterSimulator, AsyncModbusTcpClient]]:
    async with PrinterSimulator(variant_plant(), host="127.0.0.1", port=0, seed=3, clock=clock) as sim:
        client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=5, retries=0)
        assert await client.connect()
        try:
            yield sim, client
        finally:
            client.close()


async def test_every_type_and_order_decodes_to_the_pinned_value(
    variant: tuple[PrinterSimulator, AsyncModbusTcpClient],
) -> None:
    sim, client = variant
    test_signals = [s for s in sim.printer.signals if s.name.startswith("t_")]
    assert len(test_signals) == 8 * 4 + 2
    for signal in test_signals:
        if signal.type is DataType.BOOL:
            continue
        value = engineering(signal.type.value, signal.scale, signal.offset)
        sim.set_override(signal.name, value)
        decoded = await read_signal(client, signal)
        if signal.type is DataType.FLOAT32:
            assert decoded == pytest.approx(value, rel=1e-6), signal.name
        else:
            assert decoded == value, signal.name
    for signal in (sim.printer.signal("t_coil"), sim.printer.signal("t_input_bit")):
        for value in (1.0, 0.0, 1.0):
            sim.set_override(signal.name, value)
            assert await read_signal(client, signal) == value
    # Unknown to the model and not pinned: served as engineering 0.
    sim.clear_override("t_int16_abcd")
    assert await read_signal(client, sim.printer.signal("t_int16_abcd")) == 0.0


async def test_word_and_byte_orders_match_the_vendor_names(
    variant: tuple[PrinterSimulator, AsyncModbusTcpClient],
) -> None:
    """Hand-written words for 0xDEADBEEF, independent of the shared codec."""
    sim, client = variant
    expected = {"abcd": [0xDEAD, 0xBEEF], "cdab": [0xBEEF, 0xDEAD], "badc": [0xADDE, 0xEFBE], "dcba": [0xEFBE, 0xADDE]}
    for order, words in expected.items():
        signal = sim.printer.signal(f"t_uint32_{order}")
        sim.set_override(signal.name, engineering("uint32", signal.scale, signal.offset))
        assert await read_words(client, signal) == words, order


async def test_default_map_matches_the_model_at_the_same_step(
    sim: PrinterSimulator,
    client: AsyncModbusTcpClient,
    clock: ManualClock,
) -> None:
    for hours in (0.5, 3.0, 7.5):  # includes the 10:00 break and some stops
        clock.advance(hours * 3600)
        await sim.wait_caught_up()
        expected = sim.process.values()
        for signal in sim.printer.signals:
            decoded = await read_signal(client, signal)
            if signal.type in (DataType.FLOAT32,):
                assert decoded == pytest.approx(expected[signal.name], rel=1e-6, abs=1e-6), signal.name
            else:
                # Integer registers hold the value to their resolution (scale).
                assert abs(decoded - expected[signal.name]) <= abs(signal.scale) / 2 + 1e-9, signal.name
        assert sim.process.now_ns == clock.now_ns()


async def test_metres_counter_wraps_while_the_true_total_grows(clock: ManualClock) -> None:
    signal_scale = 0.1
    wrap_m = (1 << 32) * signal_scale
    plant = variant_plant(initial_printed_m=wrap_m - 60.0)
    async with PrinterSimulator(plant, host="127.0.0.1", port=0, seed=3, clock=clock) as sim:
        client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=5, retries=0)
        assert await client.connect()
        try:
            signal = sim.printer.signal("printed_m_total")
            readings = []
            for _ in range(4):  # 4 × 20 s at 80 m/min = 4 × 26.7 m: crosses the wrap
                clock.advance(20)
                await sim.wait_caught_up()
                readings.append((await read_signal(client, signal), sim.process.values()["printed_m_total"]))
        finally:
            client.close()
    served = [r for r, _ in readings]
    totals = [t for _, t in readings]
    assert totals == sorted(totals) and totals[-1] > wrap_m  # the model's exact total keeps growing
    assert served[0] > wrap_m - 60 and served[-1] < 100  # the register wrapped
    for got, total in readings:
        assert got == pytest.approx(total % wrap_m, abs=0.051)
