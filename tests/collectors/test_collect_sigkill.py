"""``shopfloor collect`` SIGKILLed mid-run: the embedded store loses at most one flush interval, and a restart appends.

Real processes: ``shopfloor simulate printer`` serves the Modbus endpoint of a
plant file on free ports, ``shopfloor collect`` polls it into the embedded
DuckDB file and reports what it has written every 0.2 s. The collector is
killed with SIGKILL (no handler, no ``close()``), the file is opened by this
process and compared with the last report the collector printed.

What a kill may lose is bounded by the store's design (store/duckdb_store.py):
samples wait in memory at most ``[storage.embedded] flush_interval_ms`` before
they are committed. So the newest stored poll is at most one flush interval
plus one poll interval older than the kill, and the stored polls are at least
the reported ones minus one flush interval's worth of polls.
"""

from __future__ import annotations

import math
import re
import signal
import time
from pathlib import Path

import duckdb

from shopfloor.models.plant import Plant, load_plant
from shopfloor.store.duckdb_store import DuckDBStore
from tests.cli._process import Command
from tests.cli.test_simulate_collect import plant_file_on_free_ports

REPORT = r"written since start: .*printer (\d+) samples from 1 equipment"
# Scheduling slack on two shared cores: the flusher thread and the poller can run a little late.
SLACK_S = 0.5


def stored_polls(path: Path, printer_id: str) -> tuple[int, int, int]:
    """(number of polls stored, oldest poll ts_ns, newest poll ts_ns): a poll is one timestamp, as a value or a
    quality record."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "SELECT count(DISTINCT ts_ns), min(ts_ns), max(ts_ns) FROM"
            " (SELECT ts_ns FROM printer WHERE equipment = ? UNION ALL SELECT ts_ns FROM quality WHERE equipment = ?)",
            [printer_id, printer_id],
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), int(row[1] or 0), int(row[2] or 0)


def reported_samples(collect: Command) -> list[int]:
    return [int(m.group(1)) for line in collect.stderr_lines if (m := re.search(REPORT, line))]


def test_sigkilled_collect_loses_at_most_one_flush_interval_and_a_restart_appends(tmp_path: Path) -> None:
    plant_file = plant_file_on_free_ports(tmp_path)
    plant: Plant = load_plant(plant_file)
    printer = plant.printers[0]
    signals = len(printer.signals)
    flush_s = plant.storage.embedded.flush_interval_ms / 1000
    poll_s = printer.modbus.poll_interval_s
    db_path = tmp_path / plant.storage.embedded.path  # relative to the collector's working directory
    simulate = Command("simulate", "printer", "--plant", str(plant_file), cwd=tmp_path)
    try:
        simulate.wait_for_line(rf"serving modbus-tcp://127\.0\.0\.1:{printer.modbus.port}")
        collect = Command("collect", "--plant", str(plant_file), "--report-interval-s", "0.2", cwd=tmp_path)
        try:
            # Run for several flush intervals, so commits have happened and more is buffered at the kill.
            wanted = math.ceil(4 * flush_s / poll_s) * signals
            collect.wait_for_line(REPORT, timeout_s=120, where=lambda m: int(m.group(1)) >= wanted)
            kill_ns = time.time_ns()
            collect.proc.send_signal(signal.SIGKILL)
            assert collect.proc.wait(timeout=30) == -signal.SIGKILL
            for reader in collect._readers:  # every line the collector printed before it died
                reader.join(timeout=10)
        finally:
            collect.kill()

        last_report_polls = reported_samples(collect)[-1] // signals
        polls, oldest_ns, newest_ns = stored_polls(db_path, printer.id)
        lost_s = (kill_ns - newest_ns) / 1e9
        assert lost_s <= flush_s + poll_s + SLACK_S, (lost_s, polls, last_report_polls)
        per_flush = math.ceil(flush_s / poll_s)
        assert polls >= last_report_polls - per_flush - math.ceil(SLACK_S / poll_s), (polls, last_report_polls)
        assert polls > 0

        # A restarted collector opens the same file (no lock left behind by the kill) and appends to it.
        again = Command("collect", "--plant", str(plant_file), "--report-interval-s", "0.2", cwd=tmp_path)
        try:
            again.wait_for_line(rf"connected to {printer.id}")
            # a few commits' worth of new polls, then a clean stop (which commits the rest)
            again.wait_for_line(REPORT, timeout_s=120, where=lambda m: int(m.group(1)) >= 3 * signals)
            assert again.interrupt() == 0, again.describe()
        finally:
            again.kill()
        reported_again = reported_samples(again)[-1] // signals
    finally:
        assert simulate.interrupt() == 0, simulate.describe()

    after, oldest_after, newest_after = stored_polls(db_path, printer.id)
    assert oldest_after == oldest_ns  # what survived the kill is still there
    assert newest_after > kill_ns
    # a clean stop loses nothing: the old polls plus at least every poll the restarted collector reported
    assert after >= polls + reported_again, (after, polls, reported_again)
    store = DuckDBStore(db_path, plant.plant.id, read_only=True)
    try:  # and the file is a valid store of this plant after the kill and the restart
        assert "state" in store.latest("printer", [printer.id])[printer.id]
    finally:
        store.close()
