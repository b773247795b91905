"""The InfluxDB backend: line protocol into a durable local spool, a sender thread, InfluxQL reads.

:class:`InfluxStore` is the :class:`~shopfloor.store.base.SampleStore`; the
other modules are its parts (``spool``, ``writer``, ``line_protocol``,
``influxql``).
"""

from shopfloor.store.influx.store import InfluxConnection, InfluxStore

__all__ = ["InfluxConnection", "InfluxStore"]
