"""The live channel over a real uvicorn server: pushes within 1 s, from the hub and from the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from api.live import LiveHub
from api.tee import TeeSink
from collectors.base import SampleSink
from collectors.opcua import OpcUaFleetCollector
from models.contract import MEASUREMENT_PRINTER
from models.plant import Fleet
from models.samples import SampleBatch
from models.states import PRINTER_STATE_LABELS, PrinterState, Quality, RobotState
from simulators.fleet import FleetSimulator
from tests.api.conftest import Env, LiveServer, async_wait_until, make_app

PUSH_LIMIT_S = 1.0


async def next_of(ws: Any, kind: str, timeout_s: float, where: Any = lambda m: True) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {kind!r} message within {timeout_s} s")
        msg = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if msg["type"] == kind and where(msg):
            return msg


def printer_state(ts_ns: int, state: PrinterState, reason: int = 0) -> SampleBatch:
    return SampleBatch.from_rows(
        MEASUREMENT_PRINTER,
        [
            (ts_ns, "mso-cpp-1", "state", float(state), Quality.GOOD, ""),
            (ts_ns, "mso-cpp-1", "stop_reason", float(reason), Quality.GOOD, ""),
        ],
    )


async def test_a_state_written_to_the_hub_reaches_a_websocket_client_within_1_s(server: LiveServer) -> None:
    hub = server.services.hub
    async with websockets.connect(f"{server.ws_url}/api/v1/live") as ws:
        hello = await next_of(ws, "hello", 5)
        assert hello["printer_states"]["6"] == {"en": "Fault", "zh": "故障"}
        status = await next_of(ws, "status", 10)
        assert status["printers"][0]["id"] == "mso-cpp-1"
        kpi = await next_of(ws, "kpi", 20)
        assert {t["team"] for t in kpi["scoreboard"]["teams"]} == {
            "gravure",
            "charging-robots",
            "crew-a",
            "crew-b",
            "crew-c",
        }
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{server.url}/metrics")).text
        assert "shopfloor_live_clients 1.0" in metrics
        current = hub.state("mso-cpp-1")  # seeded from the stored history by the status service
        first = PrinterState.HELD if current and current.code != PrinterState.HELD else PrinterState.FAULT
        for state in (first, PrinterState.RUNNING, PrinterState.SETUP):
            written = time.monotonic()
            await asyncio.to_thread(hub.write, printer_state(time.time_ns(), state, 23 if state != 3 else 0))
            msg = await next_of(ws, "state", PUSH_LIMIT_S, lambda m: m["equipment"] == "mso-cpp-1")
            latency = time.monotonic() - written
            assert msg["state"] == state and latency < PUSH_LIMIT_S
            assert (msg["label_en"], msg["label_zh"]) == PRINTER_STATE_LABELS[state]
        # the next status snapshot agrees with the pushed change
        status = await next_of(ws, "status", 5, lambda m: m["printers"][0]["state"] == PrinterState.SETUP)
        assert status["printers"][0]["state_label_zh"] == "换版调机"


async def test_the_live_channel_survives_a_client_leaving(server: LiveServer) -> None:
    async with websockets.connect(f"{server.ws_url}/api/v1/live") as ws:
        await next_of(ws, "hello", 5)
    await async_wait_until(lambda: server.services.hub.clients == 0, "the hub to drop the closed client")
    async with websockets.connect(f"{server.ws_url}/api/v1/live") as ws:
        await next_of(ws, "status", 10)


# ---------------------------------------------------------------------- live data from the real fleet simulator


def at_endpoint(fleet: Fleet, url: str) -> Fleet:
    """The plant file's fleet with only its endpoint moved: the 1 s bound holds at the shipped settings."""
    data = fleet.model_dump(mode="python", by_alias=True)
    data["opcua"].update(endpoint=url)
    return Fleet.model_validate(data)


@contextlib.asynccontextmanager
async def fleet_running(env: Env, sink: SampleSink) -> AsyncIterator[FleetSimulator]:
    sim = FleetSimulator(env.plant, endpoint="opc.tcp://127.0.0.1:0/shopfloor/fleet", port=0, seed=3, time_scale=20.0)
    await sim.start()
    stop = asyncio.Event()
    collector = OpcUaFleetCollector(
        at_endpoint(env.plant.fleets[0], sim.endpoint), sink, reconnect_initial_s=0.1, reconnect_max_s=1.0
    )
    task = asyncio.create_task(collector.run(stop))
    try:
        yield sim
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 10)
        await sim.stop()


async def test_a_state_changed_in_the_fleet_simulator_reaches_the_client_within_1_s(env: Env) -> None:
    hub = LiveHub(env.plant)
    with LiveServer(make_app(env, hub, snapshot_interval_s=0.5)) as server:
        async with fleet_running(env, TeeSink(env.store, hub)) as sim:
            await async_wait_until(
                lambda: all(hub.state(r.id) for r in env.plant.fleets[0].robots),
                "every robot's state through the OPC UA collector",
            )
            async with httpx.AsyncClient() as http:
                body = (await http.get(f"{server.url}/api/v1/status")).json()
            robots = {r["id"]: r for r in body["fleets"][0]["robots"]}
            assert robots["r05"]["state"] == hub.state("r05").code
            assert body["fleets"][0]["link"]["connected"] is True
            async with websockets.connect(f"{server.ws_url}/api/v1/live") as ws:
                await next_of(ws, "status", 10)
                current = hub.state("r05").code
                target = RobotState.MAINTENANCE if current != RobotState.MAINTENANCE else RobotState.FAULT
                changed = time.monotonic()
                await sim.inject_value("r05", "state", int(target))
                msg = await next_of(
                    ws, "state", PUSH_LIMIT_S, lambda m: m["equipment"] == "r05" and m["state"] == target
                )
                assert time.monotonic() - changed < PUSH_LIMIT_S
                assert msg["kind"] == "robot" and msg["label_zh"] in {"计划维护", "故障"}
        # what the collector wrote is in the store too: the KPI endpoints see the fleet
        env.store.flush()
        assert env.store.latest("robot", ["r05"])["r05"]["state"][1] == float(target)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
