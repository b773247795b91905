"""An operator starting and ending print orders through the API (key, audit, bounds), over the real app and store."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfloor.api.timerange import iso, parse_shift_key
from shopfloor.models.timebase import NS_PER_S
from tests.api.conftest import ALICE, Env

PRINTER = "mso-cpp-1"
URL = f"/api/v1/printers/{PRINTER}/orders"
PLAN = "order_number,design_code,colourway,fabric,metres_ordered\n8001,102,indigo,cotton,9000\n"


def _last_audit(client: TestClient) -> dict[str, Any]:
    [entry] = client.get("/api/v1/audit", params={"equipment": PRINTER, "limit": 1}).json()["entries"]
    return entry


def test_every_change_needs_a_key_and_nothing_is_stored_without_one(client: TestClient, env: Env) -> None:
    body = {"order_number": 7001, "design_code": 101}
    assert client.post(f"{URL}/start", json=body).status_code == 401
    assert client.post(f"{URL}/start", json=body, headers={"X-API-Key": "not-a-key"}).status_code == 403
    assert client.post(f"{URL}/end", json={}).status_code == 401
    assert env.annotations.recent_order_events(PRINTER, 10) == []
    started = client.post(f"{URL}/start", json=body, headers=ALICE).json()["event"]
    assert client.delete(f"{URL}/events/{started['id']}").status_code == 401
    assert client.delete(f"{URL}/events/{started['id']}", headers={"X-API-Key": "nope"}).status_code == 403
    assert env.annotations.recent_order_events(PRINTER, 10)[0].withdrawn_id is None


def test_start_takes_the_design_from_the_plan_or_says_it_is_needed(client: TestClient, env: Env) -> None:
    r = client.post(f"{URL}/start", json={"order_number": 8001}, headers=ALICE)
    assert r.status_code == 422 and "design_code" in r.json()["detail"] and "plan" in r.json()["detail"], r.text
    assert env.annotations.recent_order_events(PRINTER, 10) == []
    assert client.post(f"{URL}/plan", json={"csv": PLAN}, headers=ALICE).status_code == 201
    r = client.post(f"{URL}/start", json={"order_number": 8001, "operator": "Li Na"}, headers=ALICE)
    assert r.status_code == 201, r.text
    event = r.json()["event"]
    assert (event["kind"], event["order_number"], event["design_code"]) == ("start", 8001, 102)
    assert event["operator"] == "Li Na [alice]" and r.json()["audit"][0]["action"] == "start_order"
    entry = _last_audit(client)
    assert entry["action"] == "start_order" and entry["before"] is None
    assert entry["after"]["id"] == event["id"]


def test_a_start_ends_the_running_order_and_an_end_needs_one_running(client: TestClient, env: Env) -> None:
    first = client.post(f"{URL}/start", json={"order_number": 7001, "design_code": 101}, headers=ALICE).json()
    second = client.post(f"{URL}/start", json={"order_number": 7002, "design_code": 102}, headers=ALICE)
    assert second.status_code == 201
    entry = _last_audit(client)
    assert entry["before"]["order_number"] == 7001 and entry["before"]["id"] == first["event"]["id"]
    r = client.post(f"{URL}/end", json={"operator": "Wang"}, headers=ALICE)
    assert r.status_code == 201 and r.json()["event"]["kind"] == "end", r.text
    entry = _last_audit(client)
    assert entry["action"] == "end_order" and entry["before"]["order_number"] == 7002
    r = client.post(f"{URL}/end", json={}, headers=ALICE)
    assert r.status_code == 422 and "no order started by an operator is running" in r.json()["detail"]
    listed = client.get(f"{URL}/events").json()["events"]
    assert [(e["kind"], e["order_number"]) for e in listed] == [("end", 0), ("start", 7002), ("start", 7001)]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"order_number": 0, "design_code": 101}, "order_number"),
        ({"order_number": 4_294_967_296, "design_code": 101}, "order_number"),
        ({"order_number": 7001, "design_code": 65536}, "design_code"),
        ({"order_number": 7001, "design_code": 101, "at": "yesterday"}, "at"),
        ({"order_number": 7001, "design_code": 101, "shift": "x"}, "shift"),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(client: TestClient, env: Env, body: dict, words: str) -> None:
    r = client.post(f"{URL}/start", json=body, headers=ALICE)
    assert r.status_code == 422 and words in r.text, r.text
    assert env.annotations.recent_order_events(PRINTER, 10) == []


def test_times_in_the_future_or_too_old_are_refused(client: TestClient, env: Env) -> None:
    now = dt.datetime.now(dt.UTC)
    for at, words in ((now + dt.timedelta(minutes=10), "future"), (now - dt.timedelta(days=40), "31 days back")):
        body = {"order_number": 7001, "design_code": 101, "at": at.isoformat()}
        r = client.post(f"{URL}/start", json=body, headers=ALICE)
        assert r.status_code == 422 and words in r.json()["detail"], r.text
    assert client.post("/api/v1/printers/nope/orders/start", json={"order_number": 1}, headers=ALICE).status_code == 404
    assert env.annotations.recent_order_events(PRINTER, 10) == []


def test_a_withdrawn_event_is_kept_marked_and_audited(client: TestClient, env: Env) -> None:
    started = client.post(f"{URL}/start", json={"order_number": 7001, "design_code": 101}, headers=ALICE).json()
    event_id = started["event"]["id"]
    r = client.delete(f"{URL}/events/{event_id}", params={"operator": "Li Na"}, headers=ALICE)
    assert r.status_code == 200, r.text
    gone = r.json()["event"]
    assert gone["withdrawn_by"] == "Li Na [alice]" and gone["withdrawn_id"] > event_id
    entry = _last_audit(client)
    assert entry["action"] == "withdraw_order_event" and entry["before"]["withdrawn_id"] is None
    assert client.delete(f"{URL}/events/{event_id}", headers=ALICE).status_code == 404
    assert [e["withdrawn_id"] for e in client.get(f"{URL}/events").json()["events"]] == [gone["withdrawn_id"]]
    # nothing is running any more: the end has nothing to end
    assert client.post(f"{URL}/end", json={}, headers=ALICE).status_code == 422


def test_an_operator_order_is_an_order_of_the_reports(client: TestClient, env: Env) -> None:
    shift = parse_shift_key(env.plant, env.previous_shift)
    middle = shift.start_ns + (shift.end_ns - shift.start_ns) // 2
    begin = {"order_number": 7001, "design_code": 101, "at": iso(env.plant, shift.start_ns - 60 * NS_PER_S)}
    assert client.post(f"{URL}/start", json=begin, headers=ALICE).status_code == 201
    assert client.post(f"{URL}/end", json={"at": iso(env.plant, middle)}, headers=ALICE).status_code == 201
    orders = client.get(URL, params={"shift": env.previous_shift}).json()["orders"]
    mine = [o for o in orders if o["order_number"] == 7001]
    assert [(o["design_code"], o["start_ns"], o["end_ns"]) for o in mine] == [(101, shift.start_ns, middle)]
    design = env.plant.design(101)
    assert design is not None and mine[0]["ideal_speed_m_min"] == design.ideal_speed_m_min
    assert mine[0]["kpis"]["printed_m"] > 0
