"""The KPI ledger in InfluxDB: shared by several stores over one server, kept through an outage, laid out as the
data contract says, and refused with the reason on a full spool disk.

These run against this module's own influxd + nginx (``private_influx_server``),
which the outage test stops and restarts.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from bench._influx import InfluxServer
from shopfloor.models.kpi.fleet import FleetTotals
from shopfloor.models.ledger import LedgerRow
from shopfloor.models.plant import Plant
from shopfloor.store import StoreUnavailable, open_store
from shopfloor.store.influx import InfluxStore
from shopfloor.store.influx.store import MAX_STRING_FIELD_BYTES
from tests.fixtures.tmpfs import fill, free
from tests.models._ledger_rows import SHIFT_NS, T0, printer_row, robot_row
from tests.store.conftest import influx_plant

WAIT_S = 120.0  # generous: two shared cores
EVERYTHING = (T0 - 100 * SHIFT_NS, T0 + 100 * SHIFT_NS)


def open_influx(base_plant: Plant, server: InfluxServer, bucket: str, spool: Path) -> InfluxStore:
    store = open_store(influx_plant(base_plant, server, bucket, spool), env={})
    assert isinstance(store, InfluxStore)
    return store


def by_key(rows: list[LedgerRow]) -> list[LedgerRow]:
    return sorted(rows, key=lambda r: r.key)


def test_stores_on_several_machines_share_one_ledger(
    base_plant: Plant, private_influx_server: InfluxServer, tmp_path: Path
) -> None:
    """Two stores, each with its own spool (two machines, or a collector host and an API process): each reads what
    the other wrote, and a row either writes replaces the one the other wrote."""
    server = private_influx_server
    bucket = server.new_bucket()
    printers = open_influx(base_plant, server, bucket, tmp_path / "host-a")
    robots = open_influx(base_plant, server, bucket, tmp_path / "host-b")
    try:
        printer_rows = [printer_row(s, "mso-cpp-1", 10.0 + s) for s in range(3)]
        robot_rows = [robot_row(s, "r01", 2.0 + s) for s in range(3)]
        printers.write_ledger(printer_rows)
        robots.write_ledger(robot_rows)
        assert printers.flush(timeout_s=WAIT_S) and robots.flush(timeout_s=WAIT_S)
        everything = by_key(printer_rows + robot_rows)
        assert printers.read_ledger(*EVERYTHING) == everything
        assert robots.read_ledger(*EVERYTHING) == everything

        again = dataclasses.replace(printer_rows[1], annotation_version=9, crew="crew-c")
        robots.write_ledger([again])
        assert robots.flush(timeout_s=WAIT_S)
        assert printers.read_ledger(*EVERYTHING) == by_key([again, printer_rows[0], printer_rows[2], *robot_rows])
    finally:
        printers.close()
        robots.close()


def test_ledger_rows_written_during_an_outage_arrive_after_it(
    base_plant: Plant, private_influx_server: InfluxServer, tmp_path: Path
) -> None:
    server = private_influx_server
    bucket = server.new_bucket()
    rows = [robot_row(s, r, 1.0 + s) for s in range(3) for r in ("r01", "r02")]
    server.stop_influx()
    try:
        store = open_influx(base_plant, server, bucket, tmp_path / "spool")
        store.write_ledger(rows)  # returns at once: the rows are on disk, in the spool
        assert store.spool.unsynced() == (0, 0.0)
        store.close(timeout_s=0.5)
    finally:
        server.start_influx()
    store = open_influx(base_plant, server, bucket, tmp_path / "spool")  # the next start delivers them
    try:
        assert store.flush(timeout_s=WAIT_S)
        assert store.read_ledger(*EVERYTHING) == by_key(rows)
    finally:
        store.close()


def test_the_ledger_layout_follows_the_contract(
    base_plant: Plant, private_influx_server: InfluxServer, tmp_path: Path
) -> None:
    server = private_influx_server
    bucket = server.new_bucket()
    store = open_influx(base_plant, server, bucket, tmp_path / "spool")
    try:
        store.write_ledger([printer_row(0, "mso-cpp-1", 1.0), robot_row(0, "r01", 1.0)])
        assert store.flush(timeout_s=WAIT_S)
    finally:
        store.close()
    # in a retention policy of its own, kept for ever: the samples' policy drops raw samples, never the ledger
    policies = server.query(f'SHOW RETENTION POLICIES ON "{bucket}"', db=bucket)["results"][0]["series"][0]
    assert [row[:2] for row in policies["values"] if row[0] == "ledger"] == [["ledger", "0s"]]
    assert server.query('SELECT count(*) FROM "kpi_ledger"', db=bucket)["results"][0].get("series") is None
    tags = server.query('SHOW TAG KEYS FROM "ledger"."kpi_ledger"', db=bucket)["results"][0]["series"][0]["values"]
    # one series per equipment: the shift is the point's time, so a row written again replaces the old point
    assert {row[0] for row in tags} == {"plant", "equipment"}
    fields = server.query('SHOW FIELD KEYS FROM "ledger"."kpi_ledger"', db=bucket)["results"][0]["series"][0]["values"]
    assert {tuple(row) for row in fields} == {
        ("shift_key", "string"),
        ("crew", "string"),
        ("kind", "string"),
        ("fleet", "string"),
        ("plant_version", "string"),
        ("payload", "string"),
        ("shift_end_ns", "integer"),
        ("annotation_version", "integer"),
        ("watermark_ns", "integer"),
        ("samples_read", "integer"),
        ("computed_ns", "integer"),
    }
    points = server.query('SELECT * FROM "ledger"."kpi_ledger"', db=bucket)["results"][0]["series"][0]
    assert [row[points["columns"].index("time")] for row in points["values"]] == [T0, T0]


def test_totals_too_large_for_a_string_field_are_refused_before_they_are_spooled(
    base_plant: Plant, private_influx_server: InfluxServer, tmp_path: Path
) -> None:
    server = private_influx_server
    store = open_influx(base_plant, server, server.new_bucket(), tmp_path / "spool")
    try:
        row = robot_row(0, "r01", 1.0)
        huge = dataclasses.replace(
            robot_row(1, "r01", 1.0), totals=FleetTotals(response_s=(1 / 3,) * 4000, robot_ids=frozenset({"r01"}))
        )
        with pytest.raises(
            ValueError, match=rf"more than InfluxDB keeps in a string field \({MAX_STRING_FIELD_BYTES:,}"
        ):
            store.write_ledger([row, huge])
        assert store.flush(timeout_s=WAIT_S)
        assert store.read_ledger(*EVERYTHING) == [], "nothing of the refused write"
    finally:
        store.close()


def test_a_full_spool_disk_refuses_a_ledger_write_with_the_reason(
    base_plant: Plant,
    private_influx_server: InfluxServer,
    tiny_fs: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="shopfloor.store.influx.spool")
    server = private_influx_server
    store = open_influx(base_plant, server, server.new_bucket(), tiny_fs / "spool")
    try:
        first = [printer_row(s, "mso-cpp-1", 1.0, annotation_version=1) for s in range(3)]
        store.write_ledger(first)
        assert store.flush(timeout_s=WAIT_S)
        filler = fill(tiny_fs)
        with pytest.raises(StoreUnavailable, match=r"^no space left on device: cannot write spool .*; not "):
            store.write_ledger([printer_row(s, "mso-cpp-1", 2.0, annotation_version=2) for s in range(3)])
        free(filler)
        later = [printer_row(s, "mso-cpp-1", 3.0, annotation_version=3) for s in range(3)]
        store.write_ledger(later)  # written again once there is room, as the error said
        assert store.flush(timeout_s=WAIT_S)
        assert store.read_ledger(*EVERYTHING) == by_key(later)
    finally:
        store.close()
    assert "no space left on device" in caplog.text
    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"
