"""GET /api/v1/year-to-date over a real DuckDB store: known answers from ledger rows of a real day, re-stamped.

The world (tests/api/_year.py): 10 March 2026 09:00 (Asia/Shanghai), fixed; 9 March's rows as the ledger
computes them from raw samples, stamped onto every production date a test needs. The metres this year are
then the sum of the rows plus the running shift (from raw samples), known here before the endpoint is asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import reduce
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.api.backfill import BackfillProgress, BackfillState
from shopfloor.api.ledger import Ledger, compose
from shopfloor.api.year_to_date import printer_totals
from shopfloor.models.annual_target import annual_target_progress
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.plant import Plant
from tests.api._year import PRINTER, Year, year_world
from tests.api.conftest import config


@pytest.fixture
def year(plant: Plant, tmp_path: Path) -> Iterator[Year]:
    with year_world(plant, tmp_path) as world:
        yield world


def test_the_year_so_far_is_the_sum_of_the_ledger_rows_and_the_running_shift(year: Year) -> None:
    past = year.restamp(dt.date(2026, 1, 1), dt.date(2026, 3, 9))
    year.store.write_ledger(past)
    rows = year.store.read_ledger(year.local(2026, 1, 1, 6), year.now_ns)
    assert len(rows) == 68 * 3 * 13, "68 days of three shifts, a printer and twelve robots"
    metres = year.printed(rows) + year.running_m
    with year.client() as client:
        body = client.get("/api/v1/year-to-date").json()
    plant = body["plant"]
    assert body["year"] == "2026" and body["from_year_start"] is True
    assert body["covered_from"] == body["year_start"] == "2026-01-01T06:00:00+08:00"
    assert body["year_end"] == "2027-01-01T06:00:00+08:00"
    assert body["now_ns"] == year.now_ns
    assert plant["printed_m"] == pytest.approx(metres, rel=1e-12)
    assert body["basis"]["ledger_shifts"] == 68 * 3 and body["basis"]["raw_shifts"] == 1
    target = annual_target_progress(year.plant.shift_calendar, year.plant.tz, year.now_ns, metres, 28_000_000.0)
    assert plant["annual_target_m"] == 28_000_000.0
    assert plant["attainment_pct"] == pytest.approx(target.attainment_pct)
    assert plant["expected_m"] == pytest.approx(target.expected_m)
    assert plant["expected_pct"] == pytest.approx(100 * target.expected_m / 28_000_000.0)  # type: ignore[operator]  # the year plans time
    assert plant["pace_pct"] == pytest.approx(target.pace_pct)
    assert plant["projected_m"] == pytest.approx(target.projected_m)
    assert plant["band"] in ("green", "amber", "red")
    energy = reduce(lambda a, b: a + b, (r.totals.energy_kwh for r in rows if r.equipment_id == PRINTER))  # type: ignore[union-attr]  # printer rows
    water = reduce(lambda a, b: a + b, (r.totals.water_l for r in rows if r.equipment_id == PRINTER))  # type: ignore[union-attr]  # printer rows
    assert plant["energy_kwh"] > energy and plant["water_l"] > water  # plus the running shift's
    saving_kwh = metres * 0.11 - plant["energy_kwh"]
    saving_l = metres * 12.0 - plant["water_l"]
    assert plant["energy_saving_kwh"] == pytest.approx(saving_kwh)
    assert plant["water_saving_l"] == pytest.approx(saving_l)
    assert plant["money_saving"] == pytest.approx(saving_kwh * 0.72 + saving_l / 1000 * 6.5)
    assert plant["co2_avoided_kg"] == pytest.approx(saving_kwh * 0.5703)
    assert body["currency"] == "CNY" and body["grid_emission_kg_co2_per_kwh"] == 0.5703
    assert body["printers"][0] == {
        "id": PRINTER,
        "name": body["printers"][0]["name"],
        "name_zh": body["printers"][0]["name_zh"],
        **plant,
    }


def test_the_printers_totals_are_composed_as_every_report_composes_them(year: Year) -> None:
    """The year so far reads the printers' rows alone: the same totals as ``compose`` gives, bit for bit."""
    year.store.write_ledger(year.restamp(dt.date(2026, 1, 1), dt.date(2026, 3, 9)))
    code = next(r.code for r in year.plant.stop_reasons if r.code != 0)
    shift = year.day_rows[0]
    year.notes.set_reason(PRINTER, shift.shift_start_ns, shift.shift_end_ns, code, "alice")  # one recomputed
    ledger = Ledger(year.plant, year.store, year.notes, config=KpiConfig.of(year.plant), clock_ns=lambda: year.now_ns)
    start = year.local(2026, 1, 1, 6)
    composed, basis = compose(ledger, start, year.now_ns, year.now_ns)
    totals, printer_basis = printer_totals(ledger, start, year.now_ns, year.now_ns)
    assert totals[PRINTER] == reduce(lambda a, b: a + b, composed.printers[PRINTER], PrinterTotals())
    assert printer_basis == basis and basis.raw_shifts == 2  # the running shift and the corrected one


def test_the_year_starts_where_the_stores_data_does(year: Year) -> None:
    """A plant that started monitoring on 1 February: its figures cover from there, and say so."""
    year.store.write_ledger(year.restamp(dt.date(2026, 2, 1), dt.date(2026, 3, 9)))
    rows = year.store.read_ledger(year.local(2026, 1, 1, 6), year.now_ns)
    with year.client() as client:
        body = client.get("/api/v1/year-to-date").json()
    assert body["covered_from"] == "2026-02-01T06:00:00+08:00" and body["from_year_start"] is False
    assert body["plant"]["printed_m"] == pytest.approx(year.printed(rows) + year.running_m, rel=1e-12)


