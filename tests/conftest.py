"""Fixtures shared by every test package.

The real-InfluxDB fixtures start influxd behind nginx (see tests/fixtures/influx.py);
they skip with a reason where the Debian packages are missing, and fail instead
when SHOPFLOOR_REQUIRE_INFLUX=1 (CI). ``tiny_fs`` mounts a small tmpfs for
disk-full tests (tests/fixtures/tmpfs.py).
"""

from tests.fixtures.influx import influx_server, private_influx_server  # noqa: F401  # fixtures for every package
from tests.fixtures.tmpfs import tiny_fs  # noqa: F401  # a fixture for every package
