"""The collector against a real asyncua server on loopback: values, timestamps, statuses, batching."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.calendar import to_ns
from shopfloor.models.states import Quality
from tests.collectors.opcua.conftest import (
    RecordingSink,
    all_keys,
    at_endpoint,
    fleet_variant,
    no_value_unless_good,
    running,
    wait_until,
)
from tests.collectors.opcua.fleet_server import FleetServer, expected_value, source_time


async def test_every_variable_arrives_with_its_value_and_source_timestamp(
    server: FleetServer, sink: RecordingSink
) -> None:
    fleet = at_endpoint(server.fleet, server.url)
    collector = OpcUaFleetCollector(fleet, sink)
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "every robot variable")
        await wait_until(collector.ready.is_set, "the subscription to be complete")
        assert collector.mode == "subscription"
    latest = sink.latest()
    for r_index, robot in enumerate(fleet.robots):
        for f_index, variable in enumerate(fleet.variables):
            ts, value, quality, _ = latest[(robot.id, variable.name)]
            assert quality == Quality.GOOD
            assert value == expected_value(fleet, r_index, variable.name)
            assert ts == to_ns(source_time(r_index, f_index))
    assert all(b.fleet == fleet.id and b.measurement == "robot" for b in sink.batches)
    # One batch per publish, not one per value.
    assert len(sink.batches) < len(all_keys(fleet))
    assert sink.events[0].connected and sink.events[0].source == f"opcua:{fleet.id}"
    assert sink.events[0].equipment == fleet.id
    assert collector.stats.notifications >= len(all_keys(fleet))


async def test_changes_arrive_and_bad_statuses_never_carry_values(server: FleetServer, sink: RecordingSink) -> None:
    fleet = at_endpoint(server.fleet, server.url)
    collector = OpcUaFleetCollector(fleet, sink)
    async with running(collector):
        await wait_until(lambda: sink.good_keys() == all_keys(fleet), "every robot variable")
        mark = len(sink.log)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        await server.set_value("r001", "soc_pct", 42.5, now)
        await server.set_value("r001", "charging_power_kw", 12.0, now, status="BadSensorFailure")
        await server.set_value("r002", "charging_power_kw", 11.0, now, status="UncertainLastUsableValue")
        await server.set_value("r002", "soc_pct", 130.0, now)  # max is 100
        await server.set_value("r003", "soc_pct", math.nan, now)
        changed = {
            ("r001", "soc_pct"),
            ("r001", "charging_power_kw"),
            ("r002", "charging_power_kw"),
            ("r002", "soc_pct"),
            ("r003", "soc_pct"),
        }
        await wait_until(lambda: changed <= set(sink.latest(mark)), "the five changes")
    latest = sink.latest(mark)
    assert latest[("r001", "soc_pct")][:3] == (to_ns(now), 42.5, Quality.GOOD)
    ts, value, quality, detail = latest[("r001", "charging_power_kw")]
    assert (quality, detail, ts) == (Quality.BAD_STATUS, "BadSensorFailure", to_ns(now)) and math.isnan(value)
    _, value, quality, detail = latest[("r002", "charging_power_kw")]
    assert (quality, detail) == (Quality.UNCERTAIN, "UncertainLastUsableValue") and math.isnan(value)
    _, value, quality, detail = latest[("r002", "soc_pct")]
    assert quality == Quality.BAD_OUT_OF_RANGE and "130" in detail and math.isnan(value)
    _, value, quality, _ = latest[("r003", "soc_pct")]
    assert quality == Quality.BAD_DECODE and math.isnan(value)
    assert no_value_unless_good(sink)


async def test_more_than_a_thousand_items_subscribe_in_batches(tmp_path: Path, sink: RecordingSink) -> None:
    fleet = fleet_variant(120, subscribe_batch_size=100, publishing_interval_ms=250, sampling_interval_ms=250)
    server = FleetServer(fleet, tmp_path)
    await server.start()
    try:
        fleet = at_endpoint(fleet, server.url)
        assert len(all_keys(fleet)) == 1080
        collector = OpcUaFleetCollector(fleet, sink)
        async with running(collector):
            await wait_until(lambda: sink.good_keys() == all_keys(fleet), "all 1080 items")
        assert collector.stats.create_item_requests == 11  # ceil(1080 / 100)
        assert collector.stats.monitored_items == 1080 and collector.stats.pending_items == 0
        # A publish carries many items: far fewer batches than items.
        assert len(sink.batches) < 100
        latest = sink.latest()
        assert latest[("r120", "soc_pct")][1] == expected_value(fleet, 119, "soc_pct")
    finally:
        await server.stop()


async def test_deadband_is_requested_on_numeric_variables(tmp_path: Path, sink: RecordingSink) -> None:
    fleet = fleet_variant(1, deadband_abs=5.0)
    server = FleetServer(fleet, tmp_path)
    await server.start()
    try:
        fleet = at_endpoint(fleet, server.url)
        collector = OpcUaFleetCollector(fleet, sink)
        async with running(collector):
            await wait_until(lambda: sink.good_keys() == all_keys(fleet), "every variable")
            mark = len(sink.log)
            t0 = dt.datetime.now(dt.UTC)
            base = expected_value(fleet, 0, "soc_pct")
            await server.set_value("r001", "soc_pct", base + 1.0, t0)  # inside the deadband: not reported
            await server.set_value("r001", "soc_pct", base + 20.0, t0 + dt.timedelta(seconds=1))
            await wait_until(lambda: ("r001", "soc_pct") in sink.latest(mark), "the change beyond the deadband")
        values = [v for _, r, f, v, _, _ in sink.rows(mark) if (r, f) == ("r001", "soc_pct")]
        assert values == [base + 20.0]
    finally:
        await server.stop()
