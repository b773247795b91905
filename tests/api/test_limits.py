"""What a client can send, over real sockets to the real server (api/server.py): every input bounded, every error
a small 4xx on a connection that stays usable, the live channel same-origin, slow and idle connections closed.

Synchronised on events (a response, the server closing a socket), never on sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import http.client
import json
import logging
import math
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from shopfloor.api.errors import compact_errors
from shopfloor.api.guard import HostPolicy
from shopfloor.api.lograte import RepeatFilter
from shopfloor.api.server import ServerLimits, protocol_class, resource_error_handler
from shopfloor.api.settings import ApiConfig
from tests.api.conftest import ALICE, Env, LiveServer, make_app

BAD_RANGES = [
    "shift=9999-12-31/night",
    "shift=1677-09-21/early",
    "shift=0001-01-01/early",
    "shift=1969-12-31/night",
    "start=0001-01-01T00:00:00&end=0001-01-02T00:00:00",
    "start=9999-12-31T00:00:00%2B14:00&end=9999-12-31T23:59:59-12:00",
    "start=1969-12-31T00:00:00&end=1970-01-01T00:00:00",
]


def range_endpoints(env: Env) -> list[str]:
    """Every operation that takes shift / start / end (the OpenAPI document says which), with its ids filled in."""
    ids = {
        "printer_id": env.plant.printers[0].id,
        "equipment_id": env.plant.printers[0].id,
        "team_id": env.plant.teams[0].id,
        "order_number": "1",
    }
    out = []
    for path, operations in make_app(env).openapi()["paths"].items():
        for method, operation in operations.items():
            params = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
            if {"shift", "start", "end"} <= params.keys():
                assert method == "get", (method, path)
                required = "".join(
                    f"{name}={ids.get(name, env.plant.printers[0].id)}&"
                    for name, p in params.items()
                    if p.get("required")
                )
                out.append(path.format(**ids) + "?" + required)
    return out


class Connection:
    """One kept-alive HTTP/1.1 connection (http.client): a request that is answered on a closed or replaced socket
    fails the test."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.http.connect()
        self.sock = self.http.sock

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        self.http.request(method, path, body=body, headers=headers or {})
        response = self.http.getresponse()
        data = response.read()
        assert self.http.sock is self.sock, f"{method} {path}: the connection was closed after {response.status}"
        return response.status, data, response

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def conn(server: LiveServer) -> Iterator[Connection]:
    c = Connection(server.port)
    yield c
    c.close()


def test_bad_dates_on_every_range_endpoint_are_422_and_the_connection_serves_on(
    env: Env, server: LiveServer, conn: Connection
) -> None:
    endpoints = range_endpoints(env)
    # the count, and the two print-order lists (issue 13): a new one must be bounded too
    assert len(endpoints) == 13, endpoints
    for path in endpoints:
        for query in BAD_RANGES:
            status, data, _ = conn.request("GET", path + query)
            assert status == 422, (path, query, data[:300])
            assert "1971-2200" in json.loads(data)["detail"], (path, query, data[:300])
        status, data, _ = conn.request("GET", path + f"shift={env.previous_shift}")
        assert status == 200, (path, data[:300])


def test_bad_body_times_and_nan_are_422_with_a_json_answer(env: Env, server: LiveServer, conn: Connection) -> None:
    printer = env.plant.printers[0].id
    json_headers = ALICE | {"content-type": "application/json"}
    notes = [
        {"equipment": printer, "text": "year one", "at": "0001-01-01T00:00:00"},
        {"equipment": printer, "text": "year 1600", "at": "1600-01-01T00:00:00+14:00"},
        {"equipment": printer, "text": "before the epoch", "at": "1969-07-20T20:17:00Z"},
        {"equipment": printer, "text": "far future", "at": "9999-12-31T23:59:59"},
    ]
    for note in notes:
        status, data, _ = conn.request("POST", "/api/v1/notes", json.dumps(note).encode(), json_headers)
        assert status == 422 and "1971-2200" in data.decode(), (note, data)
    bodies = {
        "/stops/reason": '{"start": "2026-01-01T00:00:00", "end": "2026-01-01T01:00:00", "reason_code": NaN}',
        "/stops/split": '{"start": "2026-01-01T00:00:00", "end": "2026-01-01T01:00:00", "split_at": '
        '"2026-01-01T00:30:00", "reason_before": Infinity, "reason_after": -Infinity}',
        "/stops/reason ": '{"start": "0001-01-01T00:00:00", "end": "0001-01-01T01:00:00", "reason_code": 0}',
    }
    for suffix, body in bodies.items():
        path = f"/api/v1/printers/{printer}{suffix.strip()}"
        status, data, _ = conn.request("POST", path, body.encode(), json_headers)
        assert status == 422, (path, body, data)
        json.loads(data)  # strict JSON: a NaN echoed back would not parse as the standard has it
        assert "NaN" not in data.decode() and "Infinity" not in data.decode().replace('"', "")
    status, _, _ = conn.request("GET", "/health")
    assert status == 200
    assert env.annotations.notes([printer], 0, 2**62) == [], "nothing was stored"


