"""Alert events to a real HTTP receiver: each event once, in order, across the receiver's own outage.

The receiver is a stdlib HTTP server on a free loopback port, stopped and
started again on the same port for the outage. While it is down the sender
retries with backoff; alerts keep reaching the API (the webhook never holds up
evaluation), and the outage is one log line when it starts and one when it
ends, not one per attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.api.webhook import WebhookSender
from shopfloor.models.plant import Plant, WebhookSettings
from shopfloor.models.states import RobotState
from shopfloor.store.outbox import WebhookOutbox
from tests.api.conftest import Env, config, wait_until
from tests.api.test_alerts import active, robot_state
from tests.fixtures.waiting import async_wait_until
from tests.store.test_outbox import event, keys

TOKEN = "receiver-token-0123456789"


class Receiver:
    """Records every POST (idempotency key, token, body); ``stop``/``start`` make an outage on the same port."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, dict[str, Any]]] = []
        self.refuse: set[str] = set()  # events (by idempotency key) answered 400
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        posts, refuse = self.posts, self.refuse

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                key = self.headers["idempotency-key"]
                posts.append((key, self.headers.get("authorization", ""), body))
                self.send_response(400 if any(key.startswith(k) for k in refuse) else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def keys(self) -> list[str]:
        return [k for k, _, _ in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


def with_webhook(plant: Plant, port: int) -> Plant:
    hook = WebhookSettings(
        url=f"http://127.0.0.1:{port}/andon", token_env="TEST_WEBHOOK_TOKEN", retry_initial_s=0.05, retry_max_s=0.2
    )
    return plant.model_copy(update={"alerts": plant.alerts.model_copy(update={"webhook": hook})})


def test_each_alert_event_reaches_the_receiver_once_across_its_outage(
    env: Env, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_TOKEN", TOKEN)
    caplog.set_level(logging.INFO, logger="shopfloor.api.webhook")
    plant = with_webhook(env.plant, receiver.port)
    hub = LiveHub(plant)
    app = create_app(plant, env.store, live_hub=hub, annotations=env.annotations, config=config())
    with TestClient(app) as client:
        hub.write(robot_state("r01", RobotState.FAULT))
        first = wait_until(lambda: active(client, "robot-fault", "r01"), "the first alert")
        wait_until(lambda: f"{first['id']}:raised" in receiver.keys, "the first alert at the receiver")

        receiver.stop()  # the receiver's outage: alerts go on, events wait
        hub.write(robot_state("r02", RobotState.FAULT))
        second = wait_until(lambda: active(client, "robot-fault", "r02"), "the second alert, receiver down")
        hub.write(robot_state("r01", RobotState.IDLE))
        wait_until(lambda: active(client, "robot-fault", "r01") is None, "the first alert cleared, receiver down")
        webhook = app.state.services.alerts.webhook
        wait_until(lambda: webhook.failed_attempts >= 3, "a few failed posts (backoff)")

        receiver.start()
        expected = [f"{first['id']}:raised", f"{second['id']}:raised", f"{first['id']}:cleared"]
        wait_until(lambda: all(k in receiver.keys for k in expected), "every event once the receiver is back")
        wait_until(lambda: webhook.queued == 0, "the queue drained")
    mine = [k for k in receiver.keys if k.split(".")[1] in {"r01", "r02"} and k.startswith("robot-fault.")]
    assert mine == expected  # each once, in the order they happened
    assert {auth for _, auth, _ in receiver.posts} == {f"Bearer {TOKEN}"}
    body = receiver.posts[0][2]
    assert body["type"] == "alert" and body["plant"] == plant.plant.id and body["idempotency_key"] == receiver.keys[0]
    lines = [r for r in caplog.records if r.name == "shopfloor.api.webhook"]
    assert [r.levelno for r in lines] == [logging.ERROR, logging.WARNING], [r.getMessage() for r in lines]
    assert "works again" in lines[1].getMessage()
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_an_event_the_receiver_refuses_is_dropped_once_and_the_next_ones_go_on(
    env: Env, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shopfloor.api.webhook")
    hook = WebhookSettings(url=f"http://127.0.0.1:{receiver.port}/andon?secret=sekrit-in-query", retry_initial_s=0.05)
    plant = env.plant.model_copy(update={"alerts": env.plant.alerts.model_copy(update={"webhook": hook})})
    hub = LiveHub(plant)
    app = create_app(plant, env.store, live_hub=hub, annotations=env.annotations, config=config())
    receiver.refuse.add("robot-fault.r03.")  # whatever happens to r03, the receiver will not have it
    with TestClient(app) as client:
        hub.write(robot_state("r03", RobotState.FAULT))
        refused = wait_until(lambda: active(client, "robot-fault", "r03"), "the refused alert")
        hub.write(robot_state("r09", RobotState.FAULT))
        taken = wait_until(lambda: active(client, "robot-fault", "r09"), "the next alert")
        wait_until(lambda: f"{taken['id']}:raised" in receiver.keys, "the next alert at the receiver")
        webhook = app.state.services.alerts.webhook
        wait_until(lambda: webhook.delivered >= 1, "the sender to see the receiver's answer")
        assert webhook.dropped == 1
    assert receiver.keys.count(f"{refused['id']}:raised") == 1  # refused for good: not repeated
    lines = [r.getMessage() for r in caplog.records if r.name == "shopfloor.api.webhook"]
    assert len(lines) == 1 and "HTTP 400" in lines[0] and refused["id"] in lines[0], lines
    receiver.stop()
    # with the receiver gone, the outage line names the receiver without the secret in its URL
    hub2 = LiveHub(plant)
    with TestClient(create_app(plant, env.store, live_hub=hub2, annotations=env.annotations, config=config())) as c2:
        hub2.write(robot_state("r10", RobotState.FAULT))
        wait_until(lambda: active(c2, "robot-fault", "r10"), "an alert while the receiver is down")
        wait_until(
            lambda: any("alert webhook" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records),
            "the outage line",
        )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "sekrit" not in text and f"http://127.0.0.1:{receiver.port}/andon" in text


def test_an_event_waiting_when_the_api_stops_is_sent_once_after_it_starts_again(env: Env, receiver: Receiver) -> None:
    """The receiver down, an alert raised, the API stopped: the event waits in the annotations file, and the API
    started again with the receiver up sends it once, with the same key, then forgets it."""
    plant = with_webhook(env.plant, receiver.port)
    receiver.stop()
    hub = LiveHub(plant)
    app = create_app(plant, env.store, live_hub=hub, annotations=env.annotations, config=config())
    with TestClient(app) as client:
        hub.write(robot_state("r05", RobotState.FAULT))
        alert = wait_until(lambda: active(client, "robot-fault", "r05"), "the alert, receiver down")
        key = f"{alert['id']}:raised"
        webhook = app.state.services.alerts.webhook
        kept = WebhookOutbox(env.annotations.path)
        try:
            wait_until(lambda: key in keys(kept.waiting(100)[0]), "the event kept in the annotations file")
        finally:
            kept.close()
        wait_until(lambda: webhook.failed_attempts >= 1, "a failed post")
    assert key in webhook.waiting_keys  # stopped with the event still waiting

    receiver.start()
    hub2 = LiveHub(plant)  # no sample of r05 yet: the alert stays active, nothing new is raised
    app2 = create_app(plant, env.store, live_hub=hub2, annotations=env.annotations, config=config())
    with TestClient(app2) as client:
        webhook2 = app2.state.services.alerts.webhook
        wait_until(lambda: key in receiver.keys, "the waiting event at the receiver after the restart")
        wait_until(lambda: webhook2.queued == 0, "the queue drained")
        assert webhook2.restored is not None and webhook2.restored >= 1
        assert active(client, "robot-fault", "r05")["id"] == alert["id"]  # type: ignore[index]  # None fails here
    # delivered: forgotten, so a third start sends nothing again
    app3 = create_app(plant, env.store, live_hub=LiveHub(plant), annotations=env.annotations, config=config())
    with TestClient(app3):
        webhook3 = app3.state.services.alerts.webhook
        wait_until(lambda: webhook3.restored is not None, "the third start's outbox read")
        assert key not in webhook3.waiting_keys
    assert receiver.keys.count(key) == 1
    body = next(b for k, _, b in receiver.posts if k == key)
    assert body["alert"]["id"] == alert["id"] and body["transition"] == "raised"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_sender_keeps_the_outbox_to_max_queued_and_counts_what_it_drops(tmp_path: Path) -> None:
    """Nobody listening: events wait. Three kept from before a start with max_queued = 2: the oldest is dropped;
    one more offered pushes the next oldest out of the queue and out of the file."""
    path = tmp_path / "annotations.sqlite3"
    before = WebhookOutbox(path)
    before.apply([event(1), event(2), event(3)], [])
    before.close()
    hook = WebhookSettings(url=f"http://127.0.0.1:{closed_port()}/andon", max_queued=2, retry_initial_s=0.05)
    sender = WebhookSender(hook, outbox=WebhookOutbox(path))
    task = asyncio.create_task(sender.run())
    try:
        await async_wait_until(lambda: sender.restored is not None, "the outbox read at start")
        assert sender.waiting_keys == keys([event(2), event(3)]) and sender.dropped == 1
        sender.offer(event(4))
        assert sender.waiting_keys == keys([event(3), event(4)]) and sender.dropped == 2
        check = WebhookOutbox(path)
        try:
            await async_wait_until(
                lambda: keys(check.waiting(10)[0]) == keys([event(3), event(4)]), "the file following the queue"
            )
        finally:
            check.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
