"""The demo's simulated past, in process over a real DuckDB store: which days, what is stored, and that the ledger
keeper finds its rows exactly as it would have computed them from the stored samples.

The world: the demo starts on 10 March 2026 at 09:00 (Asia/Shanghai) with two days of past, the newest one of
them with raw samples: 8 March as ledger rows only (its own coarse simulation), 9 March and 10 March up to
09:00 as one continuous simulation whose samples are stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopfloor.api.ledger import PRINTER_KPI_FIELDS, ROBOT_KPI_FIELDS, Ledger
from shopfloor.api.year_to_date import holds_data
from shopfloor.cli.demo_history import DayDone, DemoHistory, HistoryWork, plan_history, simulate_history
from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.ledger import plant_version
from shopfloor.models.plant import Plant, load_plant
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.clock import ManualClock
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore

PLANT = load_plant()
CONFIG = KpiConfig.of(PLANT)


def sh(*args: int) -> int:
    return to_ns(dt.datetime(*args, tzinfo=PLANT.tz))


START = sh(2026, 3, 10, 9)


def test_a_year_back_newest_first_with_raw_samples_for_the_retention() -> None:
    start = sh(2026, 12, 1, 12, 21)
    plan = plan_history(PLANT, start, 365, 7)
    assert plan.until_ns == start and plan.days_total == 366
    # the retention's days (the production day 7 days back on) and today, oldest first: one continuous run
    assert plan.recent_dates == tuple(dt.date(2026, 11, 24) + dt.timedelta(days=k) for k in range(8))
    assert plan.recent_start_ns == sh(2026, 11, 24, 6)
    # before them, day by day back to a year ago, newest first
    assert plan.older_dates[0] == dt.date(2026, 11, 23) and plan.older_dates[-1] == dt.date(2025, 12, 1)
    assert len(plan.older_dates) == 358
    assert (plan.first_date, plan.last_date) == (dt.date(2025, 12, 1), dt.date(2026, 12, 1))
    # the year so far is inside, whatever the date: a year back reaches 1 January (leap years too)
    assert plan.first_date <= dt.date(2026, 1, 1)


def test_the_past_ends_where_the_stores_own_data_begins() -> None:
    start = sh(2026, 12, 1, 12, 21)
    held = plan_history(PLANT, start, 365, 7, until_ns=sh(2026, 11, 28, 9, 30))
    assert held.until_ns == sh(2026, 11, 28, 9, 30)
    assert held.recent_dates == tuple(dt.date(2026, 11, 24) + dt.timedelta(days=k) for k in range(5))
    assert held.older_dates[0] == dt.date(2026, 11, 23)
    before_retention = plan_history(PLANT, start, 365, 7, until_ns=sh(2026, 11, 10, 6))
    assert before_retention.recent_dates == () and before_retention.older_dates[0] == dt.date(2026, 11, 9)
    nothing = plan_history(PLANT, start, 365, 7, until_ns=sh(2025, 12, 1, 6))
    assert nothing.days_total == 0 and nothing.first_date is None
    assert plan_history(PLANT, start, 0, 7).recent_dates == (dt.date(2026, 12, 1),)  # today up to the start
    with pytest.raises(ValueError, match="days must be >= 0, got -1"):
        plan_history(PLANT, start, -1, 7)


@dataclasses.dataclass
class Filled:
    plant: Plant
    store: DuckDBStore
    notes: AnnotationStore
    work: HistoryWork
    days: list[DayDone]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    """Two days of past before 10 March 09:00, simulated and written as the demo writes them."""
    path = tmp_path_factory.mktemp("history")
    store = DuckDBStore(path / "shopfloor.duckdb", PLANT.plant.id)
    notes = AnnotationStore(path / "annotations.sqlite3")
    plan = plan_history(PLANT, START, 2, 1)
    assert plan.recent_dates == (dt.date(2026, 3, 9), dt.date(2026, 3, 10))
    assert plan.older_dates == (dt.date(2026, 3, 8),)
    work = HistoryWork(PLANT, CONFIG, plan, 7, 0, ManualClock(start_ns=START))
    job = DemoHistory(PLANT, CONFIG, start_ns=START, days=2, seed=7, clock=work.clock)
    days: list[DayDone] = []

    def write(day: DayDone) -> None:
        days.append(day)
        assert job.write_day(store, day) is not None

    simulate_history(work, write, lambda: False)
    try:
        yield Filled(PLANT, store, notes, work, days)
    finally:
        notes.close()
        store.close()


def test_every_settled_shift_has_its_rows_and_raw_samples_only_the_retentions_days(filled: Filled) -> None:
    assert [d.date for d in filled.days] == [dt.date(2026, 3, 9), dt.date(2026, 3, 10), dt.date(2026, 3, 8)]
    rows = filled.store.read_ledger(sh(2026, 3, 1, 6), START)
    shifts = sorted({r.shift_key for r in rows})
    # 8 and 9 March whole; 10 March's early shift runs at the start: the live plant's (the keeper's)
    assert shifts == [f"2026-03-0{d}/{s}" for d in (8, 9) for s in ("early", "late", "night")]
    assert len(rows) == 6 * 13 and {r.plant_version for r in rows} == {plant_version(PLANT)}
    assert all(holds_data(r) for r in rows)
    printers, robots = [p.id for p in PLANT.printers], [r.id for f in PLANT.fleets for r in f.robots]
    before = filled.store.count_samples(
        MEASUREMENT_PRINTER, printers, PRINTER_KPI_FIELDS, sh(2026, 3, 1), sh(2026, 3, 9, 6)
    )
    assert before == {"mso-cpp-1": 0}, "no raw samples before the retention's days"
    inside = filled.store.count_samples(MEASUREMENT_PRINTER, printers, PRINTER_KPI_FIELDS, sh(2026, 3, 9, 6), START)
    assert inside["mso-cpp-1"] == 27 * 3600 * len(PRINTER_KPI_FIELDS), (
        "a poll a second, 9 March 06:00 to 09:00 next day"
    )
    assert filled.store.count_samples(
        MEASUREMENT_PRINTER, printers, PRINTER_KPI_FIELDS, START, START + 3600 * NS_PER_S
    ) == {"mso-cpp-1": 0}, "nothing from the start on: that is the live plant's"
    after = filled.store.count_samples(MEASUREMENT_ROBOT, robots, ROBOT_KPI_FIELDS, sh(2026, 3, 9, 6), START)
    assert all(n > 0 for n in after.values())
    coarse = [r for r in rows if r.production_date == dt.date(2026, 3, 8)]
    assert {r.samples_read for r in coarse} == {0}, "the store holds none of a rows-only day's samples"
    assert sum(r.totals.printed_m for r in coarse if r.equipment_id == "mso-cpp-1") > 60_000  # type: ignore[union-attr]  # printer rows


def test_the_keeper_finds_the_rows_exactly_as_it_computes_them_from_the_stored_samples(filled: Filled) -> None:
    ledger = Ledger(filled.plant, filled.store, filled.notes, config=CONFIG, clock_ns=lambda: START)
    recent = [
        i
        for i in shift_instances(PLANT.shift_calendar, PLANT.tz, sh(2026, 3, 9, 6), START)
        if i.end_ns + ledger.settle_ns <= START
    ]
    assert [i.key for i in recent] == ["2026-03-09/early", "2026-03-09/late", "2026-03-09/night"]
    totals, counts = ledger.compute(recent[0].start_ns, recent[-1].end_ns)
    kept = {r.key: r for r in filled.store.read_ledger(recent[0].start_ns, START)}
    for k, instance in enumerate(totals.instances):
        for equipment, per_shift in {**totals.printers, **totals.robots}.items():
            row = kept[(instance.start_ns, equipment)]
            assert row.totals == per_shift[k], (instance.key, equipment)  # ==: bit for bit
            assert row.samples_read == counts[equipment][k] > 0, (instance.key, equipment)
    # so the keeper, looking after the retention window, writes nothing
    assert ledger.catch_up(sh(2026, 3, 9, 6), START) == 0
    assert ledger.stale(recent, kept, START) == []


def test_the_same_seed_gives_the_same_past(filled: Filled) -> None:
    again: list[DayDone] = []
    work = dataclasses.replace(filled.work, plan=dataclasses.replace(filled.work.plan, recent_dates=()))
    simulate_history(work, again.append, lambda: False)
    assert [d.date for d in again] == [dt.date(2026, 3, 8)]
    first = {(r.shift_key, r.equipment_id): r.totals for r in filled.days[-1].rows}
    assert {(r.shift_key, r.equipment_id): r.totals for r in again[0].rows} == first
    other = dataclasses.replace(work, seed=8)
    different: list[DayDone] = []
    simulate_history(other, different.append, lambda: False)
    assert {(r.shift_key, r.equipment_id): r.totals for r in different[0].rows} != first


def test_stopping_ends_the_simulation_at_the_next_day() -> None:
    plan = plan_history(PLANT, START, 5, 0)
    work = HistoryWork(PLANT, CONFIG, plan, 7, 0, ManualClock(start_ns=START))
    stop = threading.Event()
    emitted: list[DayDone] = []

    def emit(day: DayDone) -> None:
        emitted.append(day)
        stop.set()

    simulate_history(work, emit, stop.is_set)
    assert len(emitted) == 1 and plan.days_total == 6


def test_a_store_that_holds_its_past_gets_none_simulated(filled: Filled, tmp_path: Path) -> None:
    import asyncio

    job = DemoHistory(PLANT, CONFIG, start_ns=START, days=2, seed=7, clock=ManualClock(start_ns=START))
    asyncio.run(job.start(filled.store, filled.notes))
    snapshot = job.progress.snapshot()
    assert job.finished.is_set()
    assert snapshot.state.value == "none" and snapshot.detail == "the store holds its past already"
    none = DemoHistory(PLANT, CONFIG, start_ns=START, days=0, seed=7, clock=ManualClock(start_ns=START))
    asyncio.run(none.start(filled.store, filled.notes))
    assert none.progress.snapshot().detail == "no simulated past was asked for (--history-days 0)"


def test_a_disk_without_room_gets_the_past_as_rows_only(
    filled: Filled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A demo's simulated past never fills a disk: without room for its samples it keeps the rows only, and they
    say the store holds none of their samples (so the keeper keeps them)."""
    from shopfloor.cli import demo_history

    monkeypatch.setattr(demo_history, "RAW_DISK_RESERVE_BYTES", 1 << 62)  # more than any disk has free
    caplog.set_level("INFO", logger="shopfloor.demo.history")
    store = DuckDBStore(tmp_path / "shopfloor.duckdb", PLANT.plant.id)
    notes = AnnotationStore(tmp_path / "annotations.sqlite3")
    try:
        job = DemoHistory(PLANT, CONFIG, start_ns=START, days=2, seed=7, clock=ManualClock(start_ns=START))
        for day in filled.days:
            assert job.write_day(store, day) == 0
        rows = store.read_ledger(sh(2026, 3, 8, 6), START)
        assert len(rows) == 6 * 13 and {r.samples_read for r in rows} == {0}
        assert store.count_samples(MEASUREMENT_PRINTER, ["mso-cpp-1"], PRINTER_KPI_FIELDS, sh(2026, 3, 8), START) == {
            "mso-cpp-1": 0
        }
        ledger = Ledger(PLANT, store, notes, config=CONFIG, clock_ns=lambda: START)
        assert ledger.catch_up(sh(2026, 3, 9, 6), START) == 0, "nothing stale: the rows stand"
        said = [r.getMessage() for r in caplog.records if "without raw samples" in r.getMessage()]
        assert len(said) == 1, said
    finally:
        notes.close()
        store.close()