def test_lone_surrogates_in_any_field_are_4xx_not_500(env: Env, server: LiveServer, conn: Connection) -> None:
    """JSON may escape half of a UTF-16 pair ("\\ud800"); Python decodes it to a string UTF-8 cannot encode."""
    printer = env.plant.printers[0].id
    json_headers = ALICE | {"content-type": "application/json"}
    bad = "\\ud800"  # as it stands in the JSON text
    requests = [
        ("/api/v1/notes", f'{{"equipment": "{printer}", "text": "{bad}"}}'),
        ("/api/v1/notes", f'{{"equipment": "{bad}", "text": "hello"}}'),
        ("/api/v1/notes", f'{{"equipment": "{printer}", "text": "t", "at": "{bad}"}}'),
        ("/api/v1/notes", f'{{"{bad}": 1}}'),
        (f"/api/v1/printers/{printer}/stops/reason", f'{{"start": "{bad}", "end": "x", "reason_code": 1}}'),
        (f"/api/v1/printers/{printer}/stops/reason", f'{{"start": "s", "end": "e", "reason_code": "{bad}"}}'),
    ]
    for path, body in requests:
        status, data, _ = conn.request("POST", path, body.encode(), json_headers)
        assert 400 <= status < 500, (path, body, status, data[:300])
        json.loads(data)
    assert conn.request("GET", "/health")[0] == 200


def test_a_validation_error_does_not_echo_a_big_input(server: LiveServer, conn: Connection, env: Env) -> None:
    text = "x" * 60_000  # under the body limit, over the field's 2000 characters
    body = json.dumps({"equipment": env.plant.printers[0].id, "text": text}).encode()
    status, data, _ = conn.request("POST", "/api/v1/notes", body, ALICE | {"content-type": "application/json"})
    assert status == 422
    assert len(data) < 1000, len(data)
    (error,) = json.loads(data)["detail"]
    assert error["loc"] == ["body", "text"] and error["type"] == "string_too_long"
    assert "60000 characters" in error["input"]
    assert conn.request("GET", "/health")[0] == 200


def test_compact_errors_are_json_safe_whatever_the_input() -> None:
    errors = [
        {"type": "t", "loc": ("body", "x"), "msg": "m", "input": math.nan, "ctx": {"error": ValueError("v")}},
        {"type": "t", "loc": ("body", 0), "msg": "m", "input": {"huge": "y" * 10**6}},
        {"type": "t", "loc": ("query", "q"), "msg": "m" * 10_000, "input": b"\xff" * 10_000},
        {"type": "t", "loc": ("body",), "msg": "m", "input": 10**40},
    ]
    out = compact_errors(errors)
    text = json.dumps(out, allow_nan=False)
    assert len(text) < 2000
    assert out[0]["input"] == "nan" and out[1]["input"] == "<dict>"


def test_too_big_bodies_are_413_before_they_are_read(server: LiveServer, env: Env) -> None:
    """Content-Length over [api] max_body_bytes: the answer comes while the body has not been sent at all."""
    for headers, status in ((ALICE, 413), ({}, 401), ({"X-API-Key": "wrong-key-123"}, 403)):
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            head = f"POST /api/v1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {300 * 2**20}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "content-type: application/json\r\n\r\n"
            sock.sendall(head.encode())
            answer = read_response(sock)
            assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    # A chunked body is counted as it comes and refused when it passes the limit; a 10 MB note is refused on
    # its Content-Length. The server stops reading: httpx, still writing, reads the answer it was sent.
    note = json.dumps({"equipment": env.plant.printers[0].id, "text": "n" * 10 * 2**20}).encode()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for body in ((b"x" * 8192 for _ in range(10_000)), note):
            response = client.post("/api/v1/notes", content=body, headers=ALICE | {"content-type": "application/json"})
            assert response.status_code == 413 and len(response.content) < 200, response.text[:200]
        assert client.get("/health").status_code == 200


