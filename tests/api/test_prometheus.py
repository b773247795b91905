"""The shipped Prometheus rules in a real Prometheus scraping a running app: loaded, and firing when they should.

The app runs on a real uvicorn server with an OPC UA collector reading the
fleet simulator; Prometheus (Debian's package) scrapes it every second with a
copy of deploy/prometheus/alerts.yml whose ``for:`` durations are cut to one
second (the expressions are the shipped ones). Stopping the simulator must
fire ShopfloorCollectorDisconnected; stopping the app, ShopfloorScrapeFailing.
Skips without the binaries unless SHOPFLOOR_REQUIRE_PROMETHEUS=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.api.tee import TeeSink
from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.simulators.fleet import FleetSimulator
from tests.api.conftest import Env, LiveServer, async_wait_until, config
from tests.api.test_live import at_endpoint
from tests.fixtures.prometheus import RULES, Prometheus, binary_or_skip

SHIPPED = {
    "ShopfloorScrapeFailing",
    "ShopfloorCollectorDisconnected",
    "ShopfloorSpoolBacklogGrowing",
    "ShopfloorStoreNotWritable",
    "ShopfloorSamplesDropped",
}


def fires(prometheus: Prometheus, name: str, **labels: str) -> bool:
    return any(
        a["labels"]["alertname"] == name and all(a["labels"].get(k) == v for k, v in labels.items())
        for a in prometheus.firing()
    )


async def test_the_shipped_rules_load_in_prometheus_and_fire_on_a_lost_device_and_a_dead_app(
    env: Env, tmp_path: Path
) -> None:
    binary_or_skip("prometheus")
    fleet = env.plant.fleets[0]
    hub = LiveHub(env.plant)
    sim = FleetSimulator(env.plant, endpoint="opc.tcp://127.0.0.1:0/shopfloor/fleet", port=0, seed=3, time_scale=20.0)
    await sim.start()
    collector = OpcUaFleetCollector(
        at_endpoint(fleet, sim.endpoint), TeeSink(env.store, hub), reconnect_initial_s=0.1, reconnect_max_s=1.0
    )
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(stop))
    app = create_app(
        env.plant, env.store, live_hub=hub, annotations=env.annotations, config=config(), collectors=lambda: [collector]
    )
    rules = re.sub(r"(?m)^(\s+for:) \S+$", r"\1 1s", RULES.read_text(encoding="utf-8"))
    prometheus: Prometheus | None = None
    server = LiveServer(app)
    try:
        with server:
            await async_wait_until(lambda: collector.is_connected, "the collector to connect")
            prometheus = await asyncio.to_thread(Prometheus, tmp_path, f"127.0.0.1:{server.port}", rules)
            p = prometheus

            def rules_health() -> dict[str, str]:
                return {r["name"]: r["health"] for g in p.api("rules")["groups"] for r in g["rules"]}

            assert set(rules_health()) == SHIPPED  # loaded (health "unknown" until first evaluated)
            await async_wait_until(lambda: rules_health() == dict.fromkeys(SHIPPED, "ok"), "every rule evaluated")
            await async_wait_until(
                lambda: [t["health"] for t in p.api("targets")["activeTargets"]] == ["up"], "the app scraped"
            )
            await async_wait_until(
                lambda: p.api("query?query=shopfloor_collector_connected")["result"], "the collector metric scraped"
            )
            assert not p.firing()  # a healthy app: nothing fires

            await sim.stop()  # the device goes away
            await async_wait_until(
                lambda: fires(p, "ShopfloorCollectorDisconnected", source=collector.source, severity="critical"),
                "ShopfloorCollectorDisconnected to fire",
            )
        # the app is stopped: Prometheus cannot scrape it
        await async_wait_until(
            lambda: fires(p, "ShopfloorScrapeFailing", job="shopfloor"), "ShopfloorScrapeFailing to fire"
        )
    finally:
        if prometheus is not None:
            prometheus.close()
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 10)
        with contextlib.suppress(Exception):
            await sim.stop()
