"""A sink that raises (a store refusing a batch) never tears down a healthy OPC UA link."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from shopfloor.collectors.opcua import OpcUaFleetCollector
from shopfloor.models.samples import SampleBatch
from tests.collectors.opcua.conftest import RecordingSink, at_endpoint, running, wait_until
from tests.collectors.opcua.fleet_server import FleetServer


class RefusingSink(RecordingSink):
    """Refuses every batch carrying a soc_pct sample of r001 while ``refusing``; keeps the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing = True

    def write(self, batch: SampleBatch) -> None:
        if self.refusing and ((batch.equipment == "r001") & (batch.field == "soc_pct")).any():
            raise ValueError("refused: soc_pct of r001 (test)")
        super().write(batch)


async def test_a_raising_sink_is_counted_and_logged_once_and_the_link_stays_up(
    server: FleetServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = RefusingSink()
    fleet = at_endpoint(server.fleet, server.url)
    collector = OpcUaFleetCollector(fleet, sink)
    caplog.set_level(logging.INFO, logger="shopfloor.collectors.opcua")
    async with running(collector):
        # The initial values come in one batch, which holds r001's soc_pct: refused as a whole.
        await wait_until(lambda: collector.stats.sink_errors >= 1, "the first refused batch")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        await server.set_value("r002", "soc_pct", 55.0, now)
        await wait_until(lambda: ("r002", "soc_pct") in sink.good_keys(), "a later batch accepted")

        async def refused(value: float) -> None:
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            before = collector.stats.sink_errors
            await server.set_value("r001", "soc_pct", value, now)
            await wait_until(lambda: collector.stats.sink_errors > before, f"soc_pct {value} refused")

        for value in (41.0, 42.0):  # two more refusals of the same kind
            await refused(value)
        sink.refusing = False
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        await server.set_value("r001", "soc_pct", 43.0, now)
        await wait_until(lambda: ("r001", "soc_pct") in sink.good_keys(), "soc_pct accepted again")
        assert collector.ready.is_set() and collector.mode == "subscription"
    assert [e.connected for e in sink.events] == [True]  # up once, never torn down (a clean stop adds none)
    assert collector.stats.connects == 1
    assert collector.stats.sink_errors == 3
    # Logged once per stretch of failures, not once per batch: the initial batch, then the two refusals of
    # soc_pct in a row; each stretch ends with one line when the sink accepts again.
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "the sink refused" in m]) == 2, messages
    assert len([m for m in messages if "accepts writes again" in m]) == 2, messages
