"""Real parts end to end: the printer simulator, polled by the Modbus poller, into a real store.

* InfluxDB going away mid-run (a real influxd behind nginx, stopped and
  restarted while the poller keeps its cadence): every poll's samples end up
  in the database exactly once. "Once" is checked on what the server
  acknowledged (the sender's line counter), because the database itself
  cannot show a duplicate: a re-sent point overwrites itself.
* A store refusing every batch (the collector's map has a signal the store's
  plant file does not declare): the poller keeps polling, the store sets each
  batch aside with the reason, each side logs the reason once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench._influx import InfluxServer
from shopfloor.collectors.modbus.poller import ModbusPoller
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.plant import Plant, load_plant
from shopfloor.simulators.clock import ManualClock
from shopfloor.simulators.printer.server import PrinterSimulator
from shopfloor.store import open_store
from shopfloor.store.duckdb_store import DuckDBStore
from shopfloor.store.factory import plant_fields
from shopfloor.store.influx import InfluxStore
from tests.collectors.modbus.test_against_simulator import pointed_at
from tests.collectors.modbus.test_poller import Running, wait_for
from tests.fixtures import influx as influx_fixtures
from tests.store.conftest import influx_plant

S = 1_000_000_000
WAIT_S = 120.0  # generous: two shared cores, influxd and the simulator on them too

private_influx_server = influx_fixtures.private_influx_server  # this module's own server: it is stopped mid-test


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant()


@pytest.fixture
async def sim(plant: Plant) -> AsyncIterator[PrinterSimulator]:
    clock = ManualClock(start_ns=1_795_000_000 * S)  # the model stands still: every poll is all GOOD
    async with PrinterSimulator(plant, host="127.0.0.1", port=0, seed=7, clock=clock) as simulator:
        yield simulator


async def test_influx_outage_mid_run_every_poll_stored_exactly_once(
    plant: Plant, sim: PrinterSimulator, private_influx_server: InfluxServer, tmp_path: Path
) -> None:
    server = private_influx_server
    bucket = server.new_bucket()
    store = open_store(influx_plant(plant, server, bucket, tmp_path / "spool"), env={})
    assert isinstance(store, InfluxStore)
    printer = pointed_at(sim)  # polls every 0.1 s
    signals = [s.name for s in printer.signals]
    poller = ModbusPoller(printer, store)
    closed = False
    try:
        async with Running(poller):
            await wait_for(lambda: poller.counters.polls >= 5, "five polls before the outage", WAIT_S)
            assert await asyncio.to_thread(store.flush, 30.0), "delivered while the server is up"
            # stop influxd off the event loop: the poller keeps its cadence while the server goes away
            await asyncio.to_thread(server.stop_influx)
            try:
                during = poller.counters.polls
                await wait_for(
                    lambda: store.sender.failures >= 2 and poller.counters.polls >= during + 10,
                    "ten polls into a server that is down",
                    WAIT_S,
                )
                assert store.spool.backlog_bytes() > 0  # spooled, not lost, not blocking the poller
            finally:
                await asyncio.to_thread(server.start_influx)
            after = poller.counters.polls
            await wait_for(lambda: poller.counters.polls >= after + 5, "five polls after the restart", WAIT_S)
        store.close(timeout_s=WAIT_S)
        closed = True
    finally:
        if not closed:
            store.close(timeout_s=1.0)
    polls = poller.counters.polls
    assert poller.counters.sink_failures == 0 and poller.counters.failures == 0
    assert store.spool.backlog_bytes() == 0, "close() delivered the backlog"
    assert store.spool.dead_letters.entries() == []
    # Per field: every poll once, as a value or (if the device said so) as a quality record.
    body = server.query('SELECT count("code") FROM "quality" GROUP BY "field"', db=bucket)
    bad = {s["tags"]["field"]: s["values"][0][1] for s in body["results"][0].get("series", [])}
    counted = {f: server.count(MEASUREMENT_PRINTER, f, db=bucket) + bad.get(f, 0) for f in signals}
    assert counted == dict.fromkeys(signals, polls), (polls, counted)
    # Exactly once on the wire: lines acknowledged = one per sample of every poll + the two link events
    # (connected at the first poll, "collector stopped" at the end) — no more.
    assert store.sender.sent_lines == polls * len(signals) + 2, (store.sender.sent_lines, polls)
    assert server.count("connectivity", "connected", db=bucket) == 2


async def test_a_store_refusing_every_batch_sets_them_aside_and_polling_goes_on(
    plant: Plant, sim: PrinterSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # The store's plant file predates the power meter: the collector's map has a signal it does not declare.
    fields = plant_fields(plant)
    fields[MEASUREMENT_PRINTER] = fields[MEASUREMENT_PRINTER] - {"power_kw"}
    store = DuckDBStore(tmp_path / "shopfloor.duckdb", plant.plant.id, known_fields=fields)
    poller = ModbusPoller(pointed_at(sim), store)
    try:
        async with Running(poller):
            await wait_for(lambda: poller.counters.polls >= 8, "eight polls", WAIT_S)
        polls = poller.counters.polls
        assert poller.counters.sink_failures == polls  # every batch refused, none ended the poller
        entries = store.refused.dead_letters.entries()
        assert len(entries) == polls and store.refused.count == polls  # none silently dropped
        assert all("power_kw" in e["reason"] for e in entries)
        assert [r[2] for r in entries[0]["rows"]] == [s.name for s in pointed_at(sim).signals]
        assert store.read_series(MEASUREMENT_PRINTER, ["mso-cpp-1"], None, 0, 2**62) == {"mso-cpp-1": {}}
        # the link events are not part of the breach: they are stored
        events = store.read_connectivity(["mso-cpp-1"], 0, 2**62)
        assert [e.connected for e in events] == [True, False]
    finally:
        store.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "refused a printer batch" in m and "power_kw" in m]) == 1, messages
    assert len([m for m in messages if "the sink refused" in m and "power_kw" in m]) == 1, messages
