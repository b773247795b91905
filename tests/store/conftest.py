"""Fixtures of the storage tests: both backends behind one ``open_store``-like factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench._influx import InfluxServer
from shopfloor.models.plant import EmbeddedStoreSettings, InfluxSettings, Plant, StorageSettings, load_plant
from shopfloor.store import SampleStore, open_store
from tests.fixtures.influx import influx_server, private_influx_server  # noqa: F401  # pytest fixtures

StoreFactory = Callable[[], SampleStore]


@pytest.fixture(scope="session")
def base_plant() -> Plant:
    return load_plant(None)


def plant_with_storage(plant: Plant, storage: StorageSettings) -> Plant:
    return plant.model_copy(update={"storage": storage})


def influx_plant(plant: Plant, server: InfluxServer, bucket: str, spool_dir: Path, **overrides: object) -> Plant:
    settings = InfluxSettings(
        url=server.url,
        org=server.org,
        bucket=bucket,
        spool_dir=spool_dir,
        flush_interval_ms=100,
        retry_interval_ms=50,
        max_retries=4,
        **overrides,
    )
    return plant_with_storage(plant, StorageSettings(backend="influxdb", influxdb=settings))


def duckdb_plant(plant: Plant, path: Path) -> Plant:
    return plant_with_storage(plant, StorageSettings(backend="embedded", embedded=EmbeddedStoreSettings(path=path)))


@pytest.fixture(params=["duckdb", "influxdb"])
def open_test_store(request: pytest.FixtureRequest, base_plant: Plant, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens (and re-opens, on the same file / bucket / spool) a store of the parametrised backend."""
    if request.param == "duckdb":
        plant = duckdb_plant(base_plant, tmp_path / "db" / "shopfloor.duckdb")
    else:
        server: InfluxServer = request.getfixturevalue("influx_server")
        plant = influx_plant(base_plant, server, server.new_bucket(), tmp_path / "spool")
    opened: list[SampleStore] = []

    def factory() -> SampleStore:
        store = open_store(plant, env={})
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()
