"""REST requests over the app (httpx ASGI test client) against a real DuckDB store with a realistic history."""

from __future__ import annotations

import csv
import io
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shopfloor.api.timerange import current_shift
from shopfloor.models.calendar import shift_instances
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.states import PRINTER_STATE_LABELS, ROBOT_STATE_LABELS, PrinterState, RobotState
from tests.api.conftest import Env

S = 1_000_000_000


def test_health_and_metrics_count_requests(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    client.get("/api/v1/teams/does-not-exist")
    text = client.get("/metrics").text
    assert 'shopfloor_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    # The route template, not the raw path, is the label: a scanner cannot create new series.
    assert 'route="/api/v1/teams/{team_id}",status="404"' in text
    assert 'shopfloor_store_lag_seconds{equipment="mso-cpp-1"}' in text
    assert "shopfloor_live_clients 0.0" in text


def test_status_shows_what_was_written(client: TestClient, env: Env) -> None:
    body = client.get("/api/v1/status").json()
    latest = env.store.latest(MEASUREMENT_PRINTER, ["mso-cpp-1"])["mso-cpp-1"]
    printer = body["printers"][0]
    code = int(latest["state"][1])
    assert printer["state"] == code
    en, zh = PRINTER_STATE_LABELS[PrinterState(code)]
    assert (printer["state_label"], printer["state_label_zh"]) == (en, zh)
    assert printer["speed_m_min"] == latest["speed_m_min"][1]
    assert printer["since_ns"] <= latest["state"][0]
    # metres this shift: newest counter reading minus the reading in force at the shift start
    shift = current_shift(env.plant, time.time_ns())
    series = env.store.read_series(
        MEASUREMENT_PRINTER, ["mso-cpp-1"], ["printed_m_total"], shift.start_ns - 5 * S, time.time_ns()
    )["mso-cpp-1"]["printed_m_total"]
    at_start = series.value[series.ts_ns <= shift.start_ns][-1]  # the history begins before the previous shift
    assert printer["printed_m_shift"] == pytest_approx(series.value[-1] - at_start)
    assert printer["target_m_shift"] == 26000
    robots = body["fleets"][0]["robots"]
    assert [r["id"] for r in robots] == [r.id for r in env.plant.fleets[0].robots]
    for r in robots:
        assert r["state_label_zh"] == ROBOT_STATE_LABELS[RobotState(r["state"])][1]
        assert 0 <= r["soc_pct"] <= 100
    assert body["shift"]["key"] == shift.key


def iso_utc(ns: int) -> str:
    """Whole seconds (what a person would type), UTC offset given."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ns // S))


def pytest_approx(x: float) -> object:
    return pytest.approx(x, abs=0.05)  # counters have 0.1 m resolution


def test_printer_kpis_of_a_shift_match_the_counters(client: TestClient, env: Env) -> None:
    body = client.get("/api/v1/equipment/mso-cpp-1/kpis", params={"shift": env.previous_shift}).json()
    shift = body["range"]["shift"]
    assert shift["key"] == env.previous_shift
    # In context (docs/kpi.md, "Context"): the shift's closing reading, at or after its end, closes its last
    # increment; the reading before its start opens none of its increments.
    start_ns, end_ns = body["range"]["start_ns"], body["range"]["end_ns"]
    series = env.store.read_series_in_context(
        MEASUREMENT_PRINTER, ["mso-cpp-1"], ["printed_m_total", "energy_kwh_total"], start_ns, end_ns
    )["mso-cpp-1"]
    inside = series["printed_m_total"].ts_ns >= start_ns
    assert series["printed_m_total"].ts_ns[-1] >= end_ns, "the closing reading is read"
    printed = series["printed_m_total"].value[inside]
    energy = series["energy_kwh_total"].value[series["energy_kwh_total"].ts_ns >= start_ns]
    total = body["total"]
    assert total["printed_m"] == pytest_approx(printed[-1] - printed[0])
    assert total["energy"]["energy_kwh_per_m"] == pytest.approx(
        (energy[-1] - energy[0]) / (printed[-1] - printed[0]), rel=1e-3
    )
    assert 0 < total["oee"]["oee_pct"] <= 100
    assert set(body["by_shift"]) == {shift["key"]}
    # no range given: the current shift
    assert (
        client.get("/api/v1/equipment/mso-cpp-1/kpis").json()["range"]["shift"]["key"]
        == current_shift(env.plant, time.time_ns()).key
    )


def test_a_named_shift_and_a_time_range(client: TestClient, env: Env) -> None:
    tz = env.plant.tz
    instances = shift_instances(env.plant.shift_calendar, tz, env.start_ns, env.end_ns)
    key = instances[0].key
    body = client.get("/api/v1/teams/scoreboard", params={"shift": key}).json()
    assert body["range"]["shift"]["key"] == key
    ranks = [t["rank"] for t in body["teams"]]
    assert ranks == sorted(ranks) and ranks[0] == 1
    assert {t["team"] for t in body["teams"]} == {t.id for t in env.plant.teams}
    gravure = next(t for t in body["teams"] if t["team"] == "gravure")
    assert [(o["kpi"], o["weight"]) for o in gravure["objectives"]] == [
        (o.kpi.value, o.weight) for o in env.plant.team("gravure").objectives
    ]
    start, end = iso_utc(env.start_ns), iso_utc(env.end_ns)
    body = client.get("/api/v1/kpis", params={"start": start, "end": end}).json()
    assert [s["key"] for s in body["shifts"]] == [i.key for i in instances]


def test_bad_input_is_refused_with_a_message(client: TestClient) -> None:
    cases = {
        ("/api/v1/teams/scoreboard", "shift=2026-11-24/lunch"): (422, "unknown shift id 'lunch'"),
        ("/api/v1/teams/scoreboard", "shift=yesterday"): (422, "YYYY-MM-DD/<shift id>"),
        ("/api/v1/teams/scoreboard", "shift=2026-02-30/early"): (422, "not a calendar date"),
        ("/api/v1/teams/scoreboard", "shift=2199-01-01/early"): (422, "has not started"),
        ("/api/v1/teams/scoreboard", "shift=2999-01-01/early"): (422, "outside the years 1971-2200"),
        ("/api/v1/printers/mso-cpp-1/stops", "start=2026-01-01T00:00:00&end=2026-03-01T00:00:00"): (
            422,
            "at most 31 days",
        ),
        ("/api/v1/kpis", "start=2010-01-01T00:00:00&end=2026-03-01T00:00:00"): (422, "at most 3653 days"),
        ("/api/v1/kpis", "start=2026-01-02T00:00:00&end=2026-01-01T00:00:00"): (422, "end must be after start"),
        ("/api/v1/kpis", "start=2026-01-02T00:00:00"): (422, "start and end go together"),
        ("/api/v1/kpis", "start=noon&end=2026-01-01T00:00:00"): (422, "not an ISO 8601 time"),
        ("/api/v1/kpis", "shift=2026-11-24/early&start=2026-11-24T00:00:00&end=2026-11-24T01:00:00"): (
            422,
            "either shift or start/end",
        ),
        ("/api/v1/teams/crew-z", ""): (404, "unknown team 'crew-z'"),
        ("/api/v1/reports/teams/crew-z", ""): (404, "unknown team"),
        ("/api/v1/equipment/mso-cpp-9/kpis", ""): (404, "unknown machine, fleet or robot 'mso-cpp-9'"),
        ("/api/v1/printers/r01/pareto", ""): (404, "not a printing machine"),
        ("/api/v1/printers/mso-cpp-9/stops", ""): (404, "unknown printing machine"),
        ("/api/v1/kpis/series.csv", "equipment=mso-cpp-1&kpi=charging_sessions"): (422, "do not apply"),
        ("/api/v1/kpis/series.csv", "equipment=mso-cpp-1&kpi=speed"): (422, "unknown KPI"),
        ("/api/v1/trends/daily", "days=400"): (422, "less than or equal to 31"),
    }
    for (path, query), (status, message) in cases.items():
        r = client.get(f"{path}?{query}")
        assert r.status_code == status, (path, query, r.text)
        assert message in r.text, (path, query, r.text)


def test_kpi_series_csv_has_one_row_per_shift(client: TestClient, env: Env) -> None:
    instances = shift_instances(env.plant.shift_calendar, env.plant.tz, env.start_ns, env.end_ns)
    start, end = iso_utc(env.start_ns), iso_utc(env.end_ns)
    r = client.get(
        "/api/v1/kpis/series.csv",
        params={"equipment": "mso-cpp-1", "kpi": "printed_m,oee_pct", "start": start, "end": end},
    )
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["bucket", "start", "end", "equipment", "printed_m", "oee_pct"]
    assert [row[0] for row in rows[1:]] == [i.key for i in instances]
    assert sum(float(row[4]) for row in rows[1:]) > 0
    fleet = client.get("/api/v1/kpis/series.csv", params={"equipment": "ev-robots", "bucket": "day"})
    assert "charging_sessions" in fleet.text.splitlines()[0]


def test_end_of_shift_report_json_and_csv(client: TestClient, env: Env) -> None:
    body = client.get("/api/v1/reports/teams/gravure", params={"shift": env.previous_shift}).json()
    assert body["range"]["shift"]["key"] == env.previous_shift
    team = body["team"]
    assert [o["target"] for o in team["objectives"]] == [o.target for o in env.plant.team("gravure").objectives]
    assert all(o["actual"] is not None for o in team["objectives"])
    assert body["energy_water"]["energy_saving_pct"] > 0  # the simulated line beats the conventional baseline
    downtime = [p["downtime_min"] for p in body["top_downtime_reasons"]]
    assert downtime == sorted(downtime, reverse=True) and len(downtime) <= 5
    r = client.get("/api/v1/reports/teams/gravure", params={"format": "csv", "shift": env.previous_shift})
    assert r.headers["content-disposition"].startswith("attachment")
    text = r.text.lstrip("\ufeff")
    assert "凹版印花机组" in text and "印花米数" in text
    rows = list(csv.reader(io.StringIO(text)))
    objective_rows = [
        row for row in rows if row and row[0] in {"printed_m", "oee_pct", "energy_kwh_per_m", "quality_pct"}
    ]
    assert len(objective_rows) == 4
    assert any(row and row[0] == "energy_kwh" for row in rows)
    co2 = next(row for row in rows if row and row[0] == "co2_avoided_kg")
    assert float(co2[1]) == pytest.approx(body["energy_water"]["co2_avoided_kg"], rel=1e-5)


def test_savings_and_daily_trend(client: TestClient, env: Env) -> None:
    body = client.get("/api/v1/savings", params={"shift": env.previous_shift}).json()
    total = body["total"]
    assert total["baseline_energy_kwh"] == pytest.approx(total["printed_m"] * 0.11)
    assert total["water_saving_l"] > 0
    assert total["co2_avoided_kg"] == pytest.approx(total["energy_saving_kwh"] * 0.5703)  # the plant's grid factor
    assert body["baseline"]["grid_emission_kg_co2_per_kwh"] == 0.5703
    trend = client.get("/api/v1/trends/daily", params={"days": 2}).json()
    assert len(trend["days"]) >= 1
    assert set(trend["team_scores"]) == {t.id for t in env.plant.teams}


def test_pareto_is_sorted_and_names_reasons_in_both_languages(client: TestClient, env: Env) -> None:
    body = client.get("/api/v1/printers/mso-cpp-1/pareto", params={"shift": env.previous_shift}).json()
    assert len(body["pareto"]) >= 3
    minutes = [p["downtime_min"] for p in body["pareto"]]
    assert minutes == sorted(minutes, reverse=True)
    written = {s.reason for s in env.stops}
    for p in body["pareto"]:
        assert p["reason_code"] in written
        assert p["name_zh"] == env.plant.stop_reason(p["reason_code"]).name_zh


def test_stops_listed_match_the_stops_written(client: TestClient, env: Env) -> None:
    start, end = iso_utc(env.start_ns), iso_utc(env.end_ns)
    body = client.get("/api/v1/printers/mso-cpp-1/stops", params={"start": start, "end": end}).json()
    got = [(s["start_ns"], s["segments"][0]["reason_code"]) for s in body["stops"]]
    # The range starts on a whole second; a stop that began before it is cut there.
    want = [(s.start_ns, s.reason) for s in env.stops if s.start_ns >= body["range"]["start_ns"]]
    assert got[-len(want) :] == want
    assert np.all(np.diff([s["start_ns"] for s in body["stops"]]) > 0)


def test_the_kpi_core_runs_once_for_many_requests_of_one_range(client: TestClient) -> None:
    kpi = client.app.state.services.kpi  # type: ignore[attr-defined]  # app.state is untyped
    before = kpi.computations
    bodies = [client.get("/api/v1/teams/scoreboard").json() for _ in range(10)]
    assert all(b["teams"] == bodies[0]["teams"] for b in bodies)
    # one computation; a second only if the 1 s cache expired on a slow machine (then served stale + refreshed)
    assert 1 <= kpi.computations - before <= 2
