"""Fixtures of the API tests: a real DuckDB store with a realistic history, the app, a real uvicorn server.

Servers bind 127.0.0.1 on a port the OS picks (a socket bound to port 0 is
handed to uvicorn), so tests never collide on fixed ports.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.api.deps import Services
from shopfloor.api.live import LiveHub
from shopfloor.api.server import build_server
from shopfloor.api.settings import ApiConfig, parse_keys
from shopfloor.api.timerange import current_shift
from shopfloor.models.plant import ApiSettings, Plant, load_plant
from shopfloor.simulators.history import Stop, plant_history
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.fixtures.waiting import async_wait_until, wait_until  # noqa: F401  # re-exported for the API tests

S = 1_000_000_000
HISTORY_S = 4 * 3600
KEYS = "alice:alice-secret-key-123,bob:bob-secret-key-456"
# schemathesis gives up on a request after 10 s by default: a wall-time budget that an idle machine meets and a
# loaded one does not (a years-long ranking recomputed while the suite shares the cores). These tests look for
# server errors; latency is measured in bench/, so the wait is only a guard against a hang.
REQUEST_TIMEOUT_S = 300

ALICE = {"X-API-Key": "alice-secret-key-123"}


@pytest.fixture(scope="session")
def plant() -> Plant:
    return load_plant()


def config(keys: str = KEYS, **overrides: Any) -> ApiConfig:
    # fastapi's TestClient names the server "testserver": one of its names, as a plant file would say
    return ApiConfig("SHOPFLOOR_API_KEYS", parse_keys(keys), **({"allowed_hosts": ("testserver",)} | overrides))


@dataclass
class Env:
    """A store holding the plant's history since before the previous shift, and what was written."""

    plant: Plant
    store: DuckDBStore
    annotations: AnnotationStore
    stops: list[Stop]
    start_ns: int
    end_ns: int
    path: Path
    previous_shift: str  # a complete shift inside the history, whatever the time of day the tests run


@pytest.fixture
def env(plant: Plant, tmp_path: Path) -> Iterator[Env]:
    store = DuckDBStore(tmp_path / "shopfloor.duckdb", plant.plant.id)
    end = time.time_ns()
    previous = current_shift(plant, current_shift(plant, end).start_ns - 1)
    start = min(end - HISTORY_S * S, previous.start_ns - 600 * S)
    history = plant_history(plant, start, end)
    for batch in history.batches:
        store.write(batch)
    store.flush()
    notes = AnnotationStore(tmp_path / "annotations.sqlite3")
    yield Env(plant, store, notes, history.stops, start, end, tmp_path, previous.key)
    notes.close()
    store.close()


def make_app(env: Env, hub: LiveHub | None = None, **cfg: Any) -> FastAPI:
    return create_app(env.plant, env.store, live_hub=hub, annotations=env.annotations, config=config(**cfg))


@pytest.fixture
def client(env: Env) -> Iterator[TestClient]:
    with TestClient(make_app(env)) as c:
        yield c


class LiveServer:
    """uvicorn serving an app on 127.0.0.1:<free port> in a thread with its own event loop."""

    def __init__(self, app: FastAPI, port: int = 0, api: ApiSettings | None = None) -> None:
        """``port=0``: a free port; a given port is for restarting a server where clients expect it.
        ``api``: the server's [api] settings (limits), by default the plant's."""
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        # The server shopfloor run and demo use: bounded connections, request deadlines, lingering refusals.
        self.server = build_server(app, api or app.state.services.plant.api)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        return self.app.state.services  # type: ignore[no-any-return]  # app.state is untyped

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_until(lambda: self.server.started, "uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        with contextlib.suppress(OSError):
            self.sock.close()


@pytest.fixture
def server(env: Env) -> Iterator[LiveServer]:
    hub = LiveHub(env.plant)
    with LiveServer(make_app(env, hub, snapshot_interval_s=0.5, kpi_snapshot_interval_s=1.0)) as srv:
        yield srv
