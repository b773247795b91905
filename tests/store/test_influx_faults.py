"""InfluxDB going away, rejecting points, and writers being killed: nothing is lost, nothing doubled.

These run against this module's own influxd + nginx (``private_influx_server``),
which they stop and restart.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import pytest

from bench._influx import InfluxServer
from bench._ports import free_port
from shopfloor.models.plant import Plant
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.states import Quality
from shopfloor.store import open_store
from shopfloor.store.influx import InfluxStore
from tests.fixtures.waiting import wait_until
from tests.store import _killed_writer
from tests.store._batches import T0, S, as_dict, batch, good
from tests.store.conftest import influx_plant

WAIT_S = 120.0  # generous: two shared cores


wait_for = functools.partial(wait_until, timeout_s=WAIT_S)


def counter_batch(i: int, n: int = 100) -> SampleBatch:
    ts = T0 + i * S + np.arange(n, dtype=np.int64) * 1000
    return SampleBatch(
        "printer",
        ts,
        np.full(n, "mso-cpp-1", dtype=object),
        np.full(n, "printed_m_total", dtype=object),
        i * 1000.0 + np.arange(n, dtype=np.float64),
        np.zeros(n, np.uint8),
        np.full(n, "", dtype=object),
    )


def open_influx(base_plant: Plant, server: InfluxServer, bucket: str, spool: Path) -> InfluxStore:
    store = open_store(influx_plant(base_plant, server, bucket, spool), env={})
    assert isinstance(store, InfluxStore)
    return store


def test_outage_then_recovery_delivers_everything_once(
    base_plant: Plant, private_influx_server: InfluxServer, tmp_path: Path
) -> None:
    server = private_influx_server
    bucket = server.new_bucket()
    store = open_influx(base_plant, server, bucket, tmp_path / "spool")
    try:
        for i in range(20):
            store.write(counter_batch(i))
        assert store.flush(timeout_s=WAIT_S)
        assert server.count("printer", "printed_m_total", db=bucket) == 2000
        assert store.sender.sent_lines == 2000
        server.stop_influx()
        for i in range(20, 60):
            store.write(counter_batch(i))  # returns at once: the network is not in the way
        assert not store.flush(timeout_s=0.5)
        wait_for(lambda: store.sender.failures >= 2, "the sender to notice the outage")
        assert store.spool.backlog_bytes() > 0
        for i in range(60, 80):
            store.write(counter_batch(i))
    finally:
        server.start_influx()
    try:
        assert store.flush(timeout_s=WAIT_S)
        # Every sample, exactly once. The database count alone cannot show "not twice": InfluxDB keeps one
        # point per series and timestamp, so a re-sent line overwrites itself. What the server accepted (2xx)
        # can: one sample is one line, and a line acknowledged twice would make this 8000 + the re-sent lines.
        assert store.sender.sent_lines == 8000
        assert store.sender.dead_lettered_lines == 0
        assert server.count("printer", "printed_m_total", db=bucket) == 8000
        got = store.read_series("printer", ["mso-cpp-1"], ["printed_m_total"], T0, T0 + 100 * S)
        series = got["mso-cpp-1"]["printed_m_total"]
        expected = np.concatenate([counter_batch(i).value for i in range(80)])
        np.testing.assert_array_equal(series.value, expected)  # sorted by time = the order written
        assert store.spool.dead_letters.entries() == []
        assert store.sender.failures == 0
    finally:
        store.close()


def test_rejected_points_are_dead_lettered_and_the_rest_written(
    base_plant: Plant, private_influx_server: InfluxServer, tmp_path: Path
) -> None:
    server = private_influx_server
    bucket = server.new_bucket()
    # Someone else wrote dryer_1_temp_c as a string into this shard: InfluxDB now rejects our floats (400).
    assert server.write_raw(f'printer,equipment=mso-cpp-1,plant=x dryer_1_temp_c="hot" {T0}', db=bucket) == 204
    store = open_influx(base_plant, server, bucket, tmp_path / "spool")
    try:
        rows = [(T0 + k * S, "mso-cpp-1", "speed_m_min", float(k)) for k in range(1, 41)]
        rows += [(T0 + k * S, "mso-cpp-1", "dryer_1_temp_c", 160.0 + k) for k in (5, 17, 33)]
        store.write(good("printer", rows))
        assert store.flush(timeout_s=WAIT_S)
        dead = store.spool.dead_letters.entries()
        assert sorted(d["lines"] for d in dead) == sorted(
            f"printer,equipment=mso-cpp-1,plant=shanghai-1 dryer_1_temp_c={160.0 + k} {T0 + k * S}" for k in (5, 17, 33)
        )
        assert all(d["status"] == 400 and "field type conflict" in d["reason"] for d in dead)
        got = store.read_series("printer", ["mso-cpp-1"], ["speed_m_min"], T0, T0 + 100 * S)
        assert as_dict(got["mso-cpp-1"]["speed_m_min"]) == {t: v for t, _, f, v in rows if f == "speed_m_min"}
        store.write(good("printer", [(T0 + 50 * S, "mso-cpp-1", "speed_m_min", 1.0)]))
        assert store.flush(timeout_s=WAIT_S)  # not stuck behind the rejected points
        assert len(store.spool.dead_letters.entries()) == 3
    finally:
        store.close()


def test_close_during_outage_spools_and_the_next_start_delivers(
    base_plant: Plant, private_influx_server: InfluxServer, tmp_path: Path
) -> None:
    server = private_influx_server
    bucket = server.new_bucket()
    server.stop_influx()
    try:
        store = open_influx(base_plant, server, bucket, tmp_path / "spool")
        store.write(batch("printer", [(T0, "mso-cpp-1", "state", None, Quality.BAD_NO_COMMUNICATION, "timeout")]))
        for i in range(5):
            store.write(counter_batch(i))
        store.write_connectivity([ConnectivityEvent(T0, "mso-cpp-1", "modbus:mso-cpp-1", False, "refused")])
        store.close(timeout_s=0.5)
    finally:
        server.start_influx()
    store = open_influx(base_plant, server, bucket, tmp_path / "spool")
    try:
        assert store.flush(timeout_s=WAIT_S)
        assert server.count("printer", "printed_m_total", db=bucket) == 500
        assert len(store.read_quality(["mso-cpp-1"], T0, T0 + S)) == 1
        assert len(store.read_connectivity(["mso-cpp-1"], T0, T0 + S)) == 1
    finally:
        store.close()


def test_sigkilled_writer_loses_at_most_one_flush_interval(
    base_plant: Plant, private_influx_server: InfluxServer, tmp_path: Path
) -> None:
    server = private_influx_server
    bucket = server.new_bucket()
    flush_s, margin_s = 0.2, 1.0  # margin: a loaded machine may run the fsync thread late
    spool = tmp_path / "spool"
    # The killed writer's InfluxDB is unreachable: whatever survives, survives in the spool.
    dead_url = f"http://127.0.0.1:{free_port()}"
    written, _kill_time = _killed_writer.run_and_kill(
        ["influxdb", dead_url, bucket, str(spool), str(flush_s)], min_batches=60, min_seconds=2.5
    )
    store = open_influx(base_plant, server, bucket, spool)  # a new process's store replays the spool
    try:
        assert store.flush(timeout_s=WAIT_S)
        got = store.read_series("printer", ["mso-cpp-1"], ["speed_m_min"], T0, T0 + 10**12)
        per_batch = np.bincount(got["mso-cpp-1"]["speed_m_min"].value.astype(int))
    finally:
        store.close()
    survived = np.flatnonzero(per_batch).tolist()
    assert set(per_batch[survived].tolist()) == {_killed_writer.PER_BATCH}, "a batch arrives whole or not at all"
    assert survived == list(range(len(survived))), "what survives is everything up to some point, in order"
    lost_times = [t for i, t in written.items() if i >= len(survived)]
    # On the writer's own timeline: everything handed over more than one flush interval (plus a margin for
    # the fsync thread running behind the writing thread) before the newest batch the writer reported has
    # survived. From the kill instead, a writer starved as a whole just before it (no writes and no
    # flushes) would count time in which nothing happened as loss.
    newest = max(written.values())
    assert all(t > newest - flush_s - margin_s for t in lost_times), (len(survived), len(written))
    assert len(survived) >= len(written) // 2


def test_layout_follows_the_contract(base_plant: Plant, private_influx_server: InfluxServer, tmp_path: Path) -> None:
    server = private_influx_server
    bucket = server.new_bucket()
    store = open_influx(base_plant, server, bucket, tmp_path / "spool")
    try:
        store.write(good("printer", [(T0, "mso-cpp-1", "state", 3.0)]))
        store.write(
            batch(
                "robot",
                [
                    (T0, "r01", "soc_pct", 50.0, Quality.GOOD, ""),
                    (T0, "r01", "state", None, Quality.BAD_STATUS, "BadNodeIdUnknown"),
                ],
                fleet="ev-robots",
            )
        )
        store.write_connectivity([ConnectivityEvent(T0, "ev-robots", "opcua:ev-robots", True)])
        assert store.flush(timeout_s=WAIT_S)
    finally:
        store.close()

    def keys(q: str) -> dict[str, set[str]]:
        body = server.query(q, db=bucket)
        return {s["name"]: {row[0] for row in s["values"]} for s in body["results"][0]["series"]}

    assert keys("SHOW TAG KEYS") == {
        "printer": {"plant", "equipment"},
        "robot": {"plant", "fleet", "equipment"},
        "quality": {"plant", "equipment", "field"},
        "connectivity": {"plant", "equipment", "source"},
    }
    body = server.query("SHOW FIELD KEYS", db=bucket)
    fields = {s["name"]: {tuple(row) for row in s["values"]} for s in body["results"][0]["series"]}
    assert fields == {
        "printer": {("state", "float")},
        "robot": {("soc_pct", "float")},
        "quality": {("code", "float"), ("detail", "string")},
        "connectivity": {("connected", "float"), ("detail", "string")},
    }


def test_token_never_logged(
    base_plant: Plant,
    private_influx_server: InfluxServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = private_influx_server
    secret = "s3cr3t-token-that-must-not-leak"
    plant = influx_plant(base_plant, server, server.new_bucket(), tmp_path / "spool")
    caplog.set_level(logging.DEBUG)
    store = open_store(plant, env={"INFLUX_TOKEN": secret, "INFLUX_URL": f"http://127.0.0.1:{free_port()}"})
    assert isinstance(store, InfluxStore)
    try:
        store.write(good("printer", [(T0, "mso-cpp-1", "state", 3.0)]))
        assert not store.flush(timeout_s=0.3)
        wait_for(lambda: store.sender.failures >= 2, "failed attempts against an unreachable server")
        # the live display still shows what this process wrote, server or not
        assert store.latest("printer", ["mso-cpp-1"]) == {"mso-cpp-1": {"state": (T0, 3.0)}}
    finally:
        store.close(timeout_s=0.1)
    assert "InfluxDB write failed" in caplog.text
    assert secret not in caplog.text
    assert secret not in repr(store.connection)