def test_a_small_unauthenticated_write_keeps_the_connection(server: LiveServer, conn: Connection, env: Env) -> None:
    body = json.dumps({"equipment": env.plant.printers[0].id, "text": "hello"}).encode()
    for _ in range(3):
        status, _, response = conn.request("POST", "/api/v1/notes", body, {"content-type": "application/json"})
        assert status == 401 and response.getheader("WWW-Authenticate") == "ApiKey"
    status, _, _ = conn.request("POST", "/api/v1/notes", body, ALICE | {"content-type": "application/json"})
    assert status == 201


def read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes or a complete response head and JSON body are in."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                None,
            )
            if length is not None and len(body) >= length:
                return data


def closed_by_server(sock: socket.socket) -> bytes:
    """Block until the server closes ``sock`` (the event under test); what it sent before."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_request_head_that_drips_in_is_cut_off_and_idle_connections_close(env: Env) -> None:
    api = env.plant.api.model_copy(update={"request_timeout_s": 1.0, "idle_timeout_s": 0.5})
    with LiveServer(make_app(env), api=api) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as slow:
            slow.sendall(b"GET /health HTTP/1.1\r\n")
            closed = threading.Event()

            def drip() -> None:
                # a byte every 0.1 s (faster than idle_timeout_s) used to keep a connection forever
                while not closed.wait(0.1):
                    try:
                        slow.sendall(b"X")
                    except OSError:
                        return

            dripper = threading.Thread(target=drip, daemon=True)
            dripper.start()
            try:
                assert closed_by_server(slow) == b""  # closed at the deadline, however many bytes dripped in
            finally:
                closed.set()
                dripper.join()
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as idle:
            idle.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = closed_by_server(idle)  # answered, then closed once idle
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]
        assert server.server.protocol.events.timed_out.total >= 1


def test_at_the_cap_the_oldest_waiting_connection_makes_room_or_a_new_one_is_refused(env: Env) -> None:
    api = env.plant.api.model_copy(update={"max_connections": 8})
    with LiveServer(make_app(env), api=api) as server:
        waiting = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(8)]
        for s in waiting:
            s.sendall(b"GET /health HTTP/1.1\r\n")  # half a request head
        # a ninth: the oldest half-request is closed to admit it, and it is answered
        c = Connection(server.port)
        assert c.request("GET", "/health")[0] == 200
        assert closed_by_server(waiting[0]) == b""
        c.close()
        for s in waiting:
            s.close()


async def test_at_the_cap_with_nobody_waiting_new_connections_get_a_503(env: Env) -> None:
    api = env.plant.api.model_copy(update={"max_connections": 8})
    with LiveServer(make_app(env), api=api) as server:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(8):  # live channels are in use, not waiting: never closed to make room
                await stack.enter_async_context(websockets.connect(f"{server.ws_url}/api/v1/live"))
            with socket.create_connection(("127.0.0.1", server.port), timeout=60) as extra:
                answer = closed_by_server(extra)
            assert answer.startswith(b"HTTP/1.1 503 "), answer
            assert server.server.protocol.events.refused.total >= 1


# ------------------------------------------------------------------------------------------- same origin


def handshake(port: int, host: str, origin: str | None = None) -> int:
    """The status of a WebSocket handshake to /api/v1/live with these Host and Origin headers (101 = open)."""
    head = f"GET /api/v1/live HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    head += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    head += (f"Origin: {origin}\r\n" if origin else "") + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode())
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
    return int(data.split(b" ", 2)[1])


async def test_the_live_channel_is_same_origin(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(env, allowed_hosts=("testserver", "control-room.plant"), allowed_origins=("https://mes.plant",))
    with LiveServer(app) as server:
        port = server.port
        own = f"127.0.0.1:{port}"
        opened = {
            (own, None): 101,  # no Origin: not a browser
            (own, f"http://{own}"): 101,  # the display's own page
            (own, f"http://localhost:{port}"): 101,  # a loopback page
            (own, "http://control-room.plant:8080"): 101,  # a name of this server ([api] allowed_hosts)
            (own, "https://mes.plant"): 101,  # [api] allowed_origins
            ("control-room.plant:8080", "http://control-room.plant:8080"): 101,
            (own, "https://evil.example.com"): 403,
            (own, "null"): 403,  # a file or a sandboxed frame
            (own, "http://10.9.8.7"): 403,  # a page of another address
            ("attacker.example.com", None): 403,  # DNS rebinding: a name that is not ours
            ("attacker.example.com", "http://attacker.example.com"): 403,
        }
        for (host, origin), status in opened.items():
            assert handshake(port, host, origin) == status, (host, origin)
        # and a real client, from the display's own origin, gets the live data
        async with websockets.connect(f"{server.ws_url}/api/v1/live", origin=f"http://{own}") as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
        with pytest.raises(InvalidStatus):
            async with websockets.connect(f"{server.ws_url}/api/v1/live", origin="https://evil.example.com"):
                pass
        c = Connection(port)
        assert c.request("GET", "/health", headers={"Host": "attacker.example.com"})[0] == 400
        assert c.request("GET", "/health", headers={"Host": "control-room.plant"})[0] == 200
        assert c.request("GET", "/health", headers={"Host": f"[::1]:{port}"})[0] == 200
        c.close()
    # a refusal is the client's answer, not a fault of the server's
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_host_policy() -> None:
    policy = HostPolicy(ApiConfig("K", allowed_hosts=("Display.Plant.",)), machine_name="srv-01")
    for host in ("127.0.0.1:8080", "10.1.2.3", "[fe80::1]:80", "localhost", "srv-01:8080", "display.plant", None):
        assert policy.host_allowed(host), host
    for host in ("evil.example.com", "127.0.0.1.nip.io", "srv-01.evil.com", "", "a b", "user@127.0.0.1"):
        assert not policy.host_allowed(host), host
    assert policy.origin_allowed("http://10.1.2.3:8080", "10.1.2.3:8080", "ws")
    assert not policy.origin_allowed("http://10.1.2.3:8081", "10.1.2.3:8080", "ws")
    assert policy.origin_allowed("http://10.1.2.3", "10.1.2.3", "ws")
    assert not policy.origin_allowed("https://10.1.2.3", "10.1.2.3", "ws")  # a different origin (port 443)
    assert policy.origin_allowed("http://[::1]:3000", "10.1.2.3", "ws")
    assert not policy.origin_allowed("file://", "10.1.2.3", "ws")
    assert HostPolicy(ApiConfig("K", allowed_hosts=("*",))).host_allowed("anything.example.com")


# ------------------------------------------------------------------------------------------- logging floods


def test_accept_out_of_resources_and_library_repeats_are_one_line_per_stretch(caplog: pytest.LogCaptureFixture) -> None:
    limits = ServerLimits(max_connections=10, request_timeout_s=1, idle_timeout_s=1, drain_bytes=1, backlog=16)
    events = protocol_class(limits).events
    handler = resource_error_handler(events, None)
    loop = asyncio.new_event_loop()
    emfile = OSError(errno.EMFILE, "Too many open files")
    library = logging.getLogger("tests.api.chatty_library")
    repeats = RepeatFilter()
    library.addFilter(repeats)
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(10_000):  # asyncio reports each failed accept() like this, with the traceback
                handler(loop, {"message": "socket.accept() out of system resource", "exception": emfile})
                library.warning("Invalid HTTP request received.")
            assert [r.getMessage() for r in caplog.records if r.name == "shopfloor.api.server"] == [
                "accept() failed: the process is out of file descriptors or memory"
                " (more are counted, not logged one by one)"
            ]
            assert [r.getMessage() for r in caplog.records if r.name == library.name] == [
                "Invalid HTTP request received."
            ]
            assert not any(r.exc_info for r in caplog.records)
            events.close()
            repeats.close()
            messages = [r.getMessage() for r in caplog.records]
        assert events.out_of_resources.total == 10_000
        assert any("out of file descriptors or memory: 9999 more" in m for m in messages), messages
        assert any("Invalid HTTP request received. [9999 more like this" in m for m in messages), messages
        assert len(messages) == 4
    finally:
        library.removeFilter(repeats)
        loop.close()


def test_a_bug_is_one_json_500_per_request_one_traceback_and_the_connection_stays(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(env)

    async def broken() -> None:
        raise ZeroDivisionError("a bug")

    app.add_api_route("/api/v1/broken", broken)
    with caplog.at_level(logging.INFO), LiveServer(app) as server:
        c = Connection(server.port)
        for _ in range(50):
            status, data, _ = c.request("GET", "/api/v1/broken")
            assert status == 500 and json.loads(data)["detail"].startswith("internal error"), data
        assert c.request("GET", "/health")[0] == 200
        c.close()
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "/api/v1/broken" in tracebacks[0].getMessage()
    assert any("failed with ZeroDivisionError 49 more times" in r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records
    ]
