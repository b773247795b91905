"""open_store picks the backend from the plant file, and the environment overrides the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.models.plant import InfluxSettings, Plant, StorageSettings
from shopfloor.store import open_store
from shopfloor.store.duckdb_store import DuckDBStore
from shopfloor.store.factory import influx_connection
from shopfloor.store.influx import InfluxStore
from tests.store.conftest import duckdb_plant, plant_with_storage


def test_default_plant_is_embedded(base_plant: Plant, tmp_path: Path) -> None:
    assert influx_connection(base_plant, env={}) is None
    store = open_store(duckdb_plant(base_plant, tmp_path / "a" / "x.duckdb"), env={})
    try:
        assert isinstance(store, DuckDBStore) and store.plant_id == "shanghai-1"
        assert (tmp_path / "a" / "x.duckdb").exists()
        # what the start-up lines say: callers ask the store, not its class
        assert store.describe() == f"embedded DuckDB {(tmp_path / 'a' / 'x.duckdb').resolve()}"
        assert store.kind == "DuckDBStore"
    finally:
        store.close()


def test_influx_url_in_env_switches_backend_and_env_wins(
    base_plant: Plant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default spool_dir is relative to the working directory
    env = {"INFLUX_URL": "http://127.0.0.1:1/", "INFLUX_TOKEN": "tok", "INFLUX_ORG": "o", "INFLUX_BUCKET": "b"}
    conn = influx_connection(base_plant, env=env)
    assert conn is not None
    assert (conn.url, conn.org, conn.bucket, conn.token) == ("http://127.0.0.1:1", "o", "b", "tok")
    store = open_store(base_plant, env=env)  # opening does not touch the network
    try:
        assert isinstance(store, InfluxStore)
        assert (tmp_path / "var" / "spool").is_dir()
        assert (store.describe(), store.kind) == ("InfluxDB (InfluxStore)", "InfluxStore")
    finally:
        store.close(timeout_s=0)


def test_file_settings_and_named_token_variable(base_plant: Plant) -> None:
    settings = InfluxSettings(
        url="https://influx.example:8086",
        org="plant-org",
        bucket="line",
        token_env="MY_TOKEN",
        batch_size=777,
        flush_interval_ms=250,
        retry_interval_ms=20,
    )
    plant = plant_with_storage(base_plant, StorageSettings(backend="influxdb", influxdb=settings))
    conn = influx_connection(plant, env={"MY_TOKEN": "named", "INFLUX_TOKEN": "generic"})
    assert conn is not None
    assert (conn.url, conn.org, conn.bucket, conn.token) == (
        "https://influx.example:8086",
        "plant-org",
        "line",
        "named",
    )
    assert (conn.batch_size, conn.flush_interval_s, conn.retry_interval_s) == (777, 0.25, 0.02)
    assert influx_connection(plant, env={"INFLUX_BUCKET": "other"}).bucket == "other"  # type: ignore[union-attr]  # not None for this plant
    assert "named" not in repr(conn)
