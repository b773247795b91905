"""Team tracking over a year: per month, each team's objectives sheet, rank, Pareto and savings; the CSV export.

Over a month of ledger (tests/api/_tracking_world.py; "now" is 2026-11-20 10:00): every figure of a period
is the figure of the scoreboard, Pareto and savings endpoints asked for the same period, and October rests
on the ledger alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.plant import load_plant
from tests.api._tracking_world import TrackingWorld, build
from tests.api.conftest import config

MONTHS_2026 = [f"2026-{m:02d}" for m in range(1, 12)]  # to November, the running month


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingWorld]:
    w = build(load_plant(), tmp_path_factory.mktemp("tracking"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def client(world: TrackingWorld) -> TestClient:
    # No lifespan: the ledger keeper stays off, so what comes from the ledger and what from raw samples is fixed.
    return TestClient(
        create_app(world.plant, world.store, annotations=world.annotations, config=config(), clock_ns=world.clock_ns)
    )


def test_a_team_per_month_of_the_year(client: TestClient, world: TrackingWorld) -> None:
    body = client.get("/api/v1/tracking/teams/gravure", params={"period": "month", "year": 2026}).json()
    assert body["team"] == {
        "id": "gravure",
        "name": world.plant.team("gravure").name,
        "name_zh": "凹版印花机组",
        "kind": "equipment",
        "equipment": ["mso-cpp-1"],
    }
    assert body["period"] == "month" and body["span"]["label"] == "2026"
    assert [p["label"] for p in body["periods"]] == MONTHS_2026
    assert [p["complete"] for p in body["periods"]] == [True] * 10 + [False]
    october = body["periods"][9]
    assert october["basis"] == {
        "ledger_shifts": 93,
        "raw_shifts": 0,
        "stale_shift_keys": [],
        "unrecorded_equipment": [],
    }
    assert october["shifts"] == 93 and october["teams_ranked"] == len(world.plant.teams)
    # the objectives sheet: targets per shift scaled to the month's shifts (metres), ratios as they are
    targets = {o.kpi.value: o.target for o in world.plant.team("gravure").objectives}
    sheet = {o["kpi"]: o for o in october["objectives"]}
    assert sheet["printed_m"]["target"] == targets["printed_m"] * 93
    assert sheet["oee_pct"]["target"] == targets["oee_pct"]
    printed = sum(r.totals.printed_m for r in world.rows if r.equipment_id == "mso-cpp-1")
    assert sheet["printed_m"]["actual"] == pytest.approx(printed)
    assert [o["weight"] for o in october["objectives"]] == [o.weight for o in world.plant.team("gravure").objectives]
    # the same downtime as the month's Pareto of the team's one printer, and savings against the baseline
    downtime = sum(
        m for r in world.rows if isinstance(r.totals, PrinterTotals) for m in r.totals.downtime_s_by_reason.values()
    )
    assert sum(e["downtime_min"] for e in october["pareto"]) == pytest.approx(downtime / 60)
    assert october["energy_water"]["energy_saving_kwh"] > 0 and october["energy_water"]["co2_avoided_kg"] > 0
    march = body["periods"][2]
    assert march["score"] is None and march["pareto"] == [] and march["energy_water"]["printed_m"] == 0
    assert march["basis"]["ledger_shifts"] == 0 and march["basis"]["raw_shifts"] == 93  # nothing stored: raw, empty
    robots = client.get("/api/v1/tracking/teams/charging-robots", params={"period": "month", "year": 2026}).json()
    october = robots["periods"][9]
    assert october["pareto"] == [] and october["energy_water"] is None, "no printers: no downtime, no savings"
    assert october["score"] is not None and {o["kpi"] for o in october["objectives"]} >= {"charging_sessions"}


def test_a_months_figures_are_the_scoreboards_for_the_same_month(client: TestClient) -> None:
    body = client.get("/api/v1/tracking/teams/crew-b", params={"period": "month", "year": 2026}).json()
    october = body["periods"][9]
    month = {"period": "month", "at": "2026-10-01"}
    board = client.get("/api/v1/teams/scoreboard", params=month).json()
    crew = next(t for t in board["teams"] if t["team"] == "crew-b")
    assert (october["score"], october["rank"], october["shifts"]) == (crew["score"], crew["rank"], crew["shifts"])
    assert october["objectives"] == crew["objectives"]  # ==: the same sums in the same order
    report = client.get("/api/v1/reports/teams/crew-b", params=month).json()
    assert october["pareto"][:5] == report["top_downtime_reasons"]
    assert october["energy_water"] == pytest.approx(report["energy_water"])
    ranking = client.get("/api/v1/tracking/ranking", params={"period": "month", "year": 2026}).json()
    assert [(r["team"], r["rank"], r["score"]) for r in ranking["periods"][9]["ranks"]] == [
        (t["team"], t["rank"], t["score"]) for t in board["teams"]
    ]


def test_rank_history_of_every_team(client: TestClient, world: TrackingWorld) -> None:
    body = client.get("/api/v1/tracking/ranking", params={"period": "quarter", "year": 2026}).json()
    assert [t["id"] for t in body["teams"]] == [t.id for t in world.plant.teams]
    assert [p["label"] for p in body["periods"]] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    for p in body["periods"]:
        assert sorted(r["rank"] for r in p["ranks"]) == list(range(1, len(world.plant.teams) + 1))
    q4 = body["periods"][3]
    assert q4["complete"] is False and q4["basis"]["ledger_shifts"] == 93
    crews = [r for r in q4["ranks"] if r["team"].startswith("crew-")]
    assert sum(r["shifts"] for r in crews) == sum(r["shifts"] for r in q4["ranks"] if r["team"] == "gravure")


def test_days_of_a_month_and_weeks(client: TestClient) -> None:
    days = client.get("/api/v1/tracking/teams/gravure", params={"period": "day", "month": "2026-10"}).json()
    assert days["span"]["label"] == "2026-10" and len(days["periods"]) == 31
    assert all(p["shifts"] == 3 and p["basis"]["ledger_shifts"] == 3 for p in days["periods"])
    scores = {p["score"] for p in days["periods"]}
    assert len(scores) == 1, "every day is a copy of the one real day"
    weeks = client.get("/api/v1/tracking/teams/gravure", params={"period": "week", "month": "2026-10"}).json()
    assert [p["label"] for p in weeks["periods"]] == ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"]


def test_periods_are_computed_once_and_cached(client: TestClient) -> None:
    breakdowns = client.app.state.services.breakdowns  # type: ignore[attr-defined]  # app.state is untyped
    query = {"period": "month", "year": 2026}
    client.get("/api/v1/tracking/teams/gravure", params=query)
    before = breakdowns.computations
    client.get("/api/v1/tracking/teams/crew-a", params=query)
    client.get("/api/v1/tracking/ranking", params=query)
    client.get("/api/v1/tracking/teams/gravure.csv", params=query)
    # another team, the ranking and the CSV use the same periods; at most the running month expired meanwhile
    assert breakdowns.computations - before <= 3


def test_csv_export_of_the_objectives_sheets(client: TestClient, world: TrackingWorld) -> None:
    query = {"period": "month", "year": 2026}
    body = client.get("/api/v1/tracking/teams/gravure", params=query).json()
    r = client.get("/api/v1/tracking/teams/gravure.csv", params=query)
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="gravure-month-2026.csv"'
    assert r.text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0] == ["team", "gravure", world.plant.team("gravure").name, "凹版印花机组"]
    assert rows[1] == ["period", "month", "span", "2026"]
    header = rows[3]
    assert header[:6] == ["period", "start", "end", "complete", "score", "rank"]
    sheet = [dict(zip(header, row, strict=True)) for row in rows[4 : 4 + 11 * 4]]
    assert [s["period"] for s in sheet[::4]] == MONTHS_2026
    october = next(s for s in sheet if s["period"] == "2026-10" and s["objective"] == "printed_m")
    expected = next(o for o in body["periods"][9]["objectives"] if o["kpi"] == "printed_m")
    assert float(october["actual"]) == pytest.approx(expected["actual"], rel=1e-5)
    assert float(october["target"]) == expected["target"] and october["complete"] == "yes"
    assert october["name_zh"] == "印花米数"
    savings_at = rows.index(
        ["period", "printed_m", "energy_saving_kwh", "water_saving_l", "money_saving", "currency", "co2_avoided_kg"]
    )
    saved = {row[0]: row for row in rows[savings_at + 1 :]}
    assert float(saved["2026-10"][2]) == pytest.approx(
        body["periods"][9]["energy_water"]["energy_saving_kwh"], rel=1e-5
    )


def test_bad_tracking_requests_say_what_was_expected(client: TestClient) -> None:
    cases = {
        ("/api/v1/tracking/teams/crew-z", "period=month"): (404, "unknown team 'crew-z'"),
        ("/api/v1/tracking/teams/gravure", "period=day&year=2026"): (422, "at most 120"),
        ("/api/v1/tracking/teams/gravure", "period=shift&year=2026"): (422, "give month=YYYY-MM"),
        ("/api/v1/tracking/teams/gravure", "period=day&month=2026-13"): (422, "not of the form YYYY-MM"),
        ("/api/v1/tracking/teams/gravure", "period=month&year=2027"): (422, "2027 has not started yet"),
        ("/api/v1/tracking/teams/gravure", "year=2026&month=2026-10"): (422, "not both"),
        ("/api/v1/tracking/teams/gravure", "period=fortnight"): (422, "period"),
        ("/api/v1/tracking/ranking", "year=1900"): (422, "greater than or equal to 1971"),
        ("/api/v1/tracking/ranking", "years=11"): (422, "less than or equal to 10"),
        ("/api/v1/tracking/ranking", "period=month&years=10&year=1975"): (422, "years 1971-2200"),
    }
    for (path, query), (status, message) in cases.items():
        r = client.get(f"{path}?{query}")
        assert r.status_code == status, (path, query, r.text)
        assert message in r.text, (path, query, r.text)


def test_several_years(client: TestClient) -> None:
    body = client.get("/api/v1/tracking/ranking", params={"period": "year", "year": 2026, "years": 3}).json()
    assert body["span"]["label"] == "2024–2026"
    assert [p["label"] for p in body["periods"]] == ["2024", "2025", "2026"]
    assert body["periods"][2]["basis"]["ledger_shifts"] == 93
