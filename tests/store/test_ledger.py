"""The KPI ledger in both stores (store/base.py write_ledger / read_ledger): exact, one row per shift and equipment,
all of a write or none of it - through a reopen, a kill -9 and a full disk."""

from __future__ import annotations

import dataclasses
import logging
import random
from pathlib import Path

import duckdb
import pytest

from shopfloor.models.ledger import LedgerRow, encode
from shopfloor.store import SampleStore, StoreError, StoreUnavailable
from shopfloor.store.duckdb_store import DuckDBStore
from shopfloor.store.influx import InfluxStore
from tests.fixtures.tmpfs import fill, free
from tests.models._ledger_rows import SHIFT_NS, T0, printer_row, robot_row
from tests.store import _ledger_writer
from tests.store.conftest import StoreFactory

PLANT = "shanghai-1"
EVERYTHING = (T0 - 100 * SHIFT_NS, T0 + 100 * SHIFT_NS)


def some_rows(annotation_version: int = 0) -> list[LedgerRow]:
    """Three shifts of two printers and two robots, with floats that only an exact codec keeps."""
    rows = []
    for shift in range(3):
        for printer in ("mso-cpp-1", "mso-cpp-2"):
            rows.append(printer_row(shift, printer, 1e300 / (shift + 1) + 0.1, annotation_version=annotation_version))
        for robot in ("r01", "r02"):
            rows.append(robot_row(shift, robot, (0.1 + 0.2) * (shift + 1), annotation_version=annotation_version))
    # a plant version with what line protocol must escape, and a shift without a crew
    rows[0] = dataclasses.replace(rows[0], plant_version='sha256:"quoted"\\back', crew=None)
    return rows


def by_key(rows: list[LedgerRow]) -> list[LedgerRow]:
    return sorted(rows, key=lambda r: r.key)


def read_all(store: SampleStore) -> list[LedgerRow]:
    if isinstance(store, InfluxStore):
        assert store.flush(timeout_s=60), "the server acknowledged the ledger"
    return store.read_ledger(*EVERYTHING)


