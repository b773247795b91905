"""Raw retention over a real DuckDB file: raw samples go only once the ledger holds their shifts, the file's space
is reused and given back, KPIs beyond the retention answer from the ledger, raw endpoints answer 410."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.api.kpi_service import KpiService
from shopfloor.api.ledger import Ledger
from shopfloor.api.retention import describe, retention_cutoff_ns, run_retention
from shopfloor.api.timerange import iso
from shopfloor.models.calendar import ShiftInstance, shift_instances, to_ns
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.plant import Plant
from shopfloor.models.samples import ConnectivityEvent
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.simulators.history import plant_history
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.api.conftest import ALICE, config
from tests.fixtures.waiting import wait_until

CONFIG = KpiConfig()
DAYS = 4  # of history; the retention is one day


@dataclasses.dataclass
class World:
    plant: Plant
    store: DuckDBStore
    annotations: AnnotationStore
    path: Path
    start_ns: int
    now_ns: int
    instances: list[ShiftInstance]  # closed shifts wholly inside the history

    def ledger(self) -> Ledger:
        return Ledger(self.plant, self.store, self.annotations, config=CONFIG, clock_ns=lambda: self.now_ns)

    def service(self) -> KpiService:
        return KpiService(self.plant, self.store, self.annotations, config=CONFIG, clock_ns=lambda: self.now_ns)

    def count(self, table: str, before_ns: int | None = None, since_ns: int | None = None) -> int:
        sql, params = f"SELECT count(*) FROM {table} WHERE true", []
        if before_ns is not None:
            sql, params = sql + " AND ts_ns < ?", [*params, before_ns]
        if since_ns is not None:
            sql, params = sql + " AND ts_ns >= ?", [*params, since_ns]
        with self.store._reading() as cur:
            return int(cur.execute(sql, params).fetchall()[0][0])


@dataclasses.dataclass(frozen=True)
class Template:
    path: Path
    start_ns: int
    now_ns: int
    first_start_ns: int


@pytest.fixture(scope="module")
def template(plant: Plant, tmp_path_factory: pytest.TempPathFactory) -> Template:
    """Four days of the default plant's history in a DuckDB file, written once through the real store."""
    day = dt.datetime(2026, 11, 20, tzinfo=plant.tz)
    first = shift_instances(plant.shift_calendar, plant.tz, to_ns(day), to_ns(day) + 1)[0]
    start = first.start_ns - 600 * NS_PER_S
    now = first.start_ns + DAYS * NS_PER_DAY + 3 * 3600 * NS_PER_S
    path = tmp_path_factory.mktemp("history") / "shopfloor.duckdb"
    with DuckDBStore(path, plant.plant.id) as store:
        for k in range(DAYS + 1):  # a day per history, so a batch never holds more than a day
            a, b = start + k * NS_PER_DAY, min(start + (k + 1) * NS_PER_DAY, now)
            for batch in plant_history(plant, a, b, seed=k).batches:
                store.write(batch)
            store.flush()
        # a link that went down on the first day and came back: kept whatever the retention (outage spans)
        store.write_connectivity(
            [
                ConnectivityEvent(first.start_ns + 3600 * NS_PER_S, "mso-cpp-1", "modbus", False, "timeout"),
                ConnectivityEvent(first.start_ns + 3700 * NS_PER_S, "mso-cpp-1", "modbus", True, ""),
            ]
        )
    return Template(path, start, now, first.start_ns)


@pytest.fixture
def world(plant: Plant, template: Template, tmp_path: Path) -> Iterator[World]:
    """A copy of the history, one day of raw retention, a fixed clock at the history's end."""
    short = plant.model_copy(update={"storage": plant.storage.model_copy(update={"raw_retention_days": 1})})
    shutil.copyfile(template.path, tmp_path / "shopfloor.duckdb")
    store = DuckDBStore(tmp_path / "shopfloor.duckdb", plant.plant.id)
    notes = AnnotationStore(tmp_path / "annotations.sqlite3")
    w = World(short, store, notes, tmp_path, template.start_ns, template.now_ns, [])
    w.instances = w.ledger().closed_instances(template.first_start_ns, template.now_ns, template.now_ns)
    yield w
    notes.close()
    store.close()


def without_hourly(report: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in report.items() if k != "throughput"}


