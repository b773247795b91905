"""Andon alerts through the API: listed, acknowledged with a key (audited), kept across a restart, on /metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from shopfloor.api.live import LiveHub
from shopfloor.models.contract import MEASUREMENT_ROBOT
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.states import Quality, RobotState
from tests.api.conftest import ALICE, Env, make_app, wait_until


def robot_state(robot: str, state: RobotState, ts_ns: int | None = None) -> SampleBatch:
    ts = time.time_ns() if ts_ns is None else ts_ns
    return SampleBatch.from_rows(
        MEASUREMENT_ROBOT, [(ts, robot, "state", float(state), Quality.GOOD, "")], fleet="ev-robots"
    )


def active(client: TestClient, rule: str, equipment: str) -> dict[str, Any] | None:
    body = client.get("/api/v1/alerts").json()
    return next((a for a in body["alerts"] if a["rule"] == rule and a["equipment"] == equipment), None)


def test_an_alert_is_raised_listed_acknowledged_with_a_key_and_cleared(env: Env) -> None:
    hub = LiveHub(env.plant)
    with TestClient(make_app(env, hub)) as client:
        hub.write(robot_state("r04", RobotState.FAULT))
        alert = wait_until(lambda: active(client, "robot-fault", "r04"), "the robot-fault alert of r04")
        assert alert["severity"] == "critical" and alert["active"] and alert["message_zh"] == "r04 故障"
        assert alert["acknowledged"] is None

        url = f"/api/v1/alerts/{alert['id']}/ack"
        assert client.post(url).status_code == 401
        assert client.post(url, headers={"X-API-Key": "wrong-key-12345"}).status_code == 403
        assert client.post(url, json={"operator": "Wang", "colour": "red"}, headers=ALICE).status_code == 422
        acked = client.post(url, json={"operator": "Wang"}, headers=ALICE)
        assert acked.status_code == 200, acked.text
        assert acked.json()["alert"]["acknowledged_by"] == "Wang [alice]"
        assert client.post("/api/v1/alerts/no-such-alert/ack", headers=ALICE).status_code == 404
        audit = client.get("/api/v1/audit", params={"equipment": "r04"}).json()["entries"]
        assert [(e["action"], e["operator"], e["after"]["id"]) for e in audit] == [
            ("acknowledge_alert", "Wang [alice]", alert["id"])
        ]
        assert active(client, "robot-fault", "r04")["acknowledged_by"] == "Wang [alice]"  # type: ignore[index]  # found above

        hub.write(robot_state("r04", RobotState.IDLE))
        wait_until(lambda: active(client, "robot-fault", "r04") is None, "the alert to clear")
        recent = client.get("/api/v1/alerts", params={"state": "recent"}).json()
        mine = [a for a in recent["alerts"] if a["id"] == alert["id"]]
        assert len(mine) == 1 and not mine[0]["active"] and mine[0]["cleared_ns"] >= mine[0]["raised_ns"]
        assert mine[0]["acknowledged_by"] == "Wang [alice]"
        assert client.post(url, headers=ALICE).status_code == 404  # cleared: nothing to acknowledge
        assert client.get("/api/v1/alerts", params={"state": "everything"}).status_code == 422


def test_active_alerts_survive_a_restart_until_the_data_ends_them(env: Env) -> None:
    hub = LiveHub(env.plant)
    with TestClient(make_app(env, hub)) as client:
        hub.write_connectivity([ConnectivityEvent(time.time_ns(), "ev-robots", "opcua:ev-robots", False, "timeout")])
        before = wait_until(lambda: active(client, "link-down", "ev-robots"), "the link-down alert")
    again = LiveHub(env.plant)
    with TestClient(make_app(env, again)) as client:
        # a new process knows nothing of the link yet: the stored alert stays active, with its id and raised time
        assert active(client, "link-down", "ev-robots") == before
        again.write_connectivity([ConnectivityEvent(time.time_ns(), "ev-robots", "opcua:ev-robots", True, "")])
        wait_until(lambda: active(client, "link-down", "ev-robots") is None, "the link-down alert to clear")
        stored = env.annotations.alerts(active=False)
        assert [a.id for a in stored if a.rule == "link-down"] == [before["id"]]  # the same alert, not a second


def test_alerts_on_metrics(env: Env) -> None:
    hub = LiveHub(env.plant)
    with TestClient(make_app(env, hub)) as client:
        hub.write(robot_state("r07", RobotState.FAULT))
        wait_until(lambda: active(client, "robot-fault", "r07"), "the robot-fault alert of r07")
        text = client.get("/metrics").text
        assert 'shopfloor_alerts_active{rule="robot-fault",severity="critical"} 1.0' in text
        assert 'shopfloor_alerts_raised_total{rule="robot-fault",severity="critical"} 1.0' in text
        assert 'shopfloor_alerts_active{rule="robot-charge-low",severity="warning"} 0.0' in text
