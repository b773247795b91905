"""Operator input: API keys, the audit trail, and corrections that change the KPIs."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.api.timerange import iso
from shopfloor.models.kpi import KpiConfig
from shopfloor.store.annotations import AnnotationStore
from tests.api.conftest import ALICE, Env, config, make_app

S = 1_000_000_000


# Every test works on the previous (complete) shift: the current one may have just begun.
SHIFT: dict[str, str] = {}


def current_stops(client: TestClient) -> list[dict[str, Any]]:
    return client.get("/api/v1/printers/mso-cpp-1/stops", params=SHIFT).json()["stops"]


def pareto(client: TestClient) -> dict[int, float]:
    body = client.get("/api/v1/printers/mso-cpp-1/pareto", params=SHIFT).json()
    return {p["reason_code"]: p["downtime_min"] for p in body["pareto"]}


def a_finished_stop(client: TestClient) -> dict[str, Any]:
    stops = [s for s in current_stops(client) if not s["ongoing"] and len(s["segments"]) == 1]
    assert stops, "the history has no finished stop in the previous shift"
    return max(stops, key=lambda s: s["duration_s"])


@pytest.fixture(autouse=True)
def previous_shift(env: Env) -> None:
    SHIFT["shift"] = env.previous_shift


def body_for(env: Env, stop: dict[str, Any], reason: int) -> dict[str, Any]:
    return {
        "start": iso(env.plant, stop["start_ns"]),
        "end": iso(env.plant, stop["end_ns"]),
        "reason_code": reason,
        "operator": "Wang Fang",
        "comment": "was a web break, not ink",
    }


def test_operator_input_needs_a_key(client: TestClient, env: Env) -> None:
    stop = a_finished_stop(client)
    url = "/api/v1/printers/mso-cpp-1/stops/reason"
    r = client.post(url, json=body_for(env, stop, 20))
    assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]
    r = client.post(url, json=body_for(env, stop, 20), headers={"X-API-Key": "alice-secret-key-124"})
    assert r.status_code == 403 and "not accepted" in r.json()["detail"]
    assert "alice-secret-key" not in r.text  # keys are never echoed
    r = client.post("/api/v1/notes", json={"equipment": "r01", "text": "x"})
    assert r.status_code == 401
    assert client.get("/api/v1/audit").json()["entries"] == []  # nothing refused left a trace


def test_without_configured_keys_state_changes_are_refused(env: Env) -> None:
    with TestClient(make_app(env, keys="")) as client:
        stop = a_finished_stop(client)
        r = client.post("/api/v1/printers/mso-cpp-1/stops/reason", json=body_for(env, stop, 20), headers=ALICE)
        assert r.status_code == 403
        assert "no API keys are configured" in r.json()["detail"] and "SHOPFLOOR_API_KEYS" in r.json()["detail"]


def test_a_corrected_reason_moves_downtime_in_the_pareto_and_is_audited(client: TestClient, env: Env) -> None:
    stop = a_finished_stop(client)
    old = stop["segments"][0]["reason_code"]
    new = 31 if old != 31 else 30  # downstream blocked: not one the history uses
    before = pareto(client)
    r = client.post("/api/v1/printers/mso-cpp-1/stops/reason", json=body_for(env, stop, new), headers=ALICE)
    assert r.status_code == 201, r.text
    after = pareto(client)
    minutes = stop["duration_s"] / 60
    assert after.get(new, 0.0) - before.get(new, 0.0) > 0.9 * minutes
    assert before[old] - after.get(old, 0.0) > 0.9 * minutes
    assert sum(after.values()) == pytest.approx(sum(before.values()), abs=0.05)
    # the stop now shows the corrected reason
    corrected = next(s for s in current_stops(client) if s["start_ns"] == stop["start_ns"])
    assert [seg["reason_code"] for seg in corrected["segments"]] == [new]
    entry = client.get("/api/v1/audit", params={"equipment": "mso-cpp-1"}).json()["entries"][0]
    assert entry["action"] == "set_reason"
    assert entry["operator"] == "Wang Fang [alice]"
    # The first correction keeps the measured reason it replaced (who, when, before and after are complete).
    assert entry["before"]["overrides"] == []
    assert [(m["start_ns"], m["end_ns"], m["reason_code"]) for m in entry["before"]["measured"]] == [
        (stop["start_ns"], stop["end_ns"], old)
    ]
    assert entry["after"][0]["reason_code"] == new
    assert abs(entry["ts_ns"] - time.time_ns()) < 60 * S
    # a second correction is audited with the first as "before"
    r = client.post("/api/v1/printers/mso-cpp-1/stops/reason", json=body_for(env, stop, old), headers=ALICE)
    assert r.status_code == 201
    entry = client.get("/api/v1/audit").json()["entries"][0]
    assert [b["reason_code"] for b in entry["before"]["overrides"]] == [new]
    assert [m["reason_code"] for m in entry["before"]["measured"]] == [old]  # the machine's reason is never lost
    assert pareto(client)[old] == pytest.approx(before[old], abs=0.02)


def failures(client: TestClient) -> int:
    body = client.get("/api/v1/equipment/mso-cpp-1/kpis", params=SHIFT).json()
    return int(body["total"]["times"]["failures"])


def pareto_stops(client: TestClient) -> dict[int, int]:
    body = client.get("/api/v1/printers/mso-cpp-1/pareto", params=SHIFT).json()
    return {p["reason_code"]: p["stops"] for p in body["pareto"]}


def test_split_a_stop_into_two_unplanned_reasons_makes_two_failures(client: TestClient, env: Env) -> None:
    """One definition of a stop event: the split shows two segments, each a failure, and the KPIs count
    one more failure and one Pareto stop per reason (not one stop of the old reason)."""
    stop = a_finished_stop(client)
    old = stop["segments"][0]["reason_code"]
    split = stop["start_ns"] + (stop["end_ns"] - stop["start_ns"]) // 2 // S * S
    fails, stops_before = failures(client), pareto_stops(client)
    body = {
        "start": iso(env.plant, stop["start_ns"]),
        "end": iso(env.plant, stop["end_ns"]),
        "split_at": iso(env.plant, split),
        "reason_before": 20,
        "reason_after": 21,
    }
    r = client.post("/api/v1/printers/mso-cpp-1/stops/split", json=body, headers=ALICE)
    assert r.status_code == 201, r.text
    after = next(s for s in current_stops(client) if s["start_ns"] == stop["start_ns"])
    # The ISO split time has microseconds; the stop's own edges are kept to the nanosecond.
    assert [(seg["reason_code"], seg["start_ns"] // 1000) for seg in after["segments"]] == [
        (20, stop["start_ns"] // 1000),
        (21, split // 1000),
    ]
    assert after["segments"][-1]["end_ns"] == stop["end_ns"]
    assert [seg["failure"] for seg in after["segments"]] == [True, True]
    assert [m["reason_code"] for m in after["measured"]] == [old]  # what the machine said stays visible
    was_failure = stop["segments"][0]["failure"]
    assert failures(client) == fails - was_failure + 2
    stops_after = pareto_stops(client)
    for code in (20, 21):
        assert stops_after.get(code, 0) == stops_before.get(code, 0) + 1 - (code == old)
    entry = client.get("/api/v1/audit").json()["entries"][0]
    assert entry["action"] == "split_stop"
    assert [m["reason_code"] for m in entry["before"]["measured"]] == [old]
    assert [a["reason_code"] for a in entry["after"]] == [20, 21]


def test_stop_list_uses_the_apps_kpi_config(env: Env) -> None:
    """A micro-stop threshold longer than every stop: the app's config makes every event a micro-stop in the
    stop list, as in the KPIs (list_stops used to build its own default KpiConfig)."""
    app = create_app(
        env.plant, env.store, annotations=env.annotations, config=config(), kpi_config=KpiConfig(micro_stop_s=86_400.0)
    )
    with TestClient(app) as client:
        segments = [seg for s in current_stops(client) for seg in s["segments"]]
        unplanned = [seg for seg in segments if seg["element"] in ("ADOT", "ADET")]
        assert unplanned and all(seg["micro_stop"] and not seg["failure"] for seg in unplanned)
        assert failures(client) == 0
    with TestClient(make_app(env)) as client:  # the default 60 s threshold: real failures
        assert any(seg["failure"] for s in current_stops(client) for seg in s["segments"])


def test_operator_input_validation(client: TestClient, env: Env) -> None:
    stop = a_finished_stop(client)
    url = "/api/v1/printers/mso-cpp-1/stops/reason"
    r = client.post(url, json=body_for(env, stop, 99), headers=ALICE)
    assert r.status_code == 422 and "99 is not a stop reason" in r.text
    quiet = body_for(env, stop, 20) | {
        "start": iso(env.plant, env.start_ns - 3600 * S),
        "end": iso(env.plant, env.start_ns - 1800 * S),
    }
    r = client.post(url, json=quiet, headers=ALICE)
    assert r.status_code == 422 and "did not stop" in r.text
    r = client.post(url, json=body_for(env, stop, 20) | {"end": iso(env.plant, stop["start_ns"] - S)}, headers=ALICE)
    assert r.status_code == 422 and "end must be after start" in r.text
    r = client.post("/api/v1/printers/mso-cpp-9/stops/reason", json=body_for(env, stop, 20), headers=ALICE)
    assert r.status_code == 404
    r = client.post(url, json=body_for(env, stop, 20) | {"extra": 1}, headers=ALICE)
    assert r.status_code == 422
    split = {
        "start": iso(env.plant, stop["start_ns"]),
        "end": iso(env.plant, stop["end_ns"]),
        "split_at": iso(env.plant, stop["end_ns"]),
        "reason_before": 20,
        "reason_after": 12,
    }
    r = client.post("/api/v1/printers/mso-cpp-1/stops/split", json=split, headers=ALICE)
    assert r.status_code == 422 and "strictly between" in r.text
    r = client.post("/api/v1/notes", json={"equipment": "r99", "text": "hello"}, headers=ALICE)
    assert r.status_code == 404


def test_notes_are_kept_and_survive_a_restart(client: TestClient, env: Env) -> None:
    r = client.post(
        "/api/v1/notes", json={"equipment": "r03", "text": "左前轮异响，已报修", "operator": "李"}, headers=ALICE
    )
    assert r.status_code == 201
    notes = client.get("/api/v1/notes", params={"equipment": "r03"}).json()["notes"]
    assert [(n["text"], n["operator"]) for n in notes] == [("左前轮异响，已报修", "李 [alice]")]
    reopened = AnnotationStore(env.path / "annotations.sqlite3")
    try:
        assert [a.action for a in reopened.audit()] == ["add_note"]
    finally:
        reopened.close()
