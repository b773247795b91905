"""A webhook receiver that takes the connection and never answers does not hold up collection or alerts.

The receiver is a raw socket server: it accepts every connection, reads the
request and holds it, unanswered. Meanwhile the fleet simulator's robots are
collected over OPC UA into the store and the hub as the API does it, and a
fault injected into the simulator is raised and then cleared on the live
channel and in ``GET /api/v1/alerts``. The sender times out (a small
``timeout_s``), retries the same event with backoff, and logs the outage once.
When an answering receiver takes the port, every event waiting is delivered
once, with its Idempotency-Key.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Sequence

import httpx
import pytest

from shopfloor.api.app import create_app
from shopfloor.api.live import LiveHub
from shopfloor.api.tee import TeeSink
from shopfloor.models.plant import WebhookSettings
from shopfloor.models.samples import ConnectivityEvent, SampleBatch
from shopfloor.models.states import RobotState
from tests.api._live_client import LiveClient
from tests.api.conftest import Env, LiveServer, async_wait_until, config
from tests.api.test_alerts_webhook import TOKEN, Receiver
from tests.api.test_live import fleet_running

HEADER = b"idempotency-key:"


class HangingReceiver:
    """Listens on a free loopback port; accepts, reads and holds every connection without a byte of answer."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.keys: list[str] = []  # the Idempotency-Key of each request read, in arrival order
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="hanging-receiver", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed: the outage is over
                return
            with self._lock:
                self._held.append(conn)
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            line = next(x for x in head.split(b"\r\n") if x.lower().startswith(HEADER))
            with self._lock:
                self.keys.append(line[len(HEADER) :].strip().decode())
            while conn.recv(65536):  # hold it: read whatever comes, answer nothing
                pass

    def close(self) -> None:
        """Stop listening and drop the held connections (the port is free for the receiver that answers)."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for conn in self._held:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()


class CountingSink:
    """Counts the collector's batches: the polls landing."""

    def __init__(self) -> None:
        self.batches = 0

    def write(self, batch: SampleBatch) -> None:
        self.batches += 1

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        pass


async def test_a_receiver_that_never_answers_holds_up_neither_collection_nor_alerts(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_TOKEN", TOKEN)
    caplog.set_level(logging.INFO, logger="shopfloor.api.webhook")
    hanging = HangingReceiver()
    hook = WebhookSettings(
        url=f"http://127.0.0.1:{hanging.port}/andon",
        token_env="TEST_WEBHOOK_TOKEN",
        timeout_s=0.2,
        retry_initial_s=0.05,
        retry_max_s=0.2,
    )
    plant = env.plant.model_copy(update={"alerts": env.plant.alerts.model_copy(update={"webhook": hook})})
    hub = LiveHub(plant)
    app = create_app(
        plant, env.store, live_hub=hub, annotations=env.annotations, config=config(snapshot_interval_s=0.5)
    )
    counted = CountingSink()
    answering = Receiver()
    try:
        with LiveServer(app) as server:
            webhook = server.services.alerts.webhook
            async with (
                fleet_running(env, TeeSink(env.store, hub, counted)) as sim,
                httpx.AsyncClient(base_url=server.url) as http,
            ):

                async def active(robot: str) -> bool:
                    body = (await http.get("/api/v1/alerts")).json()
                    return any(a["rule"] == "robot-fault" and a["equipment"] == robot for a in body["alerts"])

                async def set_state(robot: str, state: RobotState) -> None:
                    await sim.inject_value(robot, "state", int(state))
                    await async_wait_until(lambda: (s := hub.state(robot)) and s.code == state, f"{robot} {state.name}")

                robots = [r.id for r in env.plant.fleets[0].robots]
                await async_wait_until(lambda: all(hub.state(r) for r in robots), "every robot's state")
                first, target = robots[-2:]
                for robot in (first, target):  # only the injected states decide their alerts
                    await sim.inject_value(robot, "error_code", 0)
                    await set_state(robot, RobotState.IDLE)
                await set_state(first, RobotState.FAULT)  # an event for the receiver to hold
                await async_wait_until(lambda: hanging.keys, "the first event held by the receiver")
                await async_wait_until(lambda: webhook.failed_attempts >= 3, "three posts timed out (backoff)")

                async with LiveClient(f"{server.ws_url}/api/v1/live") as live:
                    await live.next_of("status")
                    landed = counted.batches
                    await sim.inject_value(target, "state", int(RobotState.FAULT))
                    raised, _ = await live.next_of(
                        "alert", lambda m: m["transition"] == "raised" and m["alert"]["equipment"] == target
                    )
                    assert await active(target)
                    await sim.inject_value(target, "state", int(RobotState.IDLE))
                    cleared, _ = await live.next_of(
                        "alert", lambda m: m["transition"] == "cleared" and m["alert"]["equipment"] == target
                    )
                    assert not await active(target)
                    # the collector's batches kept landing in the store and the hub: the fault and its end at least
                    assert counted.batches >= landed + 2
                alert_id = raised["alert"]["id"]
                assert cleared["alert"]["id"] == alert_id
                expected = [f"{alert_id}:raised", f"{alert_id}:cleared"]
                assert webhook.delivered == 0 and all(k in webhook.waiting_keys for k in expected)
                # every attempt was the oldest event again, with the same key; the outage is one line so far
                assert len(hanging.keys) >= 3 and set(hanging.keys) == {hanging.keys[0]}
                lines = [r for r in caplog.records if r.name == "shopfloor.api.webhook"]
                assert [r.levelno for r in lines] == [logging.ERROR], [r.getMessage() for r in lines]
                assert "ReadTimeout" in lines[0].getMessage()  # the sender gave up waiting: it timed out

                hanging.close()  # a receiver that answers takes the port
                answering.port = hanging.port
                answering.start()
                await async_wait_until(lambda: all(k in answering.keys for k in expected), "the events delivered")
                await async_wait_until(lambda: webhook.queued == 0, "the queue drained")
    finally:
        hanging.close()
        answering.stop()
    assert len(answering.keys) == len(set(answering.keys))  # each event once
    assert [k for k in answering.keys if k in expected] == expected  # in the order they happened
    assert hanging.keys[0] in answering.keys  # the event held during the outage, delivered once it answered
    assert len([k for k in answering.keys if k.startswith(f"robot-fault.{first}.") and k.endswith(":raised")]) == 1
    assert {auth for _, auth, _ in answering.posts} == {f"Bearer {TOKEN}"}
    lines = [r for r in caplog.records if r.name == "shopfloor.api.webhook"]
    assert [r.levelno for r in lines] == [logging.ERROR, logging.WARNING], [r.getMessage() for r in lines]
    assert "works again" in lines[1].getMessage()
