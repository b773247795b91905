"""From a fault injected into the running fleet simulator to the alert on the live channel: within 1 s.

Measured as test_live.py measures a state change: from just before the
injection to the arrival stamp of a client that does nothing but receive
(tests/api/_live_client.py), so the test's own loop being slow does not count.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from shopfloor.api.live import LiveHub
from shopfloor.api.tee import TeeSink
from shopfloor.collectors.opcua.collector import OpcUaFleetCollector
from shopfloor.models.plant import Fleet
from shopfloor.models.states import RobotState
from shopfloor.simulators.fleet.server import FleetSimulator
from tests.api._live_client import LiveClient
from tests.api.conftest import Env, LiveServer, async_wait_until, make_app
from tests.api.test_live import PUSH_LIMIT_S, fleet_running


async def test_a_robot_fault_injected_in_the_simulator_is_an_alert_on_the_websocket_within_1_s(env: Env) -> None:
    hub = LiveHub(env.plant)
    with LiveServer(make_app(env, hub, snapshot_interval_s=0.5)) as server:
        services = server.services
        assert services.alerts is not None
        async with fleet_running(env, TeeSink(env.store, hub)) as sim:
            robots = [r.id for r in env.plant.fleets[0].robots]
            await async_wait_until(lambda: all(hub.state(r) for r in robots), "every robot's state")
            in_alert = {a.equipment for a in services.alerts.active if a.rule == "robot-fault"}
            target = next(
                r
                for r in robots
                if r not in in_alert and hub.state(r).code != RobotState.FAULT  # type: ignore[union-attr]  # waited for above
            )
            async with LiveClient(f"{server.ws_url}/api/v1/live") as live:
                await live.next_of("status")
                injected = time.monotonic()
                await sim.inject_value(target, "state", int(RobotState.FAULT))
                msg, arrived = await live.next_of(
                    "alert", lambda m: m["transition"] == "raised" and m["alert"]["equipment"] == target
                )
                assert arrived - injected < PUSH_LIMIT_S, f"alert {arrived - injected:.3f} s after the fault"
                alert = msg["alert"]
                assert alert["rule"] == "robot-fault" and alert["severity"] == "critical" and alert["active"]
                assert msg["idempotency_key"] == f"{alert['id']}:raised"

        # kept in the store as well (written in a worker thread after the push, so waited for)
        await async_wait_until(
            lambda: [a.id for a in env.annotations.alerts(active=True)].count(alert["id"]) == 1, "the stored alert"
        )


async def test_a_fleet_controller_going_away_raises_link_down_and_its_return_clears_it(env: Env) -> None:
    hub = LiveHub(env.plant)
    with LiveServer(make_app(env, hub, snapshot_interval_s=0.5)) as server:
        async with fleet_running(env, TeeSink(env.store, hub)) as sim:
            await async_wait_until(lambda: (link := hub.link("ev-robots")) and link.connected, "the fleet's link up")
            async with LiveClient(f"{server.ws_url}/api/v1/live") as live:
                await live.next_of("status")
                await sim.stop()  # the controller goes away: the collector reports its link down
                raised, _ = await live.next_of(
                    "alert", lambda m: m["transition"] == "raised" and m["alert"]["rule"] == "link-down"
                )
                assert (
                    raised["alert"]["equipment"] == "ev-robots"
                    and raised["alert"]["message_zh"] == "ev-robots 通信中断"
                )
                await sim.start()  # back on the same port: the collector reconnects
                cleared, _ = await live.next_of(
                    "alert", lambda m: m["transition"] == "cleared" and m["alert"]["id"] == raised["alert"]["id"]
                )
                assert cleared["alert"]["cleared_ns"] >= raised["alert"]["raised_ns"]


async def test_a_fleet_gone_silent_with_its_connection_open_raises_link_down_and_its_return_clears_it(env: Env) -> None:
    """A fleet's freshness (docs/alerts.md, "Stale data"): the server stalls, keeping the TCP connection open but
    sending nothing, not even a keep-alive, answering nothing; the collector's watchers (asyncua's health probe, the
    subscription's stall watchdog: whichever sees the silence first) declare the link lost and the fleet's
    link_down alert is raised; the server answering again clears it. Short intervals keep it fast."""
    hub = LiveHub(env.plant)
    with LiveServer(make_app(env, hub, snapshot_interval_s=0.5)) as server:
        sim = FleetSimulator(env.plant, endpoint="opc.tcp://127.0.0.1:0/shopfloor/fleet", port=0, seed=3)
        await sim.start()
        data = env.plant.fleets[0].model_dump(mode="python", by_alias=True)
        data["opcua"].update(endpoint=sim.endpoint, publishing_interval_ms=100, sampling_interval_ms=50, timeout_s=0.5)
        collector = OpcUaFleetCollector(
            Fleet.model_validate(data), TeeSink(env.store, hub), reconnect_initial_s=0.1, reconnect_max_s=0.5
        )
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        try:
            await async_wait_until(lambda: (link := hub.link("ev-robots")) and link.connected, "the fleet's link up")
            async with LiveClient(f"{server.ws_url}/api/v1/live") as live:
                await live.next_of("status")
                await sim.inject_stall(True)
                raised, _ = await live.next_of(
                    "alert", lambda m: m["transition"] == "raised" and m["alert"]["rule"] == "link-down"
                )
                assert raised["alert"]["equipment"] == "ev-robots"
                assert collector.stats.last_error, "the collector says why it lost the link"
                await sim.inject_stall(False)
                await live.next_of(
                    "alert", lambda m: m["transition"] == "cleared" and m["alert"]["id"] == raised["alert"]["id"]
                )
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
            await sim.stop()
