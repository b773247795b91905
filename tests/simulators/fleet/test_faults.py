"""Every injected fault, as a real client sees it; restart on the same endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client, ua

from shopfloor.simulators.fleet.server import FleetSimulator
from tests.simulators.fleet._helpers import LOOPBACK, FixedClock, make_plant, wait_for

from .test_live import Recorder

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_sim() -> AsyncIterator[FleetSimulator]:
    # One server for the module (starting one costs ~2 s here); every test uses its own clients.
    clock = FixedClock()
    async with FleetSimulator(
        make_plant(robots=3, car_arrivals_per_hour=60.0), endpoint=LOOPBACK, seed=4, clock=clock
    ) as simulator:
        simulator.test_clock = clock  # type: ignore[attr-defined]  # the test's own attribute
        yield simulator


@pytest_asyncio.fixture(loop_scope="module")
async def sim(shared_sim: FleetSimulator) -> AsyncIterator[FleetSimulator]:
    yield shared_sim
    await shared_sim.clear_faults()  # whatever a test left injected does not leak into the next


def _watch_connection(client: Client) -> asyncio.Event:
    lost = asyncio.Event()

    async def on_lost(exc: Exception) -> None:
        lost.set()

    client.connection_lost_callback = on_lost
    return lost


async def test_dropped_connections_are_seen_by_the_client(sim: FleetSimulator) -> None:
    client = Client(sim.endpoint, timeout=5, watchdog_intervall=0.5)
    await client.connect()
    lost = _watch_connection(client)
    try:
        assert await client.get_node(sim.node_id("r01", "soc_pct")).read_value() >= 0
        assert await sim.inject_drop_connections() == 1
        await asyncio.wait_for(lost.wait(), timeout=30)
        with pytest.raises((ConnectionError, asyncio.TimeoutError, ua.UaError)):
            await client.get_node(sim.node_id("r01", "soc_pct")).read_value()
    finally:
        await client.disconnect()
    # The server itself is fine: a new client gets in.
    async with Client(sim.endpoint, timeout=10) as again:
        assert await again.get_node(sim.node_id("r01", "state")).read_value() >= 0


async def test_bad_status_is_read_as_bad_status_without_value(sim: FleetSimulator) -> None:
    async with Client(sim.endpoint, timeout=10) as client:
        node = client.get_node(sim.node_id("r02", "soc_pct"))
        other = client.get_node(sim.node_id("r02", "state"))
        await sim.inject_bad_status("r02", "soc_pct", "BadSensorFailure")
        dv = await node.read_data_value(raise_on_bad_status=False)
        assert dv.StatusCode.value == ua.StatusCodes.BadSensorFailure
        assert dv.Value.Value is None
        with pytest.raises(ua.uaerrors.BadSensorFailure):
            await node.read_value()
        assert (await other.read_data_value()).StatusCode.is_good()  # only that variable is bad
        # The model keeps running, but a bad variable is not overwritten by it...
        sim.test_clock.advance(3600)  # type: ignore[attr-defined]  # the test's own attribute
        await sim.sync()
        assert (await node.read_data_value(raise_on_bad_status=False)).StatusCode.is_bad()
        # ...until the fault is lifted: then the current model value is back.
        await sim.inject_bad_status("r02", "StateOfCharge", None)  # browse names work too
        dv = await node.read_data_value()
        assert dv.StatusCode.is_good()
        assert dv.Value.Value == pytest.approx(sim.process.robot("r02").soc_pct)


async def test_out_of_range_value_is_served_until_cleared(sim: FleetSimulator) -> None:
    async with Client(sim.endpoint, timeout=10) as client:
        node = client.get_node(sim.node_id("r01", "soc_pct"))
        await sim.inject_value("r01", "soc_pct", 150.0)
        assert await node.read_value() == 150.0
        await sim.inject_value("r01", "state", 42)
        state = await client.get_node(sim.node_id("r01", "state")).read_data_value()
        assert state.Value.Value == 42 and state.Value.VariantType == ua.VariantType.UInt16
        await sim.inject_value("r01", "position_x_m", float("nan"))
        assert (await client.get_node(sim.node_id("r01", "position_x_m")).read_value()) != 0  # NaN != anything
        with pytest.raises(ValueError, match="UInt16"):
            await sim.inject_value("r01", "state", -1)
        await sim.clear_faults()
        assert await node.read_value() == pytest.approx(sim.process.robot("r01").soc_pct)
        assert await node.read_value() <= 100.0


async def test_stall_stops_answers_and_updates(sim: FleetSimulator) -> None:
    async with Client(sim.endpoint, timeout=10) as watcher:
        recorder = Recorder()
        sub = await watcher.create_subscription(50, recorder)
        nodes = [watcher.get_node(sim.node_id(r.robot_id, "position_x_m")) for r in sim.process.robots]
        nodes += [watcher.get_node(sim.node_id(r.robot_id, "soc_pct")) for r in sim.process.robots]
        await sub.subscribe_data_change(nodes)
        await wait_for(lambda: len(recorder.items) >= len(nodes), what="initial values")

        slow = Client(sim.endpoint, timeout=1.5)
        await slow.connect()
        try:
            await sim.inject_stall(True)
            recorder.items.clear()
            with pytest.raises((asyncio.TimeoutError, TimeoutError, ConnectionError)):
                await slow.get_node(sim.node_id("r01", "soc_pct")).read_value()
            # A new client cannot even say hello.
            with pytest.raises((asyncio.TimeoutError, TimeoutError, ConnectionError, OSError)):
                await asyncio.wait_for(Client(sim.endpoint, timeout=1.5).connect(), timeout=5)
            # The model runs on, but nothing is published while stalled.
            sim.test_clock.advance(1800)  # type: ignore[attr-defined]  # the test's own attribute
            assert await sim.sync() > 0
            await asyncio.sleep(0.5)  # several publishing intervals: gives a wrong notification time to show up
            assert recorder.items == []
        finally:
            await sim.inject_stall(False)
            with contextlib.suppress(Exception):  # cleanup only: the stalled client may be half-closed
                await slow.disconnect()
        # Resumed: the changes made during the stall arrive, and new clients get answers.
        await wait_for(lambda: len(recorder.items) > 0, what="values after the stall")
        async with Client(sim.endpoint, timeout=10) as fresh:
            value = await fresh.get_node(sim.node_id("r01", "soc_pct")).read_value()
            assert value == pytest.approx(sim.process.robot("r01").soc_pct)


async def test_restart_serves_the_same_model_on_the_same_endpoint(sim: FleetSimulator) -> None:
    endpoint, process = sim.endpoint, sim.process
    elapsed_before_s = process.elapsed_s
    client = Client(sim.endpoint, timeout=5, watchdog_intervall=0.5)
    await client.connect()
    lost = _watch_connection(client)
    try:
        sim.test_clock.advance(600)  # type: ignore[attr-defined]  # the test's own attribute
        await sim.restart()
        await asyncio.wait_for(lost.wait(), timeout=30)
    finally:
        with contextlib.suppress(Exception):  # cleanup only: the connection is already gone
            await client.disconnect()
    assert sim.endpoint == endpoint and sim.process is process
    async with Client(endpoint, timeout=10) as again:
        served = await again.get_node(sim.node_id("r03", "energy_delivered_kwh_total")).read_value()
        assert served == pytest.approx(process.robot("r03").energy_delivered_kwh)
        assert process.elapsed_s == elapsed_before_s + 600


async def test_faults_on_unknown_names_are_errors(sim: FleetSimulator) -> None:
    with pytest.raises(KeyError, match="r99"):
        await sim.inject_value("r99", "soc_pct", 1.0)
    with pytest.raises(KeyError, match="voltage"):
        await sim.inject_bad_status("r01", "voltage", "BadSensorFailure")
    with pytest.raises(ValueError, match="unknown"):
        await sim.inject_bad_status("r01", "soc_pct", "BadNoSuchThing")
