"""Checks made before a request reaches a route: who may name this server, open the live channel, or write.

* **Host** (HTTP and WebSocket): a web page can make a browser talk to this
  server under the page's own name by pointing that name at our address (DNS
  rebinding); the browser then sends the page's name in ``Host``. So a request
  is answered only if its Host is an IP address (an address cannot be
  rebound), ``localhost``, this machine's name, ``[api] host`` or a name in
  ``[api] allowed_hosts``; else 400 (``"*"`` in allowed_hosts turns this off).
* **Origin** (WebSocket): browsers send the page's origin with every WebSocket
  handshake, and no same-origin rule protects a WebSocket. The live channel is
  opened for no Origin (not a browser), the server's own origin, loopback
  pages, pages from the names above and ``[api] allowed_origins``; others get
  403 before the handshake completes.
* **Writes**: POST, PUT, PATCH and DELETE need a valid ``X-API-Key`` (401 / 403,
  as ``api.auth.check_key`` says) *before* the body is read: FastAPI reads and
  parses a body before it resolves the key dependency, so a 300 MB body without
  a key used to be read whole to be refused.
* **Body size**: a Content-Length over ``[api] max_body_bytes`` is a 413 before
  anything is read; a body without one (chunked) is counted as it is read and
  refused with 413 the moment it passes the limit.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from shopfloor.api.auth import check_key
from shopfloor.api.settings import ApiConfig

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` inside a route's body parsing: FastAPI passes HTTPExceptions on (any other error
    there becomes a 400), so its handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``name:port`` / ``[v6]:port`` / ``name`` -> (lower-case name without brackets, port); None if malformed."""
    try:
        parts = urlsplit(f"//{value}")
        port = parts.port
    except ValueError:
        return None
    name = parts.hostname
    if not name or parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    return name.rstrip("."), port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostPolicy:
    """Which Host headers and WebSocket origins this server answers (see the module's docstring)."""

    def __init__(self, config: ApiConfig, machine_name: str | None = None) -> None:
        names = {h.lower().rstrip(".") for h in config.allowed_hosts}
        self.any_host = "*" in names
        names.discard("*")
        names.add("localhost")
        machine = (machine_name if machine_name is not None else socket.gethostname()).lower()
        if machine:
            names.add(machine)
        self.names = frozenset(names)
        self.origins = frozenset(o.lower().rstrip("/") for o in config.allowed_origins)

    def host_allowed(self, host: str | None) -> bool:
        if host is None or self.any_host:
            return True  # no Host: HTTP/1.0, not a browser
        split = _split_host(host)
        if split is None:
            return False
        name = split[0]
        return _is_ip(name) or _is_loopback(name) or name in self.names

    def origin_allowed(self, origin: str | None, host: str | None, scheme: str) -> bool:
        if origin is None:
            return True  # browsers always send one with a WebSocket handshake: this is not a browser
        origin = origin.strip().lower().rstrip("/")
        if origin in self.origins:
            return True
        try:
            parts = urlsplit(origin)
            o_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            return False
        o_name = (parts.hostname or "").rstrip(".")
        if parts.scheme not in ("http", "https") or not o_name:
            return False  # "null" (a file or a sandboxed frame), or something no browser sends
        if _is_loopback(o_name) or o_name in self.names:
            return True
        split = _split_host(host) if host else None
        if split is None:
            return False
        h_name, h_port = split
        return (o_name, o_port) == (h_name, h_port or DEFAULT_PORTS.get(scheme))  # the page is ours


def _counted(receive: Any, limit: int) -> Any:
    seen = 0

    async def receive_counted() -> Any:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_counted


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class RequestGuard:
    """Pure ASGI middleware applying ``HostPolicy`` and the write check before anything reads a body."""

    def __init__(self, app: Any, config: ApiConfig, policy: HostPolicy | None = None) -> None:
        self.app = app
        self.config = config
        self.policy = policy or HostPolicy(config)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if not self.policy.host_allowed(host):
            detail = (
                f"this server does not answer to the name {host!r}; if it is one of its names, add it to"
                " [api] allowed_hosts in the plant file"
            )
            await self._refuse(scope, receive, send, 400, detail)
            return
        if kind == "websocket":
            origin = _header(scope, b"origin")
            if not self.policy.origin_allowed(origin, host, scope.get("scheme", "ws")):
                detail = f"pages from {origin!r} may not open the live channel (see [api] allowed_origins)"
                await self._refuse(scope, receive, send, 403, detail)
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] in WRITE_METHODS:
            try:
                check_key(self.config, _header(scope, b"x-api-key"))  # the route checks again, for the label
            except HTTPException as exc:
                await self._refuse(scope, receive, send, exc.status_code, str(exc.detail), exc.headers)
                return
        limit = self.config.max_body_bytes
        length = _header(scope, b"content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > limit):
            await self._refuse(scope, receive, send, 413, str(BodyTooLarge(limit).detail))
            return
        await self.app(scope, _counted(receive, limit), send)

    @staticmethod
    async def _refuse(
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        status: int,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        response = JSONResponse({"detail": detail}, status_code=status, headers=dict(headers or {}))
        if scope["type"] == "http":
            await response(scope, receive, send)  # the body, if any, is never read
        else:
            # A close before the handshake is a plain 403. (A "websocket.http.response" with the reason in a
            # body would be nicer, but uvicorn 0.54 then logs "ASGI callable returned without completing
            # handshake" as an ERROR for every refusal: a correct refusal must not look like a fault.)
            await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
