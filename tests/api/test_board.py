"""GET /api/v1/printers/{id}/hour-by-hour and its comments, over a known shift (tests/api/_board_world.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.models.plant import Plant
from tests.api import _board_world as known
from tests.api._board_world import BoardWorld, build
from tests.api.conftest import ALICE, config

URL = f"/api/v1/printers/{known.PRINTER}/hour-by-hour"


@pytest.fixture
def world(plant: Plant, tmp_path: Path) -> Iterator[BoardWorld]:
    w = build(plant, tmp_path)
    yield w
    w.close()


@pytest.fixture
def client(world: BoardWorld) -> Iterator[TestClient]:
    app = create_app(
        world.plant,
        world.store,
        annotations=world.annotations,
        config=config(),
        live_hub=LiveHub(world.plant, clock_ns=world.clock_ns),
        clock_ns=world.clock_ns,
    )
    with TestClient(app) as c:
        yield c


def board(client: TestClient, **params: Any) -> dict[str, Any]:
    r = client.get(URL, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def approx_list(values: list[float | None]) -> list[Any]:
    return [None if v is None else pytest.approx(v, abs=1e-6) for v in values]


def test_the_known_shift_hour_by_hour(client: TestClient) -> None:
    b = board(client)  # default: the current shift
    assert b["range"]["shift"]["key"] == known.SHIFT
    assert board(client, shift=known.SHIFT)["hours"] == b["hours"]
    hours = b["hours"]
    assert [h["target_m"] for h in hours] == approx_list(known.EXPECTED_TARGET)
    assert [h["actual_m"] for h in hours] == approx_list(known.EXPECTED_ACTUAL)
    assert [h["band"] for h in hours] == known.EXPECTED_BAND
    assert [h["planned_min"] for h in hours] == [60, 60, 60, 60, 30, 60, 60, 60]
    assert hours[0]["start"].startswith("2026-11-24T06:00:00") and hours[7]["end"].startswith("2026-11-24T14:00:00")
    assert [h["cum_actual_m"] for h in hours] == approx_list([5400, 9900, 9900, 16500, 19200, 21600, None, None])
    assert [h["variance_m"] for h in hours] == approx_list([-600, -1500, None, 600, -300, -600, None, None])
    assert hours[5]["due_m"] == pytest.approx(3000) and not hours[5]["finished"] and hours[5]["started"]
    assert b["across_gap_m"] == pytest.approx(known.ACROSS_GAP_M)
    assert b["actual_m"] == pytest.approx(21600 + known.ACROSS_GAP_M)
    assert b["rate_m_min"] == pytest.approx(known.EXPECTED_RATE)
    assert b["planned_min_left"] == pytest.approx(150)
    assert b["projected_m"] == pytest.approx(known.EXPECTED_PROJECTED)
    assert b["projected_band"] == "amber"  # 41 100 of 45 000
    assert b["target_m"] == 45000 and b["ideal_speed_m_min"] == 100


def test_the_shifts_stops_say_which_need_a_reason(client: TestClient, world: BoardWorld) -> None:
    stops = board(client)["stops"]
    needing = [s for s in stops if s["needs_reason"]]
    assert [(s["start_ns"], s["end_ns"]) for s in needing] == [(world.at(7, 20), world.at(7, 35))]
    brk = [s for s in stops if s["start_ns"] == world.at(10)]
    assert brk and not brk[0]["needs_reason"]  # the planned break has its reason
    # a reason set through the operator API: the stop no longer needs one
    stop = needing[0]
    r = client.post(
        f"/api/v1/printers/{known.PRINTER}/stops/reason",
        json={"start": stop["start"], "end": stop["end"], "reason_code": 20},
        headers=ALICE,
    )
    assert r.status_code == 201, r.text
    assert not any(s["needs_reason"] for s in board(client)["stops"])


def test_comments_need_a_key_are_audited_and_the_newest_shows(client: TestClient) -> None:
    url = f"{URL}/comments"
    body = {"shift": known.SHIFT, "hour_index": 1, "text": "web break, no reason entered", "operator": "Li Wei"}
    r = client.post(url, json=body)
    assert r.status_code == 401
    assert board(client)["hours"][1]["comment"] is None
    r = client.post(url, json=body, headers=ALICE)
    assert r.status_code == 201, r.text
    assert r.json()["audit"][0]["action"] == "hour_comment" and r.json()["audit"][0]["before"] is None
    assert r.json()["comment"]["operator"] == "Li Wei [alice]"
    # by a moment inside the hour (plant-local), replacing the first
    r = client.post(
        url, json={"shift": known.SHIFT, "hour_start": "2026-11-24T07:40:00", "text": "web break 07:20"}, headers=ALICE
    )
    assert r.status_code == 201, r.text
    audit = r.json()["audit"][0]
    assert audit["before"]["text"] == "web break, no reason entered" and audit["after"]["hour_index"] == 1
    hours = board(client)["hours"]
    assert hours[1]["comment"]["text"] == "web break 07:20" and hours[1]["comment"]["operator"] == "alice"
    assert [h["comment"] is None for h in hours].count(False) == 1
    entries = client.get("/api/v1/audit", params={"equipment": known.PRINTER}).json()["entries"]
    assert [e["action"] for e in entries] == ["hour_comment", "hour_comment"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"shift": known.SHIFT, "hour_index": 8, "text": "x"}, "hours 0 to 7"),
        ({"shift": known.SHIFT, "hour_index": 6, "text": "x"}, "has not started yet"),
        ({"shift": known.SHIFT, "hour_start": "2026-11-24T15:00:00", "text": "x"}, "not inside shift"),
        ({"shift": known.SHIFT, "text": "x"}, "one of hour_index or hour_start"),
        ({"shift": known.SHIFT, "hour_index": 0, "hour_start": "2026-11-24T06:00:00", "text": "x"}, "one of"),
        ({"shift": known.SHIFT, "hour_index": 0, "text": "x" * 501}, "500"),
        ({"shift": known.SHIFT, "hour_index": 0, "text": ""}, "at least 1"),
        ({"shift": "2026-11-24/lunch", "hour_index": 0, "text": "x"}, "lunch"),
        ({"shift": known.SHIFT, "hour_index": 0, "text": "x", "extra": 1}, "extra"),
    ],
)
def test_bad_comments_are_refused_with_the_reason(client: TestClient, body: dict[str, Any], needle: str) -> None:
    r = client.post(f"{URL}/comments", json=body, headers=ALICE)
    assert r.status_code == 422 and needle in r.text, r.text
    assert client.get("/api/v1/audit").json()["entries"] == []


def test_unknown_printer_future_shift_and_expired_raw(client: TestClient, world: BoardWorld) -> None:
    r = client.get("/api/v1/printers/nope/hour-by-hour")
    assert r.status_code == 404 and "mso-cpp-1" in r.json()["detail"]
    r = client.get(URL, params={"shift": "2026-11-25/early"})
    assert r.status_code == 422 and "has not started yet" in r.json()["detail"]
    r = client.get(URL, params={"shift": "x" * 81})
    assert r.status_code == 422
    # raw samples dropped up to the shift's start (as the retention pass does): the day before is 410 Gone
    world.store.drop_raw_before(world.at(6))
    assert board(client, shift=known.SHIFT)["hours"][0]["actual_m"] == pytest.approx(5400)
    r = client.get(URL, params={"shift": "2026-11-23/early"})
    assert r.status_code == 410 and "raw_retention_days" in r.json()["detail"], r.text


def test_a_board_is_computed_once_for_many_screens_and_again_after_a_change(world: BoardWorld) -> None:
    app = create_app(
        world.plant,
        world.store,
        annotations=world.annotations,
        config=config(kpi_cache_s=3600.0),  # nothing expires during the test: only a change makes a new board
        clock_ns=world.clock_ns,
    )
    boards = app.state.services.boards
    client = TestClient(app)
    first = [board(client) for _ in range(5)]
    assert boards.computations == 1 and all(b == first[0] for b in first)
    r = client.post(
        f"{URL}/comments", json={"shift": known.SHIFT, "hour_index": 0, "text": "slow start"}, headers=ALICE
    )
    assert r.status_code == 201, r.text
    assert board(client)["hours"][0]["comment"]["text"] == "slow start", "a comment shows at once"
    assert boards.computations == 2


def test_an_operator_order_loaded_during_a_stop_makes_it_setup(client: TestClient, world: BoardWorld) -> None:
    """The stop 07:20-07:35 has no reason (ADET). An operator starting order 7001 during it makes it the
    changeover: setup (AUST) in the stop list, as in the KPIs (docs/kpi.md, "Orders"); withdrawn, ADET again."""
    url = f"/api/v1/printers/{known.PRINTER}"

    def elements() -> list[str]:
        stop = next(s for s in board(client)["stops"] if s["start_ns"] == world.at(7, 20))
        return [seg["element"] for seg in stop["segments"]]

    assert elements() == ["ADET"]
    at = "2026-11-24T07:25:00"  # plant-local
    r = client.post(f"{url}/orders/start", json={"order_number": 7001, "design_code": 101, "at": at}, headers=ALICE)
    assert r.status_code == 201, r.text
    assert elements() == ["AUST"]
    shift = client.get("/api/v1/kpis", params={"shift": known.SHIFT}).json()["printers"][known.PRINTER]
    assert shift["times"]["aust_s"] == 15 * 60
    assert client.delete(f"{url}/orders/events/{r.json()['event']['id']}", headers=ALICE).status_code == 200
    assert elements() == ["ADET"]
