"""Live values over a real subscription: simulated source timestamps, changes only, time scaling."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest
from asyncua import Client, Node, ua

from shopfloor.models.calendar import to_ns
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.fleet import server as fleet_server
from shopfloor.simulators.fleet.server import FleetSimulator
from tests.simulators.fleet._helpers import LOOPBACK, SIM_START_NS, FixedClock, make_plant, wait_for


class Recorder:
    """asyncua data-change handler keeping every notification in arrival order."""

    def __init__(self) -> None:
        self.items: list[tuple[ua.NodeId, Any, ua.DataValue]] = []

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        self.items.append((node.nodeid, value, data.monitored_item.Value))


def recorded_all(recorder: Recorder, node_ids: set[ua.NodeId]) -> Callable[[], bool]:
    return lambda: {n for n, _, _ in recorder.items} >= node_ids


async def test_subscription_gets_changes_stamped_with_simulated_time() -> None:
    plant = make_plant(robots=6, car_arrivals_per_hour=60.0)
    clock = FixedClock()
    async with (
        FleetSimulator(plant, endpoint=LOOPBACK, seed=11, clock=clock) as sim,
        Client(sim.endpoint, timeout=10) as client,
    ):
        nodes = [
            client.get_node(sim.node_id(r.id, v.name))
            for r in plant.fleets[0].robots
            for v in plant.fleets[0].variables
        ]
        recorder = Recorder()
        sub = await client.create_subscription(50, recorder)
        await sub.subscribe_data_change(nodes, queuesize=100)
        await wait_for(lambda: len(recorder.items) >= len(nodes), what="initial values")
        initial = {node_id: value for node_id, value, _ in recorder.items}
        assert all(dv.SourceTimestamp == dt.datetime(2030, 1, 7, 6, tzinfo=dt.UTC) for _, _, dv in recorder.items)

        for advance_s in (1200, 60):
            recorder.items.clear()
            clock.advance(advance_s)
            expected_ts_ns = clock.now_ns()
            assert await sim.sync() > 0
            changed = {
                sim.node_id(r.robot_id, name): value
                for r in sim.process.robots
                for name, value in r.values().items()
                if ua.Variant(value).Value != initial[sim.node_id(r.robot_id, name)]
            }
            assert changed, "a busy depot changed nothing?"
            await wait_for(recorded_all(recorder, set(changed)), what="changed values")
            for node_id, value, dv in recorder.items:
                assert node_id in changed, f"{node_id} was rewritten without a change"
                assert to_ns(dv.SourceTimestamp) == expected_ts_ns  # simulated time, not wall time
                assert abs(dv.ServerTimestamp - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
                assert value == changed[node_id] or value == ua.Variant(changed[node_id]).Value
            initial.update(changed)


async def test_time_scale_runs_simulated_time_faster() -> None:
    plant = make_plant(robots=4, car_arrivals_per_hour=60.0)
    before = time.monotonic()
    sim = FleetSimulator(plant, endpoint=LOOPBACK, seed=2, time_scale=600)  # its clock starts here
    constructed = time.monotonic()
    async with sim:
        start_ns = sim.process.truth.start_ns
        async with Client(sim.endpoint, timeout=10) as client:
            recorder = Recorder()
            sub = await client.create_subscription(50, recorder)
            await sub.subscribe_data_change(
                [client.get_node(sim.node_id(r.id, "position_x_m")) for r in plant.fleets[0].robots]
                + [client.get_node(sim.node_id(r.id, "soc_pct")) for r in plant.fleets[0].robots]
            )
            # Ten simulated minutes of source timestamps arrive within a few wall seconds.
            await wait_for(
                lambda: (
                    recorder.items
                    and to_ns(max(dv.SourceTimestamp for *_, dv in recorder.items)) - start_ns >= 600 * NS_PER_S
                ),
                timeout_s=60,
                what="10 simulated minutes",
            )
        sync_started = time.monotonic()
        await sim.sync()
        after = time.monotonic()
        elapsed_s = sim.process.elapsed_s
    # Simulated time is 600x wall time, bounded by wall stamps on either side of the clock's start and of
    # the last sync (which steps to within one step of the clock): true however late the stamps are.
    step_s = sim.process.step_ns / NS_PER_S
    assert elapsed_s <= 600 * (after - before) + step_s
    assert elapsed_s >= 600 * (sync_started - constructed) - step_s
    # Still fixed steps: every published timestamp lies on the step grid.
    for *_, dv in recorder.items:
        assert (to_ns(dv.SourceTimestamp) - start_ns) % sim.process.step_ns == 0


def test_start_of_simulated_time_is_far_from_now() -> None:
    # Guards the assertion above that tells simulated from wall timestamps apart.
    assert abs(SIM_START_NS - time.time_ns()) > 100 * 86_400 * NS_PER_S


async def test_a_long_catch_up_leaves_the_server_answering(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six simulated hours to step through at once: clients are answered meanwhile, not only afterwards.

    Stepping shares the event loop with the OPC UA server; a catch-up done in one go would leave every
    request unanswered (and a client's one-second health probe failing) for as long as it takes, which
    on a loaded machine is seconds. The slice is set to zero here so the test does not depend on speed.
    """
    monkeypatch.setattr(fleet_server, "CATCHUP_SLICE_S", 0.0)
    clock = ManualClock(start_ns=SIM_START_NS)
    plant = make_plant(robots=6)
    async with (
        FleetSimulator(plant, endpoint=LOOPBACK, seed=4, clock=clock) as sim,
        Client(sim.endpoint, timeout=10) as client,
    ):
        node = client.get_node(sim.node_id("r01", "soc_pct"))
        before = await node.read_value()
        target_ns = clock.advance(6 * 3600)
        syncing = asyncio.create_task(sim.sync())
        assert await node.read_value() == before  # answered while stepping: nothing published yet
        assert sim.process.now_ns < target_ns, "the read waited for the whole catch-up"
        await syncing
        assert sim.process.now_ns == target_ns
