"""The collector against the project's fleet simulator (simulators/fleet), over loopback.

The simulator's clock is frozen, so what it serves stays put and every
sample can be compared with the server's own DataValue: value and source
timestamp. Faults are the simulator's own injections.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pytest
from asyncua import ua

from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.calendar import to_ns
from shopfloor.models.plant import SecurityMode, opcua_password
from shopfloor.models.states import Quality
from shopfloor.models.timebase import SystemClock
from shopfloor.simulators.fleet import FleetSecurity, FleetSimulator, generate_certificate
from tests.collectors.opcua.conftest import (
    RecordingSink,
    all_keys,
    at_endpoint,
    no_value_unless_good,
    plant_variant,
    running,
    wait_until,
)

PASSWORD_ENV = "SHOPFLOOR_TEST_SIM_PASSWORD"


class FrozenClock(SystemClock):
    def __init__(self, now_ns: int) -> None:
        self.ns = now_ns

    def now_ns(self) -> int:
        return self.ns


def simulator(security: FleetSecurity | None = None, n_robots: int = 4) -> FleetSimulator:
    plant = plant_variant(n_robots)
    return FleetSimulator(
        plant,
        endpoint="opc.tcp://127.0.0.1:0/fleet",
        port=0,
        seed=7,
        clock=FrozenClock(1_767_600_000_000_000_000),
        security=security or FleetSecurity(),
    )


@pytest.fixture
async def sim():
    fleet_sim = simulator()
    await fleet_sim.start()
    yield fleet_sim
    await fleet_sim.stop()


def collector_for(
    sim: FleetSimulator, sink: RecordingSink, env: Mapping[str, str] | None = None, **opcua
) -> OpcUaFleetCollector:
    """A collector of the simulator's fleet; a password is read from ``env``, as a process does at its start."""
    fleet = at_endpoint(sim.fleet, sim.endpoint, **opcua)
    return OpcUaFleetCollector(
        fleet,
        sink,
        reconnect_initial_s=0.1,
        reconnect_max_s=1.0,
        retry_interval_s=0.3,
        password=opcua_password(fleet.opcua, env or {}),
    )


def served(sim: FleetSimulator, robot_id: str, field: str) -> ua.DataValue:
    return sim.server.read_attribute_value(sim.node_id(robot_id, field))


def connectivity(sink: RecordingSink) -> list[bool]:
    return [e.connected for e in sink.events]


async def test_every_variable_arrives_as_the_simulator_serves_it(sim: FleetSimulator, sink: RecordingSink) -> None:
    collector = collector_for(sim, sink)
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(collector.fleet), "every robot variable")
    latest = sink.latest()
    for robot_id, field in all_keys(collector.fleet):
        dv = served(sim, robot_id, field)
        ts, value, quality, _ = latest[(robot_id, field)]
        assert quality == Quality.GOOD
        assert value == float(dv.Value.Value), (robot_id, field)
        assert ts == to_ns(dv.SourceTimestamp), (robot_id, field)


async def test_injected_bad_status_and_out_of_range_values(sim: FleetSimulator, sink: RecordingSink) -> None:
    collector = collector_for(sim, sink)
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(collector.fleet), "every robot variable")
        mark = len(sink.log)
        await sim.inject_bad_status("r001", "charging_power_kw", "BadCommunicationError")
        await sim.inject_value("r002", "soc_pct", 150.0)
        await sim.inject_value("r003", "position_x_m", math.nan)
        keys = {("r001", "charging_power_kw"), ("r002", "soc_pct"), ("r003", "position_x_m")}
        await wait_until(lambda: keys <= set(sink.latest(mark)), "the three faults")
        latest = sink.latest(mark)
        _, value, quality, detail = latest[("r001", "charging_power_kw")]
        assert (quality, detail) == (Quality.BAD_STATUS, "BadCommunicationError") and math.isnan(value)
        assert latest[("r002", "soc_pct")][2] == Quality.BAD_OUT_OF_RANGE
        assert latest[("r003", "position_x_m")][2] == Quality.BAD_DECODE
        mark = len(sink.log)
        await sim.clear_faults()
        await wait_until(lambda: keys <= sink.good_keys(mark), "good values once the faults are cleared")
    assert no_value_unless_good(sink)


async def test_simulator_restart_drop_and_stall_are_gaps_then_values_flow(
    sim: FleetSimulator, sink: RecordingSink
) -> None:
    collector = collector_for(sim, sink)
    fleet = collector.fleet
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "every robot variable")
        expected = [True]

        async def a_fresh_value_arrives(fault: str) -> None:
            mark = len(sink.log)
            await sim.inject_value("r004", "error_code", 300 + len(expected))
            await wait_until(
                lambda: sink.latest(mark).get(("r004", "error_code"), (0, None))[1] == 300 + len(expected),
                f"a fresh value after {fault}",
            )

        for fault in ("restart", "drop", "stall"):
            if fault == "restart":
                await sim.restart()
            elif fault == "drop":
                assert await sim.inject_drop_connections() >= 1
            else:
                await sim.inject_stall(True)
            expected.append(False)
            await wait_until(lambda: connectivity(sink) == expected, f"the loss on {fault}")
            if fault == "stall":
                await sim.inject_stall(False)
            expected.append(True)
            await wait_until(lambda: connectivity(sink) == expected, f"the reconnection after {fault}")
            # The collector rebuilt its subscription: an injected change reaches it.
            await a_fresh_value_arrives(fault)
            await sim.clear_faults()
    assert collector.stats.reconnects == 3
    down = False
    for kind, item, _ in sink.log:  # a gap, not zeros: nothing is written while the link is down
        if kind == "conn":
            down = not item.connected
        else:
            assert not down


@pytest.mark.parametrize("mode", [SecurityMode.SIGN, SecurityMode.SIGN_AND_ENCRYPT])
async def test_secure_simulator_with_certificate_and_user(
    tmp_path: Path, sink: RecordingSink, mode: SecurityMode
) -> None:
    client_cert, client_key = tmp_path / "client.der", tmp_path / "client.pem"
    generate_certificate(client_cert, client_key, "collector", "urn:shopfloor:test:collector")
    security = FleetSecurity(
        modes=(mode,),
        users={"fleet-reader": "right-password"},
        allow_anonymous=False,
        trusted_client_certificates=(client_cert,),
        certificate_dir=tmp_path,
    )
    fleet_sim = simulator(security, n_robots=2)
    await fleet_sim.start()
    try:
        opcua = {
            "security_policy": "Basic256Sha256",
            "security_mode": mode.value,
            "client_certificate": client_cert,
            "client_private_key": client_key,
            "server_certificate": fleet_sim.server_certificate,
            "username": "fleet-reader",
            "password_env": PASSWORD_ENV,
        }
        rejected = RecordingSink()
        collector = collector_for(fleet_sim, rejected, {PASSWORD_ENV: "wrong-password"}, **opcua)
        async with running(collector):
            await wait_until(lambda: collector.stats.attempts >= 2, "two rejected attempts")
        assert connectivity(rejected) == [False] and "rejected user 'fleet-reader'" in rejected.events[0].detail
        collector = collector_for(fleet_sim, sink, {PASSWORD_ENV: "right-password"}, **opcua)
        async with running(collector):
            await wait_until(lambda: sink.good_keys() == all_keys(collector.fleet), f"values over {mode.value}")
        assert connectivity(sink) == [True]
    finally:
        await fleet_sim.stop()
