"""Fixtures of the OPC UA collector tests: plant variants, a recording sink, a running collector."""

from __future__ import annotations

import asyncio
import contextlib
import time
import tomllib
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.plant import DEFAULT_PLANT_RESOURCE, Fleet, Plant, plant_from_dict
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.states import Quality
from tests.fixtures.waiting import async_wait_until as wait_until  # noqa: F401  # shared by the OPC UA tests

# Generous: two cores shared with other test suites.
DEADLINE_S = 30.0

# Fast cadences so reconnects and retries happen within seconds.
FAST_OPCUA = {
    "sampling_interval_ms": 50,
    "publishing_interval_ms": 100,
    "timeout_s": 1.5,
    "subscribe_batch_size": 500,
}


def fleet_variant(n_robots: int = 3, **opcua: Any) -> Fleet:
    """The default plant's fleet with ``n_robots`` robots and endpoint settings overridden."""
    return plant_variant(n_robots, **opcua).fleets[0]


def plant_variant(n_robots: int = 3, **opcua: Any) -> Plant:
    """The default plant whose fleet has ``n_robots`` robots and endpoint settings overridden."""
    raw = tomllib.loads(resources.files("shopfloor.models.plants").joinpath(DEFAULT_PLANT_RESOURCE).read_text("utf-8"))
    fleet = raw["fleets"][0]
    fleet["robots"] = [
        {"id": f"r{i:03d}", "name": f"Robot {i}", "name_zh": f"机器人 {i}"} for i in range(1, n_robots + 1)
    ]
    fleet["opcua"].update(FAST_OPCUA)
    fleet["opcua"].update(opcua)
    return plant_from_dict(raw)


def at_endpoint(fleet: Fleet, url: str, **opcua: Any) -> Fleet:
    """The same fleet pointed at a running server (and other endpoint changes), validated again."""
    data = fleet.model_dump(mode="python", by_alias=True)
    data["opcua"].update(endpoint=url, **opcua)
    return Fleet.model_validate(data)


class RecordingSink:
    """Keeps every batch and connectivity event in arrival order, with the wall time of arrival."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any, int]] = []  # ("batch" | "conn", item, arrival ns)

    def write(self, batch: SampleBatch) -> None:
        self.log.append(("batch", batch, time.time_ns()))

    def write_connectivity(self, events: Any) -> None:
        for event in events:
            self.log.append(("conn", event, time.time_ns()))

    @property
    def batches(self) -> list[SampleBatch]:
        return [item for kind, item, _ in self.log if kind == "batch"]

    @property
    def events(self) -> list[ConnectivityEvent]:
        return [item for kind, item, _ in self.log if kind == "conn"]

    def rows(self, since: int = 0) -> list[tuple[int, str, str, float, int, str]]:
        """(ts_ns, robot, field, value, quality, detail) of every sample in log entries from ``since``."""
        out = []
        for kind, batch, _ in self.log[since:]:
            if kind != "batch":
                continue
            for k in range(len(batch)):
                out.append(
                    (
                        int(batch.ts_ns[k]),
                        batch.equipment[k],
                        batch.field[k],
                        float(batch.value[k]),
                        int(batch.quality[k]),
                        batch.detail[k],
                    )
                )
        return out

    def latest(self, since: int = 0) -> dict[tuple[str, str], tuple[int, float, int, str]]:
        """(robot, field) -> (ts_ns, value, quality, detail) of its last sample."""
        return {(r, f): (t, v, q, d) for t, r, f, v, q, d in self.rows(since)}

    def good_keys(self, since: int = 0) -> set[tuple[str, str]]:
        return {(r, f) for _, r, f, _, q, _ in self.rows(since) if q == Quality.GOOD}


@contextlib.asynccontextmanager
async def running(collector: OpcUaFleetCollector) -> AsyncIterator[asyncio.Task[None]]:
    """Run a collector in a task; stop it and re-raise anything it raised."""
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=DEADLINE_S)


def all_keys(fleet: Fleet) -> set[tuple[str, str]]:
    return {(r.id, v.name) for r in fleet.robots for v in fleet.variables}


def no_value_unless_good(sink: RecordingSink) -> bool:
    return all(np.isnan(b.value[~b.good]).all() for b in sink.batches)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Any]:
    """A three-robot FleetServer the test sets values on (tests/collectors/opcua/fleet_server.py)."""
    from tests.collectors.opcua.fleet_server import FleetServer

    srv = FleetServer(fleet_variant(3), tmp_path)
    await srv.start()
    yield srv
    await srv.stop()
