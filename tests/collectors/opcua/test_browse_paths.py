"""Robot variables addressed by browse path: translated on every session, unresolvable ones retried.

The fleet simulator serves ``Objects/Robots/<ROBOT>/<browse name>`` in its own
namespace; the plant file here names those paths and no node id at all, so
every value that arrives proves the path was translated to the right node.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.calendar import to_ns
from shopfloor.models.plant import DEFAULT_PLANT_RESOURCE, Plant, plant_from_dict
from shopfloor.models.states import Quality
from shopfloor.models.timebase import SystemClock
from shopfloor.simulators.fleet import FleetSimulator
from tests.collectors.opcua.conftest import (
    FAST_OPCUA,
    RecordingSink,
    all_keys,
    at_endpoint,
    no_value_unless_good,
    running,
    wait_until,
)
from tests.collectors.opcua.fleet_server import FleetServer

TEMPLATE = "Objects/{ns}:Robots/{ns}:{robot}/{ns}:{variable}"


class FrozenClock(SystemClock):
    """The simulator's clock, stopped: what it serves stays put and can be compared."""

    def now_ns(self) -> int:
        return 1_767_600_000_000_000_000


def browse_plant(n_robots: int, robots: dict[str, dict[str, Any]] | None = None, **fleet_keys: Any) -> Plant:
    """The default plant whose fleet has ``n_robots`` robots, fast cadences and ``fleet_keys`` set."""
    raw = tomllib.loads(resources.files("shopfloor.models.plants").joinpath(DEFAULT_PLANT_RESOURCE).read_text("utf-8"))
    fleet = raw["fleets"][0]
    fleet["robots"] = [
        {"id": f"r{i:03d}", "name": f"Robot {i}", "name_zh": f"机器人 {i}", **(robots or {}).get(f"r{i:03d}", {})}
        for i in range(1, n_robots + 1)
    ]
    fleet["opcua"].update(FAST_OPCUA)
    fleet.update(fleet_keys)
    return plant_from_dict(raw)


async def started(plant: Plant) -> FleetSimulator:
    sim = FleetSimulator(plant, endpoint="opc.tcp://127.0.0.1:0/fleet", port=0, seed=7, clock=FrozenClock())
    await sim.start()
    return sim


def collector_for(fleet_url: str, plant: Plant, sink: RecordingSink, **options: Any) -> OpcUaFleetCollector:
    return OpcUaFleetCollector(
        at_endpoint(plant.fleets[0], fleet_url),
        sink,
        reconnect_initial_s=0.1,
        reconnect_max_s=1.0,
        retry_interval_s=0.3,
        **options,
    )


def connectivity(sink: RecordingSink) -> list[bool]:
    return [e.connected for e in sink.events]


@pytest.mark.parametrize("force_polling", [False, True], ids=["subscription", "polling"])
async def test_browse_path_template_reads_every_variable_from_the_simulator(
    sink: RecordingSink, force_polling: bool
) -> None:
    plant = browse_plant(4, browse_path_template=TEMPLATE)
    sim = await started(plant)
    try:
        collector = collector_for(sim.endpoint, plant, sink, force_polling=force_polling)
        assert collector.plan.browse_indices == tuple(range(len(collector.plan)))
        assert all(item.node_id == "" for item in collector.plan.items)  # no node id from the plant file
        async with running(collector):
            await wait_until(lambda: sink.good_keys() == all_keys(collector.fleet), "every variable by browse path")
            assert collector.mode == ("polling" if force_polling else "subscription")
        latest = sink.latest()
        for robot_id, field in all_keys(collector.fleet):
            served = sim.server.read_attribute_value(sim.node_id(robot_id, field))
            ts, value, quality, _ = latest[(robot_id, field)]
            assert (quality, value, ts) == (Quality.GOOD, float(served.Value.Value), to_ns(served.SourceTimestamp)), (
                robot_id,
                field,
            )
    finally:
        await sim.stop()
    assert connectivity(sink) == [True]