def test_a_pass_drops_only_what_the_ledger_holds_and_kpis_answer_from_it_unchanged(world: World) -> None:
    cutoff = retention_cutoff_ns(world.ledger(), world.now_ns)
    # every shift with samples before the cutoff, the first one only partly (the history begins inside it)
    old = shift_instances(world.plant.shift_calendar, world.plant.tz, world.start_ns, cutoff)
    assert old[0].start_ns < world.start_ns and len(old) >= 9, "about three days of shifts are older than the retention"
    assert cutoff in {i.start_ns for i in world.instances}, "the cutoff is a shift's start"
    day = old[4:7]  # three whole shifts beyond the retention
    before = world.service().compute(day[0].start_ns, day[-1].end_ns).to_dict()
    assert before["throughput"], "a day's report has hourly metres while its samples are kept"
    rows_after_cutoff = {t: world.count(t, since_ns=cutoff) for t in ("printer", "robot", "connectivity")}
    ledger = world.ledger()
    kept_first = next(i for i in world.instances if i.start_ns == cutoff)
    ledger.refresh([kept_first])  # its row, computed while every sample before it is there

    # A pass that may absorb two shifts: it drops up to the third, whose raw samples the ledger has not absorbed.
    first = run_retention(ledger, world.now_ns, absorb_limit=2)
    assert first.absorbed == 2 and first.waiting == old[2] and first.cutoff_ns == old[2].start_ns
    assert first.drop is not None and first.drop.cutoff_ns == old[2].start_ns and first.drop.rows > 0
    assert world.count("printer", since_ns=old[2].start_ns) > 0 and world.store.raw_kept_since_ns(0) == old[2].start_ns
    assert any("kept until the ledger holds shift" in line for line in describe(ledger, first))

    second = run_retention(ledger, world.now_ns)
    assert second.absorbed == len(old) - 2 and second.waiting is None and second.cutoff_ns == cutoff
    assert second.drop is not None and second.drop.cutoff_ns == cutoff
    assert any(line.startswith("raw retention: dropped ") for line in describe(ledger, second))
    # Before the cutoff, each series keeps one timestamp (its context); from the cutoff on nothing was touched.
    with world.store._reading() as cur:
        per_series = cur.execute(
            "SELECT max(n) FROM (SELECT count(DISTINCT ts_ns) AS n FROM (SELECT equipment, field, ts_ns FROM printer"
            " WHERE ts_ns < $1 UNION ALL SELECT equipment, field, ts_ns FROM robot WHERE ts_ns < $1)"
            " GROUP BY equipment, field)",
            [cutoff],
        ).fetchall()[0][0]
    assert per_series == 1
    assert world.count("quality", before_ns=cutoff) == 0
    assert {t: world.count(t, since_ns=cutoff) for t in rows_after_cutoff} == rows_after_cutoff
    assert world.count("connectivity", before_ns=cutoff) == 2, "connectivity events are kept"
    assert run_retention(ledger, world.now_ns).drop is None, "nothing more to drop until the next shift passes"

    # KPIs of whole shifts beyond the retention: from the ledger, equal to what they were; hourly metres are gone.
    service = world.service()
    after = service.compute(day[0].start_ns, day[-1].end_ns).to_dict()
    assert service.last_basis is not None and service.last_basis.raw_shifts == 0
    assert without_hourly(after) == without_hourly(before) and after["throughput"] == {}
    # The first shift kept still reads its context: computed again from raw, it equals its row exactly.
    totals, _ = ledger.compute(kept_first.start_ns, kept_first.end_ns)
    rows = {r.equipment_id: r.totals for r in world.store.read_ledger(kept_first.start_ns, kept_first.start_ns + 1)}
    assert totals.printers["mso-cpp-1"][0] == rows["mso-cpp-1"]
    assert all(t[0] == rows[r] for r, t in totals.robots.items())


def test_the_cutoff_survives_a_restart(world: World) -> None:
    done = run_retention(world.ledger(), world.now_ns)
    assert done.cutoff_ns is not None
    world.store.close()
    again = DuckDBStore(world.path / "shopfloor.duckdb", world.plant.plant.id, read_only=True)
    try:
        assert again.raw_kept_since_ns(0) == done.cutoff_ns
    finally:
        again.close()
    world.store = DuckDBStore(world.path / "shopfloor.duckdb", world.plant.plant.id)


