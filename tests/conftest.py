"""Fixtures shared by every test package.

The real-InfluxDB fixtures start influxd behind nginx (see tests/fixtures/influx.py);
they skip with a reason where the Debian packages are missing, and fail instead
when SHOPFLOOR_REQUIRE_INFLUX=1 (CI).
"""

from tests.fixtures.influx import influx_server, private_influx_server  # noqa: F401  # fixtures for every package
