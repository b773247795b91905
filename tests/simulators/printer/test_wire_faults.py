"""Every injected fault is seen by a real client over loopback; clear_faults restores service."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from shopfloor.models.plant import Plant, RegisterKind
from shopfloor.models.registers import RegisterDecodeError
from shopfloor.models.states import PrinterState
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.printer.server import PrinterSimulator
from tests.fixtures.waiting import async_wait_until as until
from tests.simulators.printer._wire import read_response, read_signal, read_words


async def read_ok(client: AsyncModbusTcpClient, sim: PrinterSimulator, name: str, timeout_s: float = 15.0) -> float:
    """Read until the server answers (after a fault a client may need a reconnect)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await read_signal(client, sim.printer.signal(name))
        except (ModbusIOException, AssertionError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_dropped_connection_is_seen_and_the_server_keeps_listening(sim: PrinterSimulator) -> None:
    events: list[bool] = []
    client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=5, retries=0, trace_connect=events.append)
    assert await client.connect()
    try:
        assert await read_ok(client, sim, "state") == sim.process.values()["state"]
        await until(lambda: sim.connections == 1, what="the server to register the connection")
        assert sim.inject_drop_connections() == 1
        await until(lambda: False in events, what="the client to see the disconnect")
        # The listener is still up: a fresh client connects and reads.
        fresh = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=5, retries=0)
        assert await fresh.connect()
        assert await read_ok(fresh, sim, "state") == sim.process.values()["state"]
        fresh.close()
    finally:
        client.close()


async def test_stall_times_out_and_clearing_restores_answers(sim: PrinterSimulator) -> None:
    client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=0.5, retries=0)
    assert await client.connect()
    try:
        speed = sim.printer.signal("speed_m_min")
        sim.inject_stall(True)
        started = time.monotonic()
        with pytest.raises(ModbusIOException):
            await read_signal(client, speed)
        assert time.monotonic() - started >= 0.45  # it waited for an answer that never came
        assert sim.connections >= 1  # stalled, not disconnected
        sim.clear_faults()
        assert await read_ok(client, sim, "speed_m_min") == pytest.approx(sim.process.values()["speed_m_min"])
    finally:
        client.close()


@pytest.mark.parametrize("code", [2, 4])
async def test_exception_codes_reach_the_client(sim: PrinterSimulator, client: AsyncModbusTcpClient, code: int) -> None:
    sim.inject_exception(["speed_m_min"], code)
    response = await read_response(client, RegisterKind.HOLDING, 0, 6)  # state .. setpoint: covers speed
    assert response.isError() and response.exception_code == code
    # A request that does not touch the signal is answered normally.
    assert await read_signal(client, sim.printer.signal("state")) == sim.process.values()["state"]
    sim.inject_exception(None, code)
    response = await read_response(client, RegisterKind.INPUT, 0, 1)
    assert response.isError() and response.exception_code == code
    sim.clear_faults()
    assert not (await read_response(client, RegisterKind.HOLDING, 0, 6)).isError()


def test_bad_injections_are_refused_with_a_clear_error(sim: PrinterSimulator) -> None:
    with pytest.raises(ValueError, match="not one of"):
        sim.inject_exception(None, 9)
    with pytest.raises(KeyError, match="no signal 'nope'"):
        sim.inject_exception(["nope"], 2)
    with pytest.raises(KeyError, match="no signal"):
        sim.inject_value("nope", 1.0)
    with pytest.raises(ValueError, match="needs 1 words"):
        sim.inject_value("state", [1, 2])


async def test_garbage_values_decode_as_garbage_until_cleared(
    sim: PrinterSimulator,
    client: AsyncModbusTcpClient,
) -> None:
    speed = sim.printer.signal("speed_m_min")
    sim.inject_value("speed_m_min", [0x7FC0, 0x0000])  # float32 quiet NaN
    assert await read_words(client, speed) == [0x7FC0, 0x0000]
    with pytest.raises(RegisterDecodeError):
        await read_signal(client, speed)
    sim.inject_value("power_kw", math.inf)
    with pytest.raises(RegisterDecodeError):
        await read_signal(client, sim.printer.signal("power_kw"))
    dryer = sim.printer.signal("dryer_1_temp_c")
    sim.inject_value("dryer_1_temp_c", 999.0)  # out of the declared range
    got = await read_signal(client, dryer)
    assert got == pytest.approx(999.0) and dryer.max is not None and got > dryer.max
    sim.inject_value("state", [0xFFFF])
    assert await read_signal(client, sim.printer.signal("state")) == 65535
    sim.clear_faults()
    values = sim.process.values()
    assert await read_signal(client, speed) == pytest.approx(values["speed_m_min"])
    assert await read_signal(client, dryer) == pytest.approx(values["dryer_1_temp_c"], abs=0.05)
    assert await read_signal(client, sim.printer.signal("state")) == values["state"]


async def test_override_pins_until_cleared(sim: PrinterSimulator, client: AsyncModbusTcpClient) -> None:
    sim.set_override("speed_m_min", -12.25)
    assert await read_signal(client, sim.printer.signal("speed_m_min")) == -12.25
    sim.clear_faults()  # an override is not a fault
    assert await read_signal(client, sim.printer.signal("speed_m_min")) == -12.25
    sim.clear_override("speed_m_min")
    assert await read_signal(client, sim.printer.signal("speed_m_min")) == pytest.approx(
        sim.process.values()["speed_m_min"]
    )


async def test_emergency_stop_is_served(sim: PrinterSimulator, client: AsyncModbusTcpClient) -> None:
    sim.inject_emergency_stop(True)
    assert await read_signal(client, sim.printer.signal("emergency_stop")) == 1.0
    assert await read_signal(client, sim.printer.signal("state")) == PrinterState.HELD
    assert await read_signal(client, sim.printer.signal("running")) == 0.0
    sim.clear_faults()
    assert await read_signal(client, sim.printer.signal("emergency_stop")) == 0.0
    assert await read_signal(client, sim.printer.signal("state")) == PrinterState.RUNNING


async def test_only_the_printer_unit_is_served_and_writes_are_refused(
    sim: PrinterSimulator,
    client: AsyncModbusTcpClient,
) -> None:
    wrong = await read_response(client, RegisterKind.HOLDING, 0, 1, unit=sim.unit_id + 1)
    assert wrong.isError() and wrong.exception_code == 0x0B  # gateway target failed to respond
    past_end = await read_response(client, RegisterKind.HOLDING, 200, 2)
    assert past_end.isError() and past_end.exception_code == 2
    write = await client.write_register(4, 100, device_id=sim.unit_id)
    assert write.isError() and write.exception_code == 1
    assert await read_signal(client, sim.printer.signal("speed_setpoint_m_min")) == pytest.approx(80.0)


async def test_a_failed_model_is_served_as_device_failure_not_frozen_values(plant: Plant, clock: ManualClock) -> None:
    sim = PrinterSimulator(plant, host="127.0.0.1", port=0, seed=1, clock=clock)
    await sim.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=5, retries=0)
    assert await client.connect()
    try:
        sim.process.step()  # out of band: the next fixed step no longer follows, so the model stops
        clock.advance(5)
        with pytest.raises(RuntimeError, match="not running"):
            await sim.wait_caught_up()
        response = await read_response(client, RegisterKind.HOLDING, 0, 1)
        assert response.isError() and response.exception_code == 4
    finally:
        client.close()
        with pytest.raises(ValueError, match="expected a step"):
            await sim.stop()
    assert sim.connections == 0