def test_a_stale_row_is_computed_again_before_its_samples_go(world: World) -> None:
    ledger = world.ledger()
    ledger.catch_up(world.start_ns - NS_PER_DAY)  # every row written, then an operator corrects an old shift
    shift = world.instances[1]
    code = next(r.code for r in world.plant.stop_reasons if r.code != 0)
    override = world.annotations.set_reason("mso-cpp-1", shift.start_ns, shift.end_ns, code, "alice")
    done = run_retention(ledger, world.now_ns)
    assert done.absorbed == 1, "only the corrected shift is computed again"
    row = {r.equipment_id: r for r in world.store.read_ledger(shift.start_ns, shift.start_ns + 1)}["mso-cpp-1"]
    assert row.annotation_version == override.id
    assert done.drop is not None and done.drop.cutoff_ns > shift.end_ns


def test_a_robot_added_after_the_retention_is_no_data_in_the_shifts_before_not_a_refusal(world: World) -> None:
    ledger = world.ledger()
    done = run_retention(ledger, world.now_ns)
    assert done.cutoff_ns is not None
    day = [i for i in world.instances if i.end_ns <= done.cutoff_ns][-3:]  # three whole shifts whose raw is gone
    before = world.service().compute(day[0].start_ns, day[-1].end_ns)
    fleet = world.plant.fleets[0]
    newcomer = fleet.robots[0].model_copy(update={"id": "r-new", "name": "new robot"})
    grown = world.plant.model_copy(
        update={"fleets": [fleet.model_copy(update={"robots": [*fleet.robots, newcomer]}), *world.plant.fleets[1:]]}
    )
    service = KpiService(grown, world.store, world.annotations, config=CONFIG, clock_ns=lambda: world.now_ns)
    report = service.compute(day[0].start_ns, day[-1].end_ns)
    basis = service.last_basis
    assert basis is not None and basis.unrecorded_equipment == ("r-new",) and basis.raw_shifts == 0
    assert basis.ledger_shifts == 3 and set(basis.stale_shift_keys) == {i.key for i in day}, "another plant file"
    new = report.robots["r-new"]
    assert new.observed_s == 0.0 and new.sessions_completed == 0, "no data, never zero activity"
    assert report.robots[fleet.robots[0].id] == before.robots[fleet.robots[0].id], "the others: their rows"


def test_nothing_is_dropped_while_the_ledger_holds_nothing(world: World) -> None:
    printer_rows = world.count("printer")
    done = run_retention(world.ledger(), world.now_ns, absorb_limit=0)
    first = shift_instances(world.plant.shift_calendar, world.plant.tz, world.start_ns, world.start_ns + 1)[0]
    assert done.absorbed == 0 and done.drop is None and done.waiting == first
    assert world.count("printer") == printer_rows and world.store.raw_kept_since_ns(0) is None


def test_freed_space_is_reused_and_given_back_by_compaction(world: World) -> None:
    path = world.path / "shopfloor.duckdb"
    done = run_retention(world.ledger(), world.now_ns, compact_min_free_bytes=1 << 40)  # never compacts here
    assert done.drop is not None and done.compaction is None
    size = path.stat().st_size
    assert done.drop.file_bytes == size and done.drop.free_bytes > size // 3, "DuckDB frees blocks, keeps the file"
    # Another day of samples fits in the freed blocks: the file does not grow.
    later = world.now_ns + NS_PER_DAY
    for batch in plant_history(world.plant, world.now_ns, later, seed=99).batches:
        world.store.write(batch)
    world.store.close()  # which checkpoints: the day is in the file, not in its log
    assert not path.with_name(path.name + ".wal").exists() and path.stat().st_size <= size
    world.store = DuckDBStore(path, world.plant.plant.id)

    # Reads go on while the file is rewritten; what they read is the same before, during and after.
    ranges = [(i.start_ns, i.end_ns) for i in world.instances[-3:]]
    expected = [world.store.count_samples("printer", ["mso-cpp-1"], ["state"], a, b) for a, b in ranges]
    ledger_before = world.store.read_ledger(world.instances[0].start_ns, world.now_ns)
    reading, stop, failures, reads = threading.Event(), threading.Event(), [], [0]

    def reader() -> None:
        while not stop.is_set():
            try:
                got = [world.store.count_samples("printer", ["mso-cpp-1"], ["state"], a, b) for a, b in ranges]
                assert got == expected
                reads[0] += 1
            except Exception as exc:  # handed to the test thread, which fails with it
                failures.append(exc)
                return
            finally:
                reading.set()

    # what a crash in the middle of an earlier copy leaves behind: removed, never mistaken for the copy
    path.with_name(path.name + ".compact").write_bytes(b"half a copy")
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        reading.wait()
        compaction = world.store.compact(min_free_bytes=0, min_free_fraction=0.0)
    finally:
        stop.set()
        thread.join()
    assert not failures, failures
    assert compaction is not None and compaction.bytes_after < compaction.bytes_before * 0.8, compaction
    assert reads[0] >= 1
    assert path.stat().st_size == compaction.bytes_after
    assert not path.with_name(path.name + ".compact").exists()
    assert world.store.read_ledger(world.instances[0].start_ns, world.now_ns) == ledger_before
    world.store.write_ledger(ledger_before[:3])  # the primary key came along: an upsert still replaces
    assert world.store.read_ledger(world.instances[0].start_ns, world.now_ns) == ledger_before
    assert world.store.raw_kept_since_ns(0) == done.cutoff_ns
    assert world.store.compact(min_free_bytes=0) is None, "a compact file has nothing to give back"


