"""With the InfluxDB backend and no server answering, the API says so (503) instead of failing (500)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from models.plant import Plant
from store.annotations import AnnotationStore
from store.influx_store import InfluxConnection, InfluxStore
from tests.api.conftest import config


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def down_client(plant: Plant, tmp_path: Path) -> Iterator[TestClient]:
    connection = InfluxConnection(url=f"http://127.0.0.1:{unused_port()}", org="o", bucket="b", token="t",
                                  spool_dir=tmp_path / "spool", timeout_s=2.0, flush_timeout_s=0.1)
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
