"""The API on data produced by the real simulators and collectors, end to end.

PrinterSimulator (Modbus TCP) and FleetSimulator (OPC UA) on free loopback
ports, ModbusPoller and OpcUaFleetCollector teeing into a fresh DuckDB store
and the live hub, the app on a real uvicorn server. A change made through the
printer simulator's override API reaches a WebSocket client within 1 s at
the shipped plant file's settings (two polls a second: the bound is one poll
interval plus milliseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.api.tee import TeeSink
from shopfloor.collectors.modbus.poller import ModbusPoller
from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.plant import Fleet, Plant, Printer, plant_from_dict
from shopfloor.models.states import PRINTER_STATE_LABELS, PrinterState
from shopfloor.simulators.fleet import FleetSimulator
from shopfloor.simulators.printer.server import PrinterSimulator
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.api._live_client import LiveClient
from tests.api.conftest import LiveServer, async_wait_until, config
from tests.api.test_live import PUSH_LIMIT_S
from tests.models.kpi._plants import default_raw

S = 1_000_000_000


def live_plant() -> Plant:
    """The shipped plant file as it is: the 1 s bound must hold at the settings a plant runs with."""
    return plant_from_dict(copy.deepcopy(default_raw()), "<live api test plant>")


@dataclass
class Running:
    plant: Plant
    store: DuckDBStore
    hub: LiveHub
    printer_sim: PrinterSimulator
    server: LiveServer
    started_ns: int


@contextlib.asynccontextmanager
async def plant_running(tmp_path: Path) -> AsyncIterator[Running]:
    plant = live_plant()
    store = DuckDBStore(tmp_path / "live.duckdb", plant.plant.id)
    notes = AnnotationStore(tmp_path / "annotations.sqlite3")
    hub = LiveHub(plant)
    sink = TeeSink(store, hub)
    printer_sim = PrinterSimulator(plant, host="127.0.0.1", port=0, seed=5, time_scale=30.0)
    # time_scale 1: OPC UA samples carry the simulator's source timestamps, which a faster clock would
    # put in the future, and the API never counts the future (ranges end at now).
    fleet_sim = FleetSimulator(plant, endpoint="opc.tcp://127.0.0.1:0/shopfloor/fleet", port=0, seed=5, time_scale=1.0)
    started = time.time_ns()
    await printer_sim.start()
    await fleet_sim.start()
    printer_data = plant.printers[0].model_dump(mode="python", by_alias=True)
    printer_data["modbus"]["port"] = printer_sim.port
    fleet_data = plant.fleets[0].model_dump(mode="python", by_alias=True)
    fleet_data["opcua"]["endpoint"] = fleet_sim.endpoint
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(ModbusPoller(Printer.model_validate(printer_data), sink).run(stop)),
        asyncio.create_task(
            OpcUaFleetCollector(
                Fleet.model_validate(fleet_data), sink, reconnect_initial_s=0.1, reconnect_max_s=1.0
            ).run(stop)
        ),
    ]
    app = create_app(plant, store, live_hub=hub, annotations=notes, config=config(snapshot_interval_s=0.5))
    try:
        with LiveServer(app) as server:
            yield Running(plant, store, hub, printer_sim, server, started)
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
        await fleet_sim.stop()
        await printer_sim.stop()
        notes.close()
        store.close()


def iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ns // S))


async def test_live_data_from_the_simulators_through_the_api(tmp_path: Path) -> None:
    async with plant_running(tmp_path) as run:
        robots = [r.id for r in run.plant.fleets[0].robots]
        await async_wait_until(
            lambda: run.hub.state("mso-cpp-1") and all(run.hub.state(r) for r in robots),
            "the first printer poll and every robot's state",
        )
        # a few seconds of polls, so counters have increments (awaited on the data, not on a clock)
        await async_wait_until(
            lambda: (
                len(
                    run.store.read_series(
                        MEASUREMENT_PRINTER, ["mso-cpp-1"], ["state"], run.started_ns, time.time_ns()
                    )["mso-cpp-1"]["state"].ts_ns
                )
                >= 15
            ),
            "15 printer polls",
        )
        async with httpx.AsyncClient(base_url=run.server.url) as http:
            status = (await http.get("/api/v1/status")).json()
            printer = status["printers"][0]
            latest = run.store.latest(MEASUREMENT_PRINTER, ["mso-cpp-1"])["mso-cpp-1"]
            assert printer["state"] in {int(s) for s in PrinterState}
            assert printer["speed_setpoint_m_min"] == pytest.approx(latest["speed_setpoint_m_min"][1])
            assert printer["link"]["connected"] is True and status["fleets"][0]["link"]["connected"] is True
            assert all(r["state"] is not None and r["soc_pct"] is not None for r in status["fleets"][0]["robots"])
            params = {"start": iso(run.started_ns - S), "end": iso(time.time_ns() + 2 * S)}
            kpis = (await http.get("/api/v1/equipment/mso-cpp-1/kpis", params=params)).json()
            # the polls up to where the report's range ends (it was clipped to "now" then): on a loaded machine
            # the line prints on for seconds between the report and this read
            counter = run.store.read_series(
                MEASUREMENT_PRINTER, ["mso-cpp-1"], ["printed_m_total"], run.started_ns - S, kpis["range"]["end_ns"]
            )["mso-cpp-1"]["printed_m_total"]
            printed = kpis["total"]["printed_m"]
            # what the API reports lies between what the polls saw and what the simulator really printed
            assert printed >= counter.value[-1] - counter.value[0] - 0.05
            assert printed <= run.printer_sim.process.truth.printed_m + 0.2
            board = (await http.get("/api/v1/teams/scoreboard", params=params)).json()
            assert [t["rank"] for t in board["teams"]] == [1, 2, 3, 4, 5]
            fleet = (await http.get("/api/v1/equipment/ev-robots/kpis", params=params)).json()
            assert fleet["total"]["availability_pct"] is not None


async def test_a_state_set_in_the_printer_simulator_reaches_the_client_within_1_s(tmp_path: Path) -> None:
    async with plant_running(tmp_path) as run:
        await async_wait_until(lambda: run.hub.state("mso-cpp-1"), "the first printer poll")
        async with LiveClient(f"{run.server.ws_url}/api/v1/live") as live:
            await live.next_of("status")
            for target in (PrinterState.MAINTENANCE, PrinterState.FAULT):
                if run.hub.state("mso-cpp-1").code == target:
                    continue
                changed = time.monotonic()
                run.printer_sim.set_override("state", float(target))
                msg, arrived = await live.next_of(
                    "state", lambda m, target=target: m["equipment"] == "mso-cpp-1" and m["state"] == target
                )
                assert arrived - changed < PUSH_LIMIT_S, f"pushed {arrived - changed:.3f} s after the change"
                assert (msg["label_en"], msg["label_zh"]) == PRINTER_STATE_LABELS[target]
        json.dumps(msg)  # what was pushed is plain JSON
