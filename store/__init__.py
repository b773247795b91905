"""Storage: an embedded DuckDB store (the default) and InfluxDB behind a durable spool.

Everything else uses :func:`open_store` and the :class:`SampleStore` interface.
"""

from shopfloor.store.base import Latest, QualityLog, SampleStore, SeriesMap, StoreError, StoreHealth, StoreUnavailable
from shopfloor.store.factory import open_store

__all__ = [
    "Latest",
    "QualityLog",
    "SampleStore",
    "SeriesMap",
    "StoreError",
    "StoreHealth",
    "StoreUnavailable",
    "open_store",
]
