"""Ranges of any length over a month of ledger: period=/at=, year to date, ten years, per-period listings.

The store holds one real day of history and a month of ledger rows (tests/api/_tracking_world.py); the
app's clock is fixed on 2026-11-20 10:00. Periods resolve to exactly what models/periods.py says; the
KPI, team and savings endpoints take ten years and list long ranges per period; the endpoints that return
raw series keep their 31 days and say why.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.api.breakdowns import BreakdownService
from shopfloor.api.kpi_service import MAX_CONCURRENT_COMPUTATIONS, KpiService
from shopfloor.api.timerange import resolve
from shopfloor.models.calendar import to_ns
from shopfloor.models.periods import Period, period_of_date, period_range, year_to_date
from shopfloor.models.plant import Plant, load_plant
from tests.api._tracking_world import REAL_DAY, TrackingWorld, build
from tests.api.conftest import config

TEN_YEARS = {"start": "2016-11-21T00:00:00", "end": "2026-11-20T00:00:00"}  # 3651 days


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingWorld]:
    w = build(load_plant(), tmp_path_factory.mktemp("periods"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def client(world: TrackingWorld) -> TestClient:
    # No lifespan: the ledger keeper stays off, so what comes from the ledger and what from raw samples is fixed.
    return TestClient(
        create_app(world.plant, world.store, annotations=world.annotations, config=config(), clock_ns=world.clock_ns)
    )


def local_ns(plant: Plant, *args: int) -> int:
    return to_ns(dt.datetime(*args, tzinfo=plant.tz))  # type: ignore[misc]  # year, month, day, hour, ...


def test_periods_resolve_as_the_periods_model_says(client: TestClient, world: TrackingWorld) -> None:
    plant = world.plant
    cal, tz = plant.shift_calendar, plant.tz
    cases = {
        "day": period_of_date(cal, tz, Period.DAY, REAL_DAY),
        "week": period_of_date(cal, tz, Period.WEEK, REAL_DAY),
        "month": period_of_date(cal, tz, Period.MONTH, REAL_DAY),
        "quarter": period_of_date(cal, tz, Period.QUARTER, REAL_DAY),
        "year": period_of_date(cal, tz, Period.YEAR, REAL_DAY),
    }
    labels = {"day": "2026-10-14", "week": "2026-W42", "month": "2026-10", "quarter": "2026-Q4", "year": "2026"}
    for kind, expected in cases.items():
        body = client.get("/api/v1/teams/scoreboard", params={"period": kind, "at": "2026-10-14"}).json()
        assert (
            body["range"]["period"] == {"kind": kind, "label": labels[kind]} == {"kind": kind, "label": expected.label}
        )
        assert body["range"]["start_ns"] == expected.start_ns
        assert body["range"]["end_ns"] == min(expected.end_ns, world.now_ns), kind  # the year is clipped to now
    # a moment: the shift (and day) it falls in; 01:00 belongs to the previous production date's night shift
    night = client.get("/api/v1/kpis", params={"period": "shift", "at": "2026-10-15T01:00:00"}).json()["range"]
    assert night["shift"]["key"] == "2026-10-14/night" and night["period"]["label"] == "2026-10-14/night"
    shift = period_range(cal, tz, Period.SHIFT, local_ns(plant, 2026, 10, 15, 1))
    assert (night["start_ns"], night["end_ns"]) == (shift.start_ns, shift.end_ns)
    day = client.get("/api/v1/savings", params={"period": "day", "at": "2026-10-15T01:00:00"}).json()["range"]
    assert day["period"]["label"] == "2026-10-14"
    # no at: the period running now
    month = client.get("/api/v1/teams/scoreboard", params={"period": "month"}).json()["range"]
    assert month["period"]["label"] == "2026-11" and month["end_ns"] == world.now_ns


def test_year_to_date(client: TestClient, world: TrackingWorld) -> None:
    cal, tz = world.plant.shift_calendar, world.plant.tz
    body = client.get("/api/v1/teams/scoreboard", params={"period": "ytd"}).json()["range"]
    ytd = year_to_date(cal, tz, world.now_ns)
    assert (body["start_ns"], body["end_ns"], body["period"]) == (
        ytd.start_ns,
        world.now_ns,
        {"kind": "ytd", "label": "2026"},
    )
    # as of a production date: the year's start to that date's end
    body = client.get("/api/v1/savings", params={"period": "ytd", "at": "2026-10-14"}).json()["range"]
    assert body["start_ns"] == ytd.start_ns
    assert body["end_ns"] == period_of_date(cal, tz, Period.DAY, REAL_DAY).end_ns


def test_bad_periods_are_refused_with_the_reason(client: TestClient) -> None:
    cases = {
        "period=shift&at=2026-10-14": "period=shift needs at= a time",
        "period=month&at=2027-01-05": "has not started yet",
        "period=month&at=yesterday": "neither a production date",
        "period=month&at=2026-02-30": "not a calendar date",
        "period=month&at=2999-01-01": "outside the years 1971-2200",
        "at=2026-10-14": "at goes with period",
        "period=month&shift=2026-10-14/early": "not several",
        "period=month&start=2026-10-01T00:00:00&end=2026-10-02T00:00:00": "not several",
        "period=fortnight": "period",
    }
    for query, message in cases.items():
        r = client.get(f"/api/v1/teams/scoreboard?{query}")
        assert r.status_code == 422, (query, r.text)
        assert message in r.text, (query, r.text)


def test_ten_years_on_kpi_endpoints_but_not_on_raw_series(client: TestClient) -> None:
    body = client.get("/api/v1/kpis", params=TEN_YEARS).json()
    assert body["by"] == "month" and body["shifts"] == []
    assert len(body["periods"]) == 121 and body["periods"][0]["label"] == "2016-11"
    october = next(p for p in body["periods"] if p["label"] == "2026-10")
    assert october["shifts"] == 93 and october["printers"]["mso-cpp-1"]["printed_m"] > 0
    breakdowns = client.app.state.services.breakdowns  # type: ignore[attr-defined]  # app.state is untyped
    computed = breakdowns.computations
    for path in ("/api/v1/teams/scoreboard", "/api/v1/savings", "/api/v1/printers/mso-cpp-1/pareto"):
        r = client.get(path, params=TEN_YEARS)
        assert r.status_code == 200, (path, r.text)
    assert (
        client.get("/api/v1/savings", params=TEN_YEARS).json()["printers"]["mso-cpp-1"]
        == (body["printers"]["mso-cpp-1"]["energy"])
    )
    assert breakdowns.computations == computed, "the range's total is the one computed with its months"
    for path in ("/api/v1/printers/mso-cpp-1/stops", "/api/v1/printers/mso-cpp-1/throughput", "/api/v1/notes"):
        r = client.get(path, params=TEN_YEARS)
        assert r.status_code == 422, (path, r.text)
        assert "at most 31 days long: this endpoint returns raw samples" in r.text, r.text
    r = client.get("/api/v1/kpis", params={"start": "2016-11-01T00:00:00", "end": "2026-11-20T00:00:00"})
    assert r.status_code == 422 and "at most 3653 days" in r.text


def test_a_year_lists_months_and_each_month_is_that_months_report(client: TestClient) -> None:
    year = client.get("/api/v1/equipment/mso-cpp-1/kpis", params={"period": "year", "at": "2026-10-14"}).json()
    assert year["by"] == "month" and year["by_shift"] == {} and year["hourly_printed_m"] is None
    assert list(year["by_period"]) == [f"2026-{m:02d}" for m in range(1, 12)]  # to November, the running month
    month = client.get("/api/v1/equipment/mso-cpp-1/kpis", params={"period": "month", "at": "2026-10-14"}).json()
    assert month["by"] == "shift" and len(month["by_shift"]) == 93
    assert year["by_period"]["2026-10"] == month["total"]  # the same sums in the same order: ==
    assert year["by_period"]["2026-03"]["printed_m"] == 0.0  # before the plant was monitored
    # the year's total: the sum of its months (metres add exactly here: whole numbers of a simulated day)
    assert year["total"]["printed_m"] == pytest.approx(sum(m["printed_m"] for m in year["by_period"].values()))


def test_listing_per_period_on_request_and_bounded(client: TestClient) -> None:
    weeks = client.get("/api/v1/kpis", params={"period": "month", "at": "2026-10-14", "by": "week"}).json()
    assert [p["label"] for p in weeks["periods"]] == ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"]
    assert weeks["periods"][0]["start_ns"] == weeks["range"]["start_ns"], "the first week is clipped to October"
    assert sum(p["shifts"] for p in weeks["periods"]) == 93
    team = client.get("/api/v1/teams/gravure", params={"period": "quarter", "at": "2026-10-14"}).json()
    assert team["by"] == "month" and team["by_shift"] == {} and team["trend"] == {}
    assert list(team["by_period"]) == ["2026-10", "2026-11"]
    cases = {
        ("/api/v1/kpis", "period=year&by=shift"): "by=shift lists ranges of up to 31 days",
        ("/api/v1/kpis", "start=2016-11-21T00:00:00&end=2026-11-20T00:00:00&by=day"): "more than 400 periods",
        ("/api/v1/kpis/series.csv", "equipment=mso-cpp-1&period=year"): "bucket=shift lists ranges of up to 31",
    }
    for (path, query), message in cases.items():
        r = client.get(f"{path}?{query}")
        assert r.status_code == 422 and message in r.text, (path, query, r.text)


def test_series_csv_per_month_and_the_long_team_report(client: TestClient) -> None:
    r = client.get(
        "/api/v1/kpis/series.csv",
        params={"equipment": "mso-cpp-1", "kpi": "printed_m", "bucket": "month", "period": "year", "at": "2026-10-14"},
    )
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["bucket", "start", "end", "equipment", "printed_m"]
    assert [row[0] for row in rows[1:]] == [f"2026-{m:02d}" for m in range(1, 12)]
    october = client.get("/api/v1/equipment/mso-cpp-1/kpis", params={"period": "month", "at": "2026-10-14"}).json()
    assert float(rows[10][4]) == pytest.approx(october["total"]["printed_m"], rel=1e-5)  # CSV keeps 6 digits
    report = client.get("/api/v1/reports/teams/crew-a", params={"period": "year", "at": "2026-10-14"}).json()
    assert report["shifts_worked"] == [] and report["team"]["shifts"] > 0
    assert report["top_downtime_reasons"] and report["energy_water"]["energy_saving_kwh"] > 0
    r = client.get("/api/v1/reports/teams/crew-a", params={"period": "year", "at": "2026-10-14", "format": "csv"})
    assert r.headers["content-disposition"] == 'attachment; filename="crew-a-2026.csv"'


def test_a_year_of_a_plant_monitored_since_october_is_not_refused(client: TestClient, world: TrackingWorld) -> None:
    """January to September hold no samples and no ledger rows: computed from (no) raw samples, they cost no
    share of the bound on raw history a request may compute (else the year would be "still being built" for
    ever)."""
    kpi = client.app.state.services.kpi  # type: ignore[attr-defined]  # app.state is untyped
    report = kpi.compute(
        period_of_date(world.plant.shift_calendar, world.plant.tz, Period.YEAR, REAL_DAY).start_ns, world.now_ns
    )
    assert kpi.last_basis.ledger_shifts == 93
    assert report.printers["mso-cpp-1"].printed_m > 0


def test_an_expired_long_range_is_served_while_it_is_recomputed_in_the_background(world: TrackingWorld) -> None:
    """Stale-while-revalidate: the year so far takes seconds to compose; no request waits for that because the
    cache turned over. The computation slots are held here, so a request that waited for a recomputation would
    not return at all."""
    kpi = KpiService(world.plant, world.store, world.annotations, clock_ns=world.clock_ns)
    breakdowns = BreakdownService(kpi, cache_s=0.0)  # every breakdown has expired by the next request
    rng = resolve(world.plant, shift=None, start=None, end=None, max_range_days=3660, now_ns=world.now_ns, period="ytd")
    assert rng.nominal_end_ns > world.now_ns, "a range still running: it expires after cache_s"

    async def scenario() -> None:
        first = await breakdowns.get_async(rng)
        computed = breakdowns.computations
        slots = kpi.computation_slot()
        assert all(slots.acquire(timeout=60) for _ in range(MAX_CONCURRENT_COMPUTATIONS)), "every slot held"
        try:
            # (the timeout only detects a request that waits: served from the cache, it returns at once)
            second = await asyncio.wait_for(breakdowns.get_async(rng), timeout=120)
            assert second is first, "the expired breakdown, as it was"
            assert breakdowns.computations == computed, "nothing could compute while the slots were held"
        finally:
            for _ in range(MAX_CONCURRENT_COMPUTATIONS):
                slots.release()
        await asyncio.wait_for(asyncio.gather(*breakdowns._refresh.tasks), timeout=120)
        assert breakdowns.computations == computed + 1, "one recomputation, in the background"
        third = await breakdowns.get_async(rng)
        assert third is not first and third.total == first.total, "the recomputed breakdown: the same figures"

    asyncio.run(scenario())
