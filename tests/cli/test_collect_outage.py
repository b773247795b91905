"""``shopfloor collect`` into InfluxDB through an outage: the spool holds everything, says so, and delivers it.

Real processes and a real InfluxDB: the simulators serve a plant file on free
ports, ``shopfloor collect`` writes to InfluxDB (1.x behind nginx, the
project's fixture) and reports every 0.3 s. influxd is stopped mid-run and
started again; the collector's report shows the backlog growing on disk and
draining, and after a clean stop InfluxDB holds every printer poll the
collector reported — none lost.
"""

from __future__ import annotations

import re
from pathlib import Path

from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.plant import load_plant
from tests.cli._process import Command
from tests.cli.test_simulate_collect import influx_env, plant_file_on_free_ports

BACKLOG = r"InfluxDB spool backlog ([\d,]+) bytes"


def backlog_of(match: re.Match[str]) -> int:
    return int(match.group(1).replace(",", ""))


def test_an_influxdb_outage_is_spooled_reported_and_delivered(tmp_path: Path, private_influx_server) -> None:  # type: ignore[no-untyped-def]  # a pytest fixture
    influx = private_influx_server
    plant_file = plant_file_on_free_ports(tmp_path)
    text = plant_file.read_text(encoding="utf-8")
    assert text.count('path = "var/shopfloor.duckdb"\n') == 1
    # Retries capped at 0.8 s instead of the shipped 32 s, so the drain after the outage is quick to see;
    # the url is what INFLUX_URL overrides.
    plant_file.write_text(
        text.replace(
            'path = "var/shopfloor.duckdb"\n',
            'path = "var/shopfloor.duckdb"\n\n'
            '[storage.influxdb]\nurl = "http://127.0.0.1:9"\n'
            "retry_interval_ms = 100\nmax_retries = 3\n",
        ),
        encoding="utf-8",
    )
    plant = load_plant(plant_file)
    signals = len(plant.printers[0].signals)
    bucket = influx.new_bucket()
    env = influx_env(influx, bucket)
    simulate = Command("simulate", "--plant", str(plant_file), cwd=tmp_path)
    try:
        simulate.wait_for_line(r"serving opc\.tcp://")
        collect = Command("collect", "--plant", str(plant_file), "--report-interval-s", "0.3", cwd=tmp_path, env=env)
        try:
            collect.wait_for_line(r"printer \d+ samples from 1 equipment")
            influx.stop_influx()
            try:
                down_at = len(collect.all_lines)
                first = backlog_of(collect.wait_for_line(BACKLOG, since=down_at, where=lambda m: backlog_of(m) > 0))
                # it keeps growing on disk while the database is away
                grown = backlog_of(
                    collect.wait_for_line(BACKLOG, since=down_at, where=lambda m: backlog_of(m) >= 3 * first)
                )
            finally:
                influx.start_influx()
            up_at = len(collect.all_lines)
            # and drains once it is back (to an empty spool, or to what one flush interval leaves queued)
            collect.wait_for_line(
                r"; (spool empty|InfluxDB spool backlog ([\d,]+) bytes)",
                since=up_at,
                timeout_s=120,
                where=lambda m: m.group(2) is None or int(m.group(2).replace(",", "")) < grown / 3,
            )
        finally:
            assert collect.interrupt() == 0, collect.describe()
    finally:
        assert simulate.interrupt() == 0, simulate.describe()
    final = next(line for line in reversed(collect.stderr_lines) if "stopped; written since start" in line)
    match = re.search(r"printer (\d+) samples from 1 equipment \((\d+) bad\)", final)
    assert match is not None, final
    printer_samples, bad = int(match.group(1)), int(match.group(2))
    assert bad == 0  # the devices were fine throughout; only the database was away
    assert influx.count(MEASUREMENT_PRINTER, "state", db=bucket) == printer_samples // signals
    assert influx.token not in "\n".join(collect.all_lines)
