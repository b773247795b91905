"""With the InfluxDB backend and no server answering, the API says so (503) instead of failing (500)."""

from __future__ import annotations

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
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.influx import InfluxConnection, InfluxStore
from tests.api.conftest import config


@pytest.fixture
def down_client(plant: Plant, tmp_path: Path) -> Iterator[TestClient]:
    connection = InfluxConnection(
        url=f"http://127.0.0.1:{free_port()}",
        org="o",
        bucket="b",
        token="t",
        spool_dir=tmp_path / "spool",
        timeout_s=2.0,
        flush_timeout_s=0.1,
    )
    store = InfluxStore(connection, plant.plant.id)
    notes = AnnotationStore(tmp_path / "a.sqlite3")
    try:
        with TestClient(create_app(plant, store, annotations=notes, config=config())) as client:
            yield client
    finally:
        notes.close()
        store.close()


def test_kpis_answer_503_and_status_still_answers(down_client: TestClient) -> None:
    r = down_client.get("/api/v1/teams/scoreboard")
    assert r.status_code == 503 and "sample store is unavailable" in r.json()["detail"]
    assert r.headers["retry-after"] == "5"
    status = down_client.get("/api/v1/status")
    assert status.status_code == 200  # live values come from memory
    assert status.json()["printers"][0]["state"] is None  # nothing known yet, shown as unknown, not as 0
    assert down_client.get("/health").status_code == 200


def test_metrics_show_what_waits_in_the_spool(plant: Plant, down_client: TestClient) -> None:
    """Samples written while InfluxDB is away wait on disk; /metrics says how many bytes, so an operator sees it."""

    def backlog() -> float:
        text = down_client.get("/metrics").text
        match = re.search(r"^shopfloor_spool_backlog_bytes ([0-9.e+]+)$", text, re.MULTILINE)
        assert match is not None, text
        return float(match.group(1))

    assert backlog() == 0.0
    store = down_client.app.state.services.store  # type: ignore[attr-defined]  # app.state is untyped
    now = time.time_ns()
    store.write(
        SampleBatch.from_rows(MEASUREMENT_PRINTER, [(now, plant.printers[0].id, "speed_m_min", 80.0, Quality.GOOD, "")])
    )
    store.flush()  # the server is away: the flush gives up at its timeout and the sample stays spooled
    assert backlog() > 0
