"""Choose and open the store the plant file (and the environment) asks for.

The environment overrides the file, so one plant file serves a laptop demo
(embedded DuckDB) and a plant server (InfluxDB):

* ``INFLUX_URL`` set → the InfluxDB backend, whatever ``storage.backend`` says;
* ``INFLUX_ORG``, ``INFLUX_BUCKET`` override ``[storage.influxdb]`` org/bucket;
* the token comes from the variable named by ``storage.influxdb.token_env``
  (default ``INFLUX_TOKEN``), falling back to ``INFLUX_TOKEN``; it is never
  read from the plant file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.plant import InfluxSettings, Plant
from shopfloor.store.base import SampleStore, StoreError
from shopfloor.store.duckdb_store import DuckDBStore
from shopfloor.store.influx import InfluxConnection, InfluxStore

DEFAULT_TOKEN_ENV = "INFLUX_TOKEN"


def influx_connection(plant: Plant, env: Mapping[str, str] = os.environ) -> InfluxConnection | None:
    """The InfluxDB settings in force, or None when the embedded store is to be used."""
    settings: InfluxSettings | None = plant.storage.influxdb
    url = env.get("INFLUX_URL") or None
    if url is None and plant.storage.backend != "influxdb":
        return None
    if settings is None:
        if url is None:  # the plant model already rejects this; keep the message if it is bypassed
            raise StoreError("backend 'influxdb' needs [storage.influxdb] url or the INFLUX_URL variable")
        settings = InfluxSettings(url=url)
    if not (url or settings.url).startswith(("http://", "https://")):
        raise StoreError(f"INFLUX_URL must start with http:// or https://, got {url!r}")
    token_env = settings.token_env or DEFAULT_TOKEN_ENV
    token = env.get(token_env) or env.get(DEFAULT_TOKEN_ENV) or ""
    return InfluxConnection(
        url=(url or settings.url).rstrip("/"),
        org=env.get("INFLUX_ORG") or settings.org,
        bucket=env.get("INFLUX_BUCKET") or settings.bucket,
        token=token,
        spool_dir=Path(settings.spool_dir),
        batch_size=settings.batch_size,
        flush_interval_s=settings.flush_interval_ms / 1000,
        retry_interval_s=settings.retry_interval_ms / 1000,
        max_retries=settings.max_retries,
        raw_retention_days=plant.storage.raw_retention_days,
    )


def plant_fields(plant: Plant) -> dict[str, frozenset[str]]:
    """The field names the plant file declares per measurement: all a store of this plant accepts."""
    return {
        MEASUREMENT_PRINTER: frozenset(s.name for p in plant.printers for s in p.signals),
        MEASUREMENT_ROBOT: frozenset(v.name for f in plant.fleets for v in f.variables),
    }


def open_store(plant: Plant, *, env: Mapping[str, str] = os.environ, read_only: bool = False) -> SampleStore:
    """The plant's store: InfluxDB if configured (file or ``INFLUX_URL``), else the embedded DuckDB file.

    The store refuses (and sets aside) batches with fields the plant file does not declare.

    ``read_only`` applies to the embedded store (a report while no writer runs).
    """
    connection = influx_connection(plant, env)
    if connection is not None:
        return InfluxStore(connection, plant.plant.id, known_fields=plant_fields(plant))
    embedded = plant.storage.embedded
    return DuckDBStore(
        embedded.path,
        plant.plant.id,
        flush_interval_s=embedded.flush_interval_ms / 1000,
        max_unsaved_samples=embedded.max_unsaved_samples,
        read_only=read_only,
        known_fields=plant_fields(plant),
    )
