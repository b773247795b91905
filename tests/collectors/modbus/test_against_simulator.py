"""The Modbus poller against the printer simulator: what it stores is what the process model holds.

The simulator runs on a manual clock, so the model stands still while the
poller reads it and the comparison is exact to each register's resolution.
Faults are the simulator's own injections (exception codes, stalls, dropped
connections, a restart), seen through the collector.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from bench._ports import free_port
from shopfloor.collectors.modbus.poller import ModbusPoller
from shopfloor.models.plant import Plant, Printer, load_plant
from shopfloor.models.registers import DataType
from shopfloor.models.states import Quality
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.printer.server import PrinterSimulator
from tests.collectors.modbus.test_poller import ListSink, Running, tuned, values_of, wait_for

S = 1_000_000_000


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant()


@pytest.fixture
async def sim(plant: Plant) -> AsyncIterator[PrinterSimulator]:
    clock = ManualClock(start_ns=1_795_000_000 * S)
    async with PrinterSimulator(plant, host="127.0.0.1", port=0, seed=11, clock=clock) as simulator:
        yield simulator


def pointed_at(sim: PrinterSimulator, port: int | None = None) -> Printer:
    printer = tuned(sim.printer, poll_interval_s=0.1, timeout_s=0.5)
    return printer.model_copy(
        update={"modbus": printer.modbus.model_copy(update={"host": "127.0.0.1", "port": port or sim.port})}
    )


def assert_matches_model(sim: PrinterSimulator, values: dict[str, float]) -> None:
    expected = sim.process.values()
    for signal in sim.printer.signals:
        if signal.type in (DataType.FLOAT32, DataType.FLOAT64):
            assert values[signal.name] == pytest.approx(expected[signal.name], rel=1e-6, abs=1e-6), signal.name
        else:  # integer registers hold the value to their resolution
            assert abs(values[signal.name] - expected[signal.name]) <= abs(signal.scale) / 2 + 1e-9, signal.name


async def test_every_polled_value_is_the_models_value(sim: PrinterSimulator) -> None:
    poller = ModbusPoller(pointed_at(sim), ListSink())
    clock = sim.clock
    assert isinstance(clock, ManualClock)
    for hours in (0.25, 2.0, 5.5):  # running, stops, a changeover: the model moves between polls
        clock.advance(hours * 3600)
        await sim.wait_caught_up()
        batch = await poller.poll_once()
        assert batch.good.all(), dict(zip(batch.field, batch.detail, strict=True))
        assert_matches_model(sim, values_of(batch))
    assert poller.counters.requests == 3 * len(poller.plan)


async def test_an_injected_exception_spoils_only_the_signals_of_its_request(sim: PrinterSimulator) -> None:
    poller = ModbusPoller(pointed_at(sim), ListSink())
    sim.inject_exception(["water_l_total"], code=4)  # server device failure, on input registers 100..101
    batch = await poller.poll_once()
    quality = dict(zip(batch.field.tolist(), batch.quality.tolist(), strict=True))
    assert quality.pop("water_l_total") == Quality.BAD_DEVICE_EXCEPTION
    assert set(quality.values()) == {Quality.GOOD}
    assert np.isnan(batch.value[batch.field == "water_l_total"]).all()
    values = values_of(batch)
    values["water_l_total"] = sim.process.values()["water_l_total"]  # the one the device would not give
    assert_matches_model(sim, values)
    sim.clear_faults()
    assert (await poller.poll_once()).good.all()


async def test_a_stalled_simulator_is_no_communication_then_recovers(sim: PrinterSimulator) -> None:
    sink = ListSink()
    async with Running(ModbusPoller(pointed_at(sim), sink)):
        await wait_for(lambda: len(sink.good_batches()) >= 1, "a good poll")
        sim.inject_stall(True)
        await wait_for(
            lambda: any(b.quality[0] == Quality.BAD_NO_COMMUNICATION for b in sink.batches),
            "a poll marked no communication",
        )
        sim.inject_stall(False)
        n = len(sink.batches)
        await wait_for(lambda: any(b.good.all() for b in sink.batches[n:]), "good polls again")
    # a stalled poll stores nothing as a value
    for batch in sink.batches:
        assert np.isnan(batch.value[~batch.good]).all()


async def test_a_restarted_simulator_is_a_recorded_gap_then_values_flow(plant: Plant) -> None:
    port = free_port()
    clock = ManualClock(start_ns=1_795_000_000 * S)
    first = PrinterSimulator(plant, host="127.0.0.1", port=port, seed=3, clock=clock)
    await first.start()
    sink = ListSink()
    poller = ModbusPoller(pointed_at(first, port), sink)
    second: PrinterSimulator | None = None
    try:
        async with Running(poller):
            await wait_for(lambda: len(sink.good_batches()) >= 2, "good polls")
            await first.stop()
            await wait_for(lambda: [e.connected for e in sink.events] == [True, False], "the loss recorded")
            second = PrinterSimulator(plant, host="127.0.0.1", port=port, seed=3, clock=clock)
            for _attempt in range(50):  # the port may linger for a moment after the first server closed it
                try:
                    await second.start()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail(f"port {port} did not become free again")
            await wait_for(lambda: [e.connected for e in sink.events] == [True, False, True], "recovery recorded")
            n = len(sink.batches)
            await wait_for(lambda: any(b.good.all() for b in sink.batches[n:]), "good polls after the restart")
    finally:
        if second is not None:
            await second.stop()
    lost, recovered = sink.events[1], sink.events[2]
    for batch in sink.batches:  # between the two events nothing good was stored: a gap, not values
        if lost.ts_ns <= batch.ts_ns[0] < recovered.ts_ns:
            assert not batch.good.any()
    assert poller.counters.connects == 2
