"""Raw retention in a real InfluxDB: the server drops raw samples by the retention policy the store sets, the ledger
lives in a policy of its own and outlives them, and the serving process sets the policy only once the ledger holds
every shift older than the retention."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import pytest

from bench._influx import InfluxServer
from shopfloor.api.ledger import Ledger
from shopfloor.api.retention import run_retention
from shopfloor.models.calendar import shift_instances
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.plant import Plant
from shopfloor.models.samples import SampleBatch
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.store import open_store
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.influx import InfluxStore
from shopfloor.store.influx.store import InfluxQueryError
from tests.fixtures.waiting import wait_until
from tests.models._ledger_rows import printer_row
from tests.store.conftest import influx_plant

WAIT_S = 120.0  # generous: two shared cores


def one_day_store(base_plant: Plant, server: InfluxServer, bucket: str, spool: Path) -> tuple[Plant, InfluxStore]:
    plant = influx_plant(base_plant, server, bucket, spool)
    plant = plant.model_copy(update={"storage": plant.storage.model_copy(update={"raw_retention_days": 1})})
    store = open_store(plant, env={})
    assert isinstance(store, InfluxStore)
    return plant, store


def states(ts_ns: list[int]) -> SampleBatch:
    n = len(ts_ns)
    return SampleBatch(
        MEASUREMENT_PRINTER,
        np.array(ts_ns, dtype=np.int64),
        np.full(n, "mso-cpp-1", dtype=object),
        np.full(n, "state", dtype=object),
        np.ones(n),
        np.zeros(n, dtype=np.uint8),
        np.full(n, "", dtype=object),
    )


def policies(server: InfluxServer, bucket: str) -> dict[str, tuple[str, str, bool]]:
    """name -> (duration, shard group duration, default), as the server says."""
    series = server.query(f'SHOW RETENTION POLICIES ON "{bucket}"', db=bucket)["results"][0]["series"][0]
    return {row[0]: (row[1], row[2], row[4]) for row in series["values"]}


def test_the_server_drops_old_samples_and_the_ledger_outlives_them(
    base_plant: Plant, influx_server: InfluxServer, tmp_path: Path
) -> None:
    server = influx_server
    bucket = server.new_bucket()
    _, store = one_day_store(base_plant, server, bucket, tmp_path / "spool")
    try:
        now = time.time_ns()
        old = now - 20 * NS_PER_DAY  # in a shard group of the default policy (a week) that ended long ago
        store.write(states([old + k * NS_PER_S for k in range(10)] + [now - 3600 * NS_PER_S]))
        row = dataclasses.replace(printer_row(0, "mso-cpp-1", 12.5), shift_start_ns=old, shift_end_ns=old + 1)
        store.write_ledger([row])
        assert store.flush(timeout_s=WAIT_S)
        assert store.raw_kept_since_ns(now) is None, "no policy yet: every sample the server has is whole"
        assert store.oldest_raw_ns() == old
        assert server.count(MEASUREMENT_PRINTER, "state", db=bucket) == 11

        note = store.ensure_retention()
        assert note == "retention policy 'autogen' of the samples set to 1 day"
        assert policies(server, bucket) == {
            "autogen": ("24h0m0s", "24h0m0s", True),
            "ledger": ("0s", "168h0m0s", False),
        }
        assert store.raw_kept_since_ns(now) == now - NS_PER_DAY
        assert store.ensure_retention() is None, "a second call finds everything in place"

        # The server's retention service (checking every second here) drops the old shard group.
        wait_until(
            lambda: server.count(MEASUREMENT_PRINTER, "state", db=bucket) == 1, "the server to drop old samples", WAIT_S
        )
        assert store.read_ledger(old, old + 1) == [row], "the ledger's policy keeps its rows for ever"
    finally:
        store.close()


def test_the_policy_is_set_only_once_the_ledger_holds_every_older_shift(
    base_plant: Plant, influx_server: InfluxServer, tmp_path: Path
) -> None:
    server = influx_server
    bucket = server.new_bucket()
    plant, store = one_day_store(base_plant, server, bucket, tmp_path / "spool")
    notes = AnnotationStore(tmp_path / "annotations.sqlite3")
    try:
        now = time.time_ns()
        start = now - NS_PER_DAY - 18 * 3600 * NS_PER_S  # two or three shifts older than the retention
        store.write(states(list(range(start, now, 60 * NS_PER_S))))  # a state a minute is enough to compute from
        assert store.flush(timeout_s=WAIT_S)
        ledger = Ledger(plant, store, notes, config=KpiConfig.of(plant), clock_ns=lambda: now)

        first = run_retention(ledger, now, absorb_limit=1)
        assert first.absorbed == 1 and first.waiting is not None and first.policy is None and first.drop is None
        assert policies(server, bucket)["autogen"][0] == "0s", "raw samples the ledger has not absorbed stay"

        second = run_retention(ledger, now)
        assert second.waiting is None and second.policy == "retention policy 'autogen' of the samples set to 1 day"
        older = [i for i in shift_instances(plant.shift_calendar, plant.tz, start, now) if i.end_ns <= second.cutoff_ns]
        assert second.absorbed == len(older) - 1
        assert store.flush(timeout_s=WAIT_S)
        held = {r.shift_start_ns for r in store.read_ledger(older[0].start_ns, older[-1].end_ns)}
        assert held == {i.start_ns for i in older}
        assert run_retention(ledger, now).cutoff_ns is None, "in force: the server drops by itself from now on"
    finally:
        notes.close()
        store.close()


def test_where_the_ledger_policy_cannot_be_made_the_ledger_goes_with_the_samples(
    base_plant: Plant,
    influx_server: InfluxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A user without the right to make policies (or a server without them): nothing waits behind the ledger."""
    server = influx_server
    bucket = server.new_bucket()
    _, store = one_day_store(base_plant, server, bucket, tmp_path / "spool")

    def refused(client: object = None) -> dict[str, tuple[int, bool]]:
        raise InfluxQueryError("InfluxQL statement 0 failed: error authorizing query: not an admin", answered=True)

    monkeypatch.setattr(store, "_policies", refused)
    try:
        now = time.time_ns()
        start = now - NS_PER_DAY
        row = dataclasses.replace(printer_row(0, "mso-cpp-1", 3.0), shift_start_ns=start, shift_end_ns=start + 1)
        with caplog.at_level(logging.WARNING, logger="shopfloor.store.influx.store"):
            store.write_ledger([row])
            store.write(states([now]))
            assert store.flush(timeout_s=WAIT_S), "the samples behind the ledger rows are delivered"
        assert server.count("kpi_ledger", "payload", db=bucket) == 1, "with the samples, in the default policy"
        assert store.read_ledger(row.shift_start_ns, row.shift_start_ns + 1) == [row]
        warnings = [
            r.getMessage() for r in caplog.records if "cannot make the ledger's retention policy" in r.getMessage()
        ]
        assert len(warnings) == 1 and 'CREATE RETENTION POLICY "ledger"' in warnings[0]
    finally:
        store.close()