async def test_an_unresolvable_browse_path_is_bad_quality_and_retried(sink: RecordingSink) -> None:
    # A misspelt browse name for one variable of one robot; the rest use the template.
    typo = "Objects/{ns}:Robots/{ns}:R002/{ns}:StateOfChrage"
    plant = browse_plant(3, {"r002": {"browse_paths": {"soc_pct": typo}}}, browse_path_template=TEMPLATE)
    sim = await started(plant)
    try:
        collector = collector_for(sim.endpoint, plant, sink)
        fleet = collector.fleet
        bad_key = ("r002", "soc_pct")

        def refusals() -> list[str]:
            return [d for _, r, f, _, q, d in sink.rows() if (r, f) == bad_key and q == Quality.BAD_STATUS]

        async with running(collector) as task:
            await wait_until(lambda: sink.good_keys() == all_keys(fleet) - {bad_key}, "every other variable")
            await wait_until(lambda: len(refusals()) >= 3, "the bad path to be retried")
            assert not task.done() and collector.ready.is_set()
            assert collector.stats.pending_items == 1
    finally:
        await sim.stop()
    detail = refusals()[0]
    assert "StateOfChrage" in detail and "R002" in detail and "BadNoMatch" in detail, detail
    assert bad_key not in sink.good_keys()
    assert all(math.isnan(v) for _, r, f, v, _, _ in sink.rows() if (r, f) == bad_key)
    assert connectivity(sink) == [True]  # a bad path is a bad value, not a bad link
    assert no_value_unless_good(sink)


async def test_browse_paths_are_translated_again_after_a_restart(tmp_path: Path, sink: RecordingSink) -> None:
    plant = browse_plant(3, browse_path_template=TEMPLATE)
    server = FleetServer(plant.fleets[0], tmp_path)
    await server.start(without=("r002",))  # r002 not configured on the server yet
    try:
        collector = collector_for(server.url, plant, sink)
        fleet = collector.fleet
        r002 = {k for k in all_keys(fleet) if k[0] == "r002"}
        async with running(collector):
            await wait_until(lambda: sink.good_keys() == all_keys(fleet) - r002, "the robots the server has")

            def refused_r002() -> dict[tuple[str, str], str]:
                return {(r, f): d for _, r, f, _, q, d in sink.rows() if r == "r002" and q == Quality.BAD_STATUS}

            # The refusals are written once CreateMonitoredItems has answered; the first values of the
            # accepted items may be published before that, so they are waited for, not assumed to be there.
            missing = await wait_until(lambda: set(refused_r002()) == r002 and refused_r002(), "r002's refusals")
            assert all("BadNoMatch" in d for d in missing.values()), missing
            assert not any(r == "r002" for r, _ in sink.good_keys())
            await server.add_robot("r002")
            await wait_until(lambda: sink.good_keys() == all_keys(fleet), "r002 once its nodes exist")
            # The server comes back with every node renumbered: only the paths still lead to them.
            await server.stop()
            await wait_until(lambda: connectivity(sink) == [True, False], "the loss")
            mark = len(sink.log)  # nothing is written while the link is down
            server.numeric_ids_from = 7000
            await server.start()
            assert all(isinstance(node.Identifier, int) for node in server.node_ids.values())
            await wait_until(lambda: connectivity(sink) == [True, False, True], "the reconnection")
            await wait_until(lambda: sink.good_keys(mark) == all_keys(fleet), "every variable after the restart")
            await server.set_value("r003", "soc_pct", 61.0, dt.datetime.now(dt.UTC))
            await wait_until(
                lambda: sink.latest(mark).get(("r003", "soc_pct"), (0, None))[1] == 61.0,
                "a change on a renumbered node",
            )
            assert collector.stats.pending_items == 0
    finally:
        await server.stop()
    assert no_value_unless_good(sink)