def test_raw_endpoints_answer_410_beyond_the_retention_and_kpis_answer_from_the_ledger(world: World) -> None:
    old = world.instances[2]
    before = world.service().compute(old.start_ns, old.end_ns)
    run_retention(world.ledger(), world.now_ns)
    kept = world.store.raw_kept_since_ns(0)
    assert kept is not None and old.end_ns <= kept
    app = create_app(
        world.plant, world.store, annotations=world.annotations, config=config(), clock_ns=lambda: world.now_ns
    )
    client = TestClient(app)  # no lifespan: the test runs the passes itself
    plant = world.plant
    old_range = {"start": iso(plant, old.start_ns), "end": iso(plant, old.end_ns)}
    for path in ("/api/v1/printers/mso-cpp-1/throughput", "/api/v1/printers/mso-cpp-1/stops"):
        r = client.get(path, params={"shift": old.key})
        assert r.status_code == 410, (path, r.text)
        body = r.json()
        assert body["raw_kept_since"] == iso(plant, kept)
        assert "raw_retention_days" in body["detail"] and iso(plant, kept) in body["detail"]
    r = client.post(
        "/api/v1/printers/mso-cpp-1/stops/reason",
        json={**old_range, "reason_code": 20},
        headers=ALICE,
    )
    assert r.status_code == 410 and "a list of stops needs raw samples" in r.json()["detail"]
    # Part of a shift beyond the retention: not in the ledger, not in raw samples either.
    r = client.get(
        "/api/v1/kpis", params={"start": iso(plant, old.start_ns + 3600 * NS_PER_S), "end": old_range["end"]}
    )
    assert r.status_code == 410 and "shift boundaries" in r.json()["detail"]

    r = client.get("/api/v1/equipment/mso-cpp-1/kpis", params={"shift": old.key})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["hourly_printed_m"] is None
    assert body["total"]["printed_m"] == pytest.approx(before.printers["mso-cpp-1"].printed_m, rel=1e-12)
    # Within the retention the raw endpoints answer as before.
    recent = world.instances[-1]
    assert client.get("/api/v1/printers/mso-cpp-1/throughput", params={"shift": recent.key}).status_code == 200
    assert client.get("/api/v1/printers/mso-cpp-1/stops", params={"shift": recent.key}).status_code == 200


def test_the_serving_process_runs_retention_by_itself(world: World, caplog: pytest.LogCaptureFixture) -> None:
    cutoff = retention_cutoff_ns(world.ledger(), world.now_ns)
    app = create_app(
        world.plant, world.store, annotations=world.annotations, config=config(), clock_ns=lambda: world.now_ns
    )
    with caplog.at_level(logging.INFO, logger="shopfloor.api.retention"), TestClient(app):
        wait_until(lambda: world.store.raw_kept_since_ns(0) == cutoff, "the first retention pass", timeout_s=120)
        # The pass logs what it dropped when it ends, after the store moved its cutoff (and compacted the file).
        wait_until(
            lambda: any(r.getMessage().startswith("raw retention: dropped ") for r in caplog.records),
            "the first retention pass's line",
            timeout_s=120,
        )
    dropped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("raw retention: dropped ")]
    assert len(dropped) == 1, dropped
    assert f"before {iso(world.plant, cutoff)} (1 day;" in dropped[0]