def test_rows_read_back_exactly(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    rows = some_rows()
    store.write_ledger(rows)
    got = read_all(store)
    assert got == by_key(rows)
    # equal, and the same bits: the payload JSON of each is the same text (every float's repr)
    assert [encode(r) for r in got] == [encode(r) for r in by_key(rows)]


def test_a_row_written_again_replaces_the_old_one(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    old = some_rows(annotation_version=1)
    store.write_ledger(old)
    # the robots' rows of shift 1, computed again after a note changed the annotations
    newer = [
        dataclasses.replace(r, annotation_version=2, totals=dataclasses.replace(r.totals, sessions_failed=7.0))
        for r in old
        if r.kind == "robot" and r.shift_start_ns == T0 + SHIFT_NS
    ]
    assert len(newer) == 2
    store.write_ledger(newer)
    replaced = {r.key for r in newer}
    assert read_all(store) == by_key(newer + [r for r in old if r.key not in replaced])
    # and once more: every field of the old row goes, none is merged into the new one
    crewless = [dataclasses.replace(r, crew=None, annotation_version=3) for r in old if r.key in replaced]
    store.write_ledger(crewless)
    assert [r for r in read_all(store) if r.key in replaced] == by_key(crewless)


def test_a_record_is_decoded_once_until_it_is_written_again(open_test_store: StoreFactory) -> None:
    """A year's report reads its rows again and again: each stored record is decoded once (store/decoded_rows.py);
    a row written again, with anything different, is decoded afresh."""
    store = open_test_store()
    rows = some_rows()
    store.write_ledger(rows)
    assert read_all(store) == by_key(rows)
    decoded = store._decoded_rows
    assert decoded is not None and decoded.decoded == len(rows)
    assert read_all(store) == by_key(rows) and decoded.decoded == len(rows), "nothing decoded twice"
    # the same key, the same versions and times: only the totals differ
    again = dataclasses.replace(rows[3], totals=dataclasses.replace(rows[3].totals, sessions_failed=99.0))
    store.write_ledger([again])
    got = {r.key: r for r in read_all(store)}
    assert got[again.key] == again and got[again.key].totals.sessions_failed == 99.0
    assert decoded.decoded == len(rows) + 1


def test_reads_select_by_shift_start_and_equipment(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    rows = some_rows()
    store.write_ledger(rows)
    read_all(store)  # delivered
    second = T0 + SHIFT_NS
    # half-open, by the shift's START: shift 0 overlaps [second - 1, …) but started before it
    assert store.read_ledger(second - 1, second + SHIFT_NS) == by_key([r for r in rows if r.shift_start_ns == second])
    assert store.read_ledger(second, second + 1) == by_key([r for r in rows if r.shift_start_ns == second])
    assert store.read_ledger(T0 + 1, second) == []
    assert store.read_ledger(second, second) == []
    robots = store.read_ledger(*EVERYTHING, equipment_ids=["r02", "mso-cpp-2", "mso-cpp-9"])
    assert robots == by_key([r for r in rows if r.equipment_id in ("r02", "mso-cpp-2")])
    assert store.read_ledger(*EVERYTHING, equipment_ids=[]) == []
    assert store.read_ledger(*EVERYTHING, equipment_ids=["mso-cpp-9"]) == []


def test_bad_input_is_refused_by_name_and_nothing_of_it_is_kept(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    row = printer_row(0, "mso-cpp-1", 1.0)
    twice = dataclasses.replace(row, annotation_version=5)
    with pytest.raises(ValueError, match=r"two ledger rows of equipment 'mso-cpp-1' for the shift starting at"):
        store.write_ledger([printer_row(1, "mso-cpp-1", 1.0), row, twice])
    with pytest.raises(ValueError, match="takes LedgerRow items, got dict"):
        store.write_ledger([row, encode(row)])  # type: ignore[list-item]  # wrong on purpose
    with pytest.raises(ValueError, match="got one LedgerRow"):
        store.write_ledger(row)  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(ValueError, match="after end_ns"):
        store.read_ledger(T0 + 1, T0)
    with pytest.raises(ValueError, match="equipment_ids must be a sequence of ids, got the string 'r01'"):
        store.read_ledger(*EVERYTHING, equipment_ids="r01")
    with pytest.raises(ValueError, match=r"equipment 'R 1' is not a valid id"):
        store.read_ledger(*EVERYTHING, equipment_ids=["R 1"])
    store.write_ledger([])
    assert read_all(store) == []


def test_the_ledger_survives_a_reopen(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    rows = some_rows()
    store.write_ledger(rows)
    store.close()  # no flush: InfluxDB delivers what is spooled on close, or on the next start
    assert read_all(open_test_store()) == by_key(rows)


def test_a_ledger_write_is_on_disk_when_it_returns(open_test_store: StoreFactory) -> None:
    store = open_test_store()
    store.write_ledger(some_rows())
    if isinstance(store, InfluxStore):
        assert store.spool.unsynced() == (0, 0.0), "fsynced in the spool, not waiting for the syncer"
    else:
        assert store.health().unsaved_samples == 0, "committed, not buffered with the samples"


# ------------------------------------------------------------------ DuckDB: older files, kills, a full disk


def test_a_file_from_before_the_ledger_gains_the_table_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    DuckDBStore(path, PLANT).close()
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE ledger")  # what a file written before the ledger existed holds
    con.close()

    read_only = DuckDBStore(path, PLANT, read_only=True)
    try:
        assert read_only.read_ledger(*EVERYTHING) == [], "an older file read as it is: no rows"
        with pytest.raises(StoreError, match="read-only"):
            read_only.write_ledger(some_rows())
    finally:
        read_only.close()

    store = DuckDBStore(path, PLANT)
    try:
        store.write_ledger(some_rows())
        assert store.read_ledger(*EVERYTHING) == by_key(some_rows())
    finally:
        store.close()
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [("1",)]
        keys = con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints()"
            " WHERE table_name = 'ledger' AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()
        assert keys == [(["shift_start_ns", "equipment"],)]
    finally:
        con.close()


def test_a_killed_writer_leaves_every_ledger_write_whole(tmp_path: Path) -> None:
    """kill -9 at a random batch, three times: each time the file holds exactly one whole batch, the last one
    reported or the one in flight, never rows of two."""
    path = tmp_path / "ledger.duckdb"
    rng = random.Random()
    first = 0
    for _ in range(3):
        reported = _ledger_writer.run_and_kill(path, first, batches=rng.randint(2, 8))
        store = DuckDBStore(path, PLANT)
        try:
            rows = store.read_ledger(*EVERYTHING)
        finally:
            store.close()
        versions = {r.annotation_version for r in rows}
        assert len(versions) == 1, f"rows of several writes after a kill: {sorted(versions)}"
        (kept,) = versions
        assert kept in (reported, reported + 1), f"reported {reported} committed, found {kept}"
        assert rows == by_key(_ledger_writer.batch_rows(kept)), "the whole write, exactly"
        first = kept + 1


def test_a_full_disk_refuses_a_ledger_write_with_the_reason_and_takes_it_again_later(
    tiny_fs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logger = "shopfloor.store.duckdb_store"
    caplog.set_level(logging.INFO, logger=logger)
    store = DuckDBStore(tiny_fs / "s.duckdb", PLANT)
    try:
        store.write_ledger(some_rows(annotation_version=1))
        filler = fill(tiny_fs)
        # the file may still have room in a block it holds: rewrite until the disk refuses one (bounded)
        failure = None
        for attempt in range(2, 200):
            try:
                store.write_ledger(some_rows(annotation_version=attempt))
            except StoreUnavailable as exc:
                failure = exc
                break
        assert failure is not None, "a ledger write on a full disk failed"
        assert str(failure).startswith("no space left on device: cannot write DuckDB file"), failure
        assert "the ledger rows may not be kept: write them again" in str(failure)
        with pytest.raises(StoreUnavailable, match="no space left on device"):
            store.write_ledger(some_rows(annotation_version=500))
        kept = {r.annotation_version for r in store.read_ledger(*EVERYTHING)}
        assert len(kept) == 1, "a failed write left no part of itself"

        free(filler)
        store.write_ledger(some_rows(annotation_version=501))
        assert store.read_ledger(*EVERYTHING) == by_key(some_rows(annotation_version=501))
    finally:
        store.close()
    lines = [r for r in caplog.records if r.name == logger and "writing the ledger" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.ERROR, logging.WARNING], [r.getMessage() for r in lines]
    assert "no space left on device" in lines[0].getMessage() and "works again" in lines[1].getMessage()
    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"
