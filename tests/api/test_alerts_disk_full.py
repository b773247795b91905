"""Alerts with the annotations file on a real full disk (a tiny tmpfs): they still reach the API, the live
channel and the webhook's receiver (from memory when its outbox cannot be written), an acknowledgement is refused
with the reason (503), and once space returns the events are kept."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.models.plant import Plant, WebhookSettings
from shopfloor.models.states import RobotState
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.api.conftest import ALICE, config
from tests.api.test_alerts import active, robot_state
from tests.api.test_alerts_webhook import Receiver, receiver  # noqa: F401  # the fixture: a real HTTP receiver
from tests.api.test_disk_full import embedded  # noqa: F401  # the fixture: DuckDB and annotations on a tiny tmpfs
from tests.fixtures.clock import ManualClock
from tests.fixtures.tmpfs import fill, free
from tests.fixtures.waiting import wait_until


def test_alerts_go_on_through_a_full_disk_and_are_kept_when_space_returns(
    plant: Plant,
    tiny_fs: Path,
    embedded: tuple[DuckDBStore, AnnotationStore, ManualClock],  # noqa: F811  # the fixture imported above
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    store, notes, _ = embedded
    hub = LiveHub(plant)
    with TestClient(create_app(plant, store, live_hub=hub, annotations=notes, config=config())) as client:
        filler = fill(tiny_fs)
        with client.websocket_connect("/api/v1/live") as live:
            hub.write(robot_state("r06", RobotState.FAULT, time.time_ns()))
            while (msg := live.receive_json())["type"] != "alert":
                pass
            assert msg["transition"] == "raised" and msg["alert"]["equipment"] == "r06"
        alert = active(client, "robot-fault", "r06")
        assert alert is not None  # listed from memory while the file cannot take it
        r = client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=ALICE)
        assert r.status_code == 503, r.text
        assert "no space left on device: cannot write annotations file" in r.json()["detail"]
        assert active(client, "robot-fault", "r06")["acknowledged"] is None  # type: ignore[index]  # listed above

        free(filler)
        # (the test's data may miss an hour's target too: the hourly attainment alert is not this test's)
        wait_until(
            lambda: [a.id for a in notes.alerts(active=True) if a.rule == "robot-fault"] == [alert["id"]],
            "the alert kept",
        )
        assert client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=ALICE).status_code == 200
        assert [a.acknowledged_by for a in notes.alerts(active=True) if a.id == alert["id"]] == ["alice"]
    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"
    lines = [r for r in caplog.records if r.name == "shopfloor.api.alerts"]
    assert [r.levelno for r in lines] == [logging.ERROR, logging.WARNING], [r.getMessage() for r in lines]


def test_a_full_disk_under_the_webhook_outbox_is_one_line_and_delivery_goes_on_from_memory(
    plant: Plant,
    tiny_fs: Path,
    embedded: tuple[DuckDBStore, AnnotationStore, ManualClock],  # noqa: F811  # the fixture imported above
    receiver: Receiver,  # noqa: F811  # the fixture imported above
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    store, notes, _ = embedded
    hook = WebhookSettings(url=f"http://127.0.0.1:{receiver.port}/andon", retry_initial_s=0.05, retry_max_s=0.2)
    plant = plant.model_copy(update={"alerts": plant.alerts.model_copy(update={"webhook": hook})})
    hub = LiveHub(plant)
    app = create_app(plant, store, live_hub=hub, annotations=notes, config=config())
    with TestClient(app) as client:
        webhook = app.state.services.alerts.webhook
        wait_until(lambda: webhook.restored == 0, "the sender started (nothing waited from before)")
        filler = fill(tiny_fs)
        keys = []
        for robot in ("r07", "r08"):  # two events while the outbox cannot be written: one stretch, one line
            hub.write(robot_state(robot, RobotState.FAULT, time.time_ns()))
            alert = wait_until(lambda r=robot: active(client, "robot-fault", r), f"the alert of {robot}")
            keys.append(f"{alert['id']}:raised")
            wait_until(lambda k=keys[-1]: k in receiver.keys, "the event at the receiver, from memory")
        free(filler)
        hub.write(robot_state("r07", RobotState.IDLE, time.time_ns()))  # the next event is kept again
        wait_until(
            lambda: any("outbox" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records),
            "the outbox working again",
        )
    assert [receiver.keys.count(k) for k in keys] == [1, 1]
    lines = [r for r in caplog.records if r.name == "shopfloor.api.webhook" and "outbox" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.ERROR, logging.WARNING], [r.getMessage() for r in lines]
    assert "no space left on device" in lines[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records), "no tracebacks"