def test_with_raw_samples_only_the_year_starts_at_their_first_shift(year: Year) -> None:
    """A fresh install: no ledger rows yet, and a day of samples."""
    assert year.store.read_ledger(year.local(2026, 1, 1, 6), year.now_ns) == []
    app = create_app(year.plant, year.store, annotations=year.notes, config=config(), clock_ns=lambda: year.now_ns)
    service = app.state.year_to_date
    # the first sample is at 05:50 on 9 March, in the night shift of 8 March
    assert service.covered_from(year.local(2026, 1, 1, 6), year.now_ns) == year.local(2026, 3, 8, 22)
    with TestClient(app) as client:
        body = client.get("/api/v1/year-to-date").json()
    assert body["covered_from"] == "2026-03-08T22:00:00+08:00"
    # the keeper (the client runs the lifespan) may have written the first rows by now: either way, five shifts
    basis = body["basis"]
    assert basis["ledger_shifts"] + basis["raw_shifts"] == 5 and basis["stale_shift_keys"] == []
    assert body["plant"]["printed_m"] > 0


def test_rows_of_shifts_before_the_first_sample_are_not_where_the_data_begins(year: Year) -> None:
    """The keeper writes rows from the day before the plant's first sample (earlier shifts have nothing to keep):
    the empty rows of that day are not where the data begins."""
    ledger = Ledger(year.plant, year.store, year.notes, config=KpiConfig.of(year.plant), clock_ns=lambda: year.now_ns)
    # 8 March early and late (empty: before the first sample), its night shift, and three of 9 March
    assert ledger.catch_up(year.local(2026, 3, 1, 6), year.now_ns) == 6
    app = create_app(year.plant, year.store, annotations=year.notes, config=config(), clock_ns=lambda: year.now_ns)
    assert app.state.year_to_date.covered_from(year.local(2026, 1, 1, 6), year.now_ns) == year.local(2026, 3, 8, 22)
    with TestClient(app) as client:
        body = client.get("/api/v1/year-to-date").json()
    assert body["covered_from"] == "2026-03-08T22:00:00+08:00"
    assert body["basis"]["ledger_shifts"] == 4 and body["basis"]["raw_shifts"] == 1


def test_a_gap_the_ledger_does_not_cover_is_refused_as_still_being_built(year: Year) -> None:
    year.store.write_ledger(year.restamp(dt.date(2026, 1, 1), dt.date(2026, 1, 20)))  # then nothing until 9 March
    with year.client() as client:
        response = client.get("/api/v1/year-to-date")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "the ledger is still being built" in response.json()["detail"]


def test_figures_are_cached_and_a_correction_is_computed_at_once(year: Year) -> None:
    year.store.write_ledger(year.restamp(dt.date(2026, 1, 1), dt.date(2026, 3, 9)))
    with year.client() as client:
        service = client.app.state.year_to_date  # type: ignore[attr-defined]  # Starlette's app has a state
        first = client.get("/api/v1/year-to-date").json()
        assert client.get("/api/v1/year-to-date").json() == first
        assert service.computations == 1, "within the TTL the display's polls cost nothing"
        shift = year.day_rows[0]
        code = next(r.code for r in year.plant.stop_reasons if r.code != 0)
        year.notes.set_reason(PRINTER, shift.shift_start_ns, shift.shift_end_ns, code, "alice")
        client.get("/api/v1/year-to-date")
        assert service.computations == 2, "a correction is not served stale"


async def test_expired_figures_are_served_while_one_refresh_runs(year: Year) -> None:
    year.store.write_ledger(year.restamp(dt.date(2026, 1, 1), dt.date(2026, 3, 9)))
    clock = [0.0]
    app = create_app(year.plant, year.store, annotations=year.notes, config=config(), clock_ns=lambda: year.now_ns)
    from shopfloor.api.year_to_date import YearToDateService

    service = YearToDateService(app.state.services.kpi, ttl_s=30.0, monotonic=lambda: clock[0])
    first = await service.get_async()
    clock[0] = 31.0  # expired, not yet past the stale limit
    stale = await service.get_async()
    assert stale is first
    assert len(service._refresh.tasks) <= 1
    for task in list(service._refresh.tasks):
        await task
    assert service.computations == 2
    clock[0] = 31.0 + 30.0 * 5 + 1  # far past: computed before answering
    again = await service.get_async()
    assert again is not first and service.computations == 3


def test_the_backfill_says_none_without_a_job_and_follows_one(year: Year) -> None:
    progress = BackfillProgress()
    app = create_app(
        year.plant,
        year.store,
        annotations=year.notes,
        config=config(),
        clock_ns=lambda: year.now_ns,
        backfill=progress,
    )
    with TestClient(app) as client:
        assert client.get("/api/v1/backfill").json()["state"] == "none"
        progress.begin("simulated history", dt.date(2025, 3, 10), dt.date(2026, 3, 10), 366, year.now_ns)
        for _ in range(230):
            progress.day_done(39, 0)
        body = client.get("/api/v1/backfill").json()
        assert body["state"] == "running" and (body["days_done"], body["days_total"]) == (230, 366)
        assert body["percent"] == pytest.approx(100 * 230 / 366)
        assert body["ledger_rows"] == 230 * 39 and body["until"] == "2026-03-10T09:00:00+08:00"
        assert body["first_date"] == "2025-03-10" and body["elapsed_s"] >= 0
        progress.end(BackfillState.DONE)
        assert client.get("/api/v1/backfill").json()["state"] == "done"
    with pytest.raises(ValueError, match="days_total must be > 0"):
        progress.begin("x", dt.date(2026, 1, 1), dt.date(2026, 1, 1), 0, 0)
    with pytest.raises(ValueError, match="ends done, stopped or failed, not running"):
        progress.end(BackfillState.RUNNING)