def plant_file_with_retention(tmp_path: Path, days: int) -> Path:
    from importlib import resources

    text = resources.files("shopfloor.models.plants").joinpath("mso_cpp_plant.toml").read_text(encoding="utf-8")
    old = "raw_retention_days = 90"
    assert old in text
    path = tmp_path / "plant.toml"
    path.write_text(text.replace(old, f"raw_retention_days = {days}"), encoding="utf-8")
    return path


@pytest.mark.timeout(900)  # the past is simulated at a low priority: on a loaded machine it takes its time
def test_the_demo_shows_the_live_plant_at_once_and_its_past_as_it_is_written(tmp_path: Path) -> None:
    """``shopfloor demo`` as a process, with four days of past and two days of raw retention (a short run of what
    the default does with a year and a week)."""
    import time

    import httpx

    from tests.cli._process import Command
    from tests.cli.test_demo import poll

    data = tmp_path / "data"
    plant_file = plant_file_with_retention(tmp_path, 2)
    args = ("demo", "--port", "0", "--data-dir", str(data), "--plant", str(plant_file), "--history-days", "4")
    started = time.monotonic()
    demo = Command(*args, cwd=tmp_path, env={"SHOPFLOOR_API_KEYS": ""})
    states: list[dict[str, object]] = []
    try:
        url = demo.wait_for_line(r"^display\s+(http://127\.0\.0\.1:\d+/)$").group(1)
        with httpx.Client(base_url=url, timeout=30) as http:
            assert "<html" in http.get("/").text
            displayed_s = time.monotonic() - started
            assert displayed_s < 30, f"the display took {displayed_s:.0f} s"

            def live_and_filled() -> dict[str, object] | None:
                assert http.get("/api/v1/status").status_code == 200, "the live plant answers meanwhile"
                backfill = http.get("/api/v1/backfill").json()
                states.append(backfill)
                return backfill if backfill["state"] == "done" else None

            done = poll(live_and_filled, "the simulated past to be written", timeout_s=840)
            assert done["days_total"] == 5 and done["days_done"] == 5 and done["ledger_rows"] > 0
            assert done["raw_samples"] > 0 and done["first_date"] is not None
            until_ns = iso_ns(str(done["until"]))
            assert any(s["state"] == "running" for s in states), "the progress was visible while it ran"
            ytd = http.get("/api/v1/year-to-date")
            assert ytd.status_code == 200, ytd.text
            assert ytd.json()["plant"]["printed_m"] > 4 * 60_000
        demo.wait_for_line(r"history: 100 % \(5/5 days")
        demo.wait_for_line(r"history: 5 days in \d+ s: [\d,]+ ledger rows, [\d,]+ raw samples")
    finally:
        code = demo.interrupt()
    assert code == 0, demo.describe()

    first_day = sh(*dt.date.fromisoformat(str(done["first_date"])).timetuple()[:3], 6)
    store = DuckDBStore(data / "shopfloor.duckdb", PLANT.plant.id, read_only=True)
    notes = AnnotationStore(data / "annotations.sqlite3")
    try:
        rows = store.read_ledger(first_day, until_ns)
        ledger = Ledger(PLANT, store, notes, config=CONFIG, clock_ns=lambda: until_ns)
        closed = ledger.closed_instances(first_day, until_ns, until_ns)
        assert len(closed) >= 12, "four whole days of three shifts, at least"
        assert {r.shift_start_ns for r in rows} >= {i.start_ns for i in closed}, "a row for every settled shift"
        assert all(holds_data(r) for r in rows if r.shift_start_ns in {i.start_ns for i in closed})
        raw_from = first_day + 2 * 86_400 * NS_PER_S  # the two days before the retention's: rows only
        older = store.count_samples(MEASUREMENT_PRINTER, ["mso-cpp-1"], PRINTER_KPI_FIELDS, first_day, raw_from)
        assert older == {"mso-cpp-1": 0}, "no raw samples of the days beyond the retention"
        recent = store.count_samples(MEASUREMENT_PRINTER, ["mso-cpp-1"], PRINTER_KPI_FIELDS, raw_from, until_ns)
        assert recent["mso-cpp-1"] > 2 * 86_400 * len(PRINTER_KPI_FIELDS)
    finally:
        notes.close()
        store.close()

    # Started again over the same data folder: its past is there, nothing is simulated twice.
    again = Command(*args, cwd=tmp_path, env={"SHOPFLOOR_API_KEYS": ""})
    try:
        url = again.wait_for_line(r"^display\s+(http://127\.0\.0\.1:\d+/)$").group(1)
        with httpx.Client(base_url=url, timeout=30) as http:
            backfill = poll(lambda: http.get("/api/v1/backfill").json(), "the back-fill's state")
            if backfill["state"] == "none":
                assert backfill["detail"] == "the store holds its past already"
            else:  # started again after 06:00 local: a new production day joined the four days back, only it
                assert backfill["days_total"] == 1, backfill
    finally:
        code = again.interrupt()
    assert code == 0, again.describe()


def iso_ns(text: str) -> int:
    stamp = dt.datetime.fromisoformat(text)
    return (stamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1) * 1000
