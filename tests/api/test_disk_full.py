"""The real app over stores on a real full disk (a tiny tmpfs): 503 with the reason, a few log lines, the truth on
/metrics - and, once space returns, everything collected meanwhile is stored and the API answers again."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench._ports import free_port
from shopfloor.api.app import create_app
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.plant import Plant
from shopfloor.models.samples import SampleBatch
from shopfloor.models.states import Quality
from shopfloor.simulators.history import plant_history
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from shopfloor.store.influx import InfluxConnection, InfluxStore
from tests.api.conftest import ALICE, config
from tests.fixtures.clock import ManualClock
from tests.fixtures.tmpfs import fill, free
from tests.fixtures.waiting import wait_until

S = 1_000_000_000
ENDPOINTS = ("/api/v1/status", "/api/v1/kpis", "/api/v1/teams/scoreboard")
NOTE = {"equipment": "mso-cpp-1", "text": "ink changed"}


def metric(client: TestClient, name: str) -> float:
    text = client.get("/metrics").text
    match = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match is not None, f"{name} missing from /metrics"
    return float(match.group(1))


class Poller:
    """What a collector does: one printer sample per poll, numbered, so the stored count can be checked."""

    def __init__(self, plant: Plant, store: DuckDBStore | InfluxStore) -> None:
        self.equipment = plant.printers[0].id
        self.store = store
        self.base_ns = time.time_ns()
        self.polls = 0

    def poll(self) -> None:
        ts = self.base_ns + self.polls * 1000
        rows = [(ts, self.equipment, "speed_m_min", 80.0, Quality.GOOD, "")]
        self.store.write(SampleBatch.from_rows(MEASUREMENT_PRINTER, rows))
        self.polls += 1

    def until(self, condition: object, what: str) -> None:
        def polled() -> object:
            self.poll()
            return condition() if callable(condition) else condition

        wait_until(polled, what)


@pytest.fixture
def embedded(plant: Plant, tiny_fs: Path) -> Iterator[tuple[DuckDBStore, AnnotationStore, ManualClock]]:
    clock = ManualClock()
    store = DuckDBStore(tiny_fs / "shopfloor.duckdb", plant.plant.id, flush_interval_s=0.05, clock=clock)
    notes = AnnotationStore(tiny_fs / "annotations.sqlite3", clock=clock)
    end = time.time_ns()
    for batch in plant_history(plant, end - 1800 * S, end).batches:
        store.write(batch)
    store.flush()
    try:
        yield store, notes, clock
    finally:
        notes.close()
        store.close()


def test_a_full_disk_answers_503_with_the_reason_and_loses_nothing(
    plant: Plant,
    tiny_fs: Path,
    embedded: tuple[DuckDBStore, AnnotationStore, ManualClock],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    store, notes, clock = embedded
    poller = Poller(plant, store)
    with TestClient(create_app(plant, store, annotations=notes, config=config())) as client:
        for path in ENDPOINTS:
            assert client.get(path).status_code == 200, path
        assert client.post("/api/v1/notes", json=NOTE, headers=ALICE).status_code == 201
        assert metric(client, "shopfloor_store_writable") == 1

        filler = fill(tiny_fs)
        poller.until(lambda: store.health().problem, "a commit to fail on the full disk")
        for _ in range(50):
            poller.poll()
        for path in ENDPOINTS:
            r = client.get(path)
            assert r.status_code == 503, (path, r.text)
            assert "no space left on device: cannot write DuckDB file" in r.json()["detail"], r.text
            assert re.search(r"[\d,]+ samples (not stored yet|wait in memory)", r.json()["detail"]), r.text
            assert r.headers["retry-after"] == "5"
        r = client.post("/api/v1/notes", json=NOTE, headers=ALICE)
        assert r.status_code == 503, r.text
        assert "no space left on device: cannot write annotations file" in r.json()["detail"]
        assert client.get("/health").status_code == 200  # the API itself is fine
        with client.websocket_connect("/api/v1/live") as live:  # the live channel says why, and stays
            assert live.receive_json()["type"] == "hello"
            said = [live.receive_json() for _ in range(2)]  # status (from memory), then what the KPIs need
            assert said[-1]["type"] == "store_unavailable", said
            assert "no space left on device" in said[-1]["detail"], said
            live.send_text("still there?")  # the channel only listens; a closed one would fail here

        clock.advance(30)  # /metrics tells the truth: nothing commits, and for how long
        assert metric(client, "shopfloor_store_writable") == 0
        assert metric(client, "shopfloor_store_commit_lag_seconds") >= 30
        assert metric(client, "shopfloor_store_unsaved_samples") >= 50
        assert metric(client, "shopfloor_store_dropped_samples_total") == 0
        lag = re.search(
            r'^shopfloor_store_lag_seconds\{equipment="mso-cpp-1"\} ([0-9.e+-]+)$',
            client.get("/metrics").text,
            re.MULTILINE,
        )
        assert lag is not None and float(lag.group(1)) < 30  # collection itself keeps up: that gauge says so

        free(filler)
        wait_until(lambda: store.health().problem is None and store.health().unsaved_samples == 0, "recovery")
        for path in ENDPOINTS:
            assert client.get(path).status_code == 200, path
        assert client.post("/api/v1/notes", json=NOTE, headers=ALICE).status_code == 201
        assert metric(client, "shopfloor_store_writable") == 1
        assert metric(client, "shopfloor_store_commit_lag_seconds") == 0

    got = store.read_series(
        MEASUREMENT_PRINTER, [poller.equipment], ["speed_m_min"], poller.base_ns, poller.base_ns + S
    )
    assert len(got[poller.equipment]["speed_m_min"].ts_ns) == poller.polls, "every poll is stored"

    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"
    by_logger = {
        name: [r for r in caplog.records if r.name == name]
        for name in (
            "shopfloor.store.duckdb_store",
            "shopfloor.store.annotations",
        )
    }
    assert [r.levelno for r in by_logger["shopfloor.store.duckdb_store"]] == [logging.ERROR, logging.WARNING]
    assert [r.levelno for r in by_logger["shopfloor.store.annotations"]] == [logging.ERROR, logging.WARNING]
    per_request = [
        r for r in caplog.records if r.levelno >= logging.WARNING and "store unavailable for" in r.getMessage()
    ]
    assert per_request == []  # the stores said it; not once more per request


def test_influxdb_spool_on_a_full_disk_says_so_and_counts_what_it_drops(
    plant: Plant,
    tiny_fs: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The InfluxDB backend writes to its spool on local disk; full, it drops (and counts) what does not fit,
    answers 503 with the reason, and logs it as one outage - never a traceback per fsync."""
    caplog.set_level(logging.INFO)
    connection = InfluxConnection(
        url=f"http://127.0.0.1:{free_port()}",  # no server: everything stays in the spool
        org="o",
        bucket="b",
        token="t",
        spool_dir=tiny_fs / "spool",
        flush_interval_s=0.05,
        timeout_s=2.0,
        flush_timeout_s=0.1,
    )
    store = InfluxStore(connection, plant.plant.id)
    notes = AnnotationStore(tmp_path / "a.sqlite3")
    poller = Poller(plant, store)
    try:
        with TestClient(create_app(plant, store, annotations=notes, config=config())) as client:
            filler = fill(tiny_fs)
            poller.until(lambda: store.health().problem, "the spool to fail on the full disk")
            r = client.get("/api/v1/status")
            assert r.status_code == 503 and "no space left on device: cannot write spool" in r.json()["detail"], r.text
            assert metric(client, "shopfloor_store_writable") == 0
            poller.until(lambda: store.health().dropped_samples > 0, "a record that does not fit")
            assert metric(client, "shopfloor_store_dropped_samples_total") > 0
            free(filler)
            poller.until(lambda: store.health().problem is None, "the spool to write again")
            assert client.get("/api/v1/status").status_code == 200  # InfluxDB is away, but that is a read matter
    finally:
        notes.close()
        store.close(timeout_s=0.1)
    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"
    spool_lines = [r for r in caplog.records if r.name == "shopfloor.store.influx.spool" and "spool" in r.getMessage()]
    assert [r.levelno for r in spool_lines if "no space" in r.getMessage() or "works again" in r.getMessage()] == [
        logging.ERROR,
        logging.WARNING,
    ]
