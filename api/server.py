"""The API's HTTP server: uvicorn, bounded in what a client can hold (docs/api.md, "Limits").

uvicorn on its own keeps a connection open for as long as a client trickles
request headers, accepts until the process runs out of file descriptors, and
then logs a traceback per failed accept. Here (``build_server``):

* **connections** are capped at ``[api] max_connections`` (HTTP and WebSocket),
  at accept: past the cap the oldest connection still waiting for a request
  (slow headers, or idle between requests) is closed to make room, and if
  none is waiting the new one gets a fixed 503 and is closed at once;
* a **request's headers and body** must arrive within ``[api] request_timeout_s``
  of the connection (or of the previous response), however slowly they drip;
  an idle kept-alive connection closes after ``[api] idle_timeout_s``;
* a response sent **before the request body was read** (401, 413, ...) keeps the
  connection only when what is left is small; else the server stops reading
  the request (half-close after the response, discard a little, then close), so
  a 300 MB upload is refused after its headers, not after 300 MB;
* the **open-file limit** is raised to the hard limit at start, and the cap and
  the listen backlog are kept well below it (a reserve for collectors, store
  and logs), so accept() does not run out of descriptors;
* **floods are logged** as one line with a count per minute (refused, evicted or
  timed-out connections, accept() out of resources, uvicorn's per-request
  warnings), never a line or a traceback per event.

The protocol is a subclass of uvicorn's ``H11Protocol`` (uvicorn takes a class as
``Config(http=...)``); it hooks only connection_made / data_received /
on_response_complete / connection_lost and the request cycle's transport, and
leaves HTTP parsing to uvicorn and h11.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from shopfloor.api.lograte import RepeatFilter, stretch_log
from shopfloor.api.settings import ApiConfig, SettingsError
from shopfloor.models.plant import ApiSettings, Plant

log = logging.getLogger("shopfloor.api.server")

FD_RESERVE = 256  # descriptors kept for collectors, simulators, the store, logs and pipes
LINGER_S = 2.0  # after refusing an unread body: how long the rest is read and thrown away before closing
LINGER_BYTES = 1 << 20  # ... and how much of it
_REFUSAL_TEXT = b"too many connections; try again later\n"
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 5\r\n"
    b"connection: close\r\ncontent-length: " + str(len(_REFUSAL_TEXT)).encode() + b"\r\n\r\n" + _REFUSAL_TEXT
)
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def raise_open_file_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (a process may always do that); the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_connections: int
    request_timeout_s: float
    idle_timeout_s: float
    drain_bytes: int  # an unread request body up to this size is read and dropped to keep the connection
    backlog: int  # listen backlog, and the most connections asyncio accepts in one go
    linger_s: float = LINGER_S
    linger_bytes: int = LINGER_BYTES

    @classmethod
    def of(cls, api: ApiSettings, open_files: int) -> ServerLimits:
        """The plant's [api] limits fitted to ``open_files`` descriptors: at most half of what the reserve
        leaves goes to connections, an eighth to the backlog (accepted, not yet refused); SettingsError if the
        limit leaves too little to serve at all."""
        usable = open_files - FD_RESERVE
        if usable < 64:
            raise SettingsError(
                f"the open-file limit of this process is {open_files} (ulimit -n), too low to serve the API;"
                f" it needs at least {FD_RESERVE + 64}"
            )
        return cls(
            max_connections=min(api.max_connections, usable // 2),
            request_timeout_s=api.request_timeout_s,
            idle_timeout_s=api.idle_timeout_s,
            drain_bytes=api.max_body_bytes,
            backlog=max(16, min(1024, usable // 8)),
        )


class _Events:
    """What a flood of clients causes, logged once per stretch with a count."""

    def __init__(self, limits: ServerLimits) -> None:
        self.refused = stretch_log(
            log,
            logging.WARNING,
            f"refusing connections: {limits.max_connections} open ([api] max_connections) and none idle",
        )
        self.evicted = stretch_log(
            log,
            logging.WARNING,
            f"at {limits.max_connections} connections ([api] max_connections): closing the oldest ones still"
            " waiting for a request to admit new ones",
        )
        self.timed_out = stretch_log(
            log,
            logging.INFO,
            f"closed connections that sent no complete request within {limits.request_timeout_s:g} s"
            " ([api] request_timeout_s)",
        )
        self.out_of_resources = stretch_log(
            log, logging.ERROR, "accept() failed: the process is out of file descriptors or memory"
        )

    def close(self) -> None:
        for stretch in (self.refused, self.evicted, self.timed_out, self.out_of_resources):
            stretch.close()


class _CycleTransport:
    """The transport a request cycle writes to: when it closes the connection while the client is still
    sending the request body, the connection lingers (see ``GuardedH11Protocol._linger``) instead."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: GuardedH11Protocol) -> None:
        self._protocol = protocol

    def write(self, data: bytes) -> None:
        if not self._protocol._lingering:
            self._protocol.transport.write(data)

    def is_closing(self) -> bool:
        return self._protocol._lingering or self._protocol.transport.is_closing()

    def close(self) -> None:
        self._protocol._close_for_cycle()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol.transport, name)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a connection cap, request deadlines and lingering refusals.

    Use ``protocol_class(limits)``: each server gets its own subclass holding its limits and its set of
    connections waiting for a request (oldest first: the ones to close when the cap is reached).
    """

    limits: ClassVar[ServerLimits]
    events: ClassVar[_Events]
    waiting: ClassVar[dict[GuardedH11Protocol, None]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._is_waiting = False
        self._lingering = False
        self._linger_left = 0
        self._refused = False
        self._upgraded = False

    # -- connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn types it as BaseTransport; TCP gives a Transport
        if len(self.connections) >= self.limits.max_connections and not self._evict_oldest_waiting():
            self._refused = True
            self.transport = transport
            self.events.refused.hit()
            transport.write(REFUSAL)
            transport.close()
            return
        super().connection_made(transport)
        self._set_waiting(True)

    def _evict_oldest_waiting(self) -> bool:
        for victim in self.waiting:
            victim._set_waiting(False)
            victim._close_now()
            self.events.evicted.hit()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_waiting(False)
        self._cancel_deadline()
        if self._refused:
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._linger_left -= len(data)
            if self._linger_left <= 0:
                self.transport.close()
            return
        if self._refused:
            return
        super().data_received(data)
        self._sync()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        # From here the WebSocket protocol owns the connection (and its own pings); nothing of ours runs on.
        self._upgraded = True
        self._set_waiting(False)
        self._cancel_deadline()
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        if self._lingering:
            self.server_state.total_requests += 1
            return
        if self.conn.their_state is h11.SEND_BODY and not self._rest_is_small():
            self.server_state.total_requests += 1
            self._linger()
            return
        super().on_response_complete()
        self._sync()

    def shutdown(self) -> None:
        self._set_waiting(False)
        self._cancel_deadline()
        if self._lingering:
            self.transport.close()
            return
        with contextlib.suppress(h11.LocalProtocolError):
            super().shutdown()

    # -- state

    def _sync(self) -> None:
        """After h11 has seen new data or a response ended: track whether a request is awaited, and hand a
        newly made request cycle our transport wrapper."""
        if self._upgraded:
            return
        if self.transport.is_closing() or self._lingering:
            self._set_waiting(False)
            self._cancel_deadline()
            return
        cycle: Any = self.cycle  # None until the first request (uvicorn types it as always set)
        if cycle is not None and not isinstance(cycle.transport, _CycleTransport):
            cycle.transport = _CycleTransport(self)
        theirs = self.conn.their_state
        if theirs is h11.IDLE:  # no complete request head yet
            self._set_waiting(True)
        else:
            self._set_waiting(False)
            if theirs is not h11.SEND_BODY:  # the whole request is in: the app takes its time, not the client
                self._cancel_deadline()

    def _set_waiting(self, waiting: bool) -> None:
        if waiting == self._is_waiting:
            return
        self._is_waiting = waiting
        if waiting:
            self.waiting[self] = None
            self._cancel_deadline()  # a new request is awaited: its own deadline
            self._deadline = self.loop.call_later(self.limits.request_timeout_s, self._timed_out)
        else:
            self.waiting.pop(self, None)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        self._set_waiting(False)
        if not self.transport.is_closing():
            self.events.timed_out.hit()
            self._close_now()

    def _close_now(self) -> None:
        self._cancel_deadline()
        self._unset_keepalive_if_required()
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()

    def _rest_is_small(self) -> bool:
        """The unread rest of the request body is small enough to read and drop, keeping the connection."""
        length = next((v for k, v in self.headers or () if k == b"content-length"), None)
        return length is not None and length.isdigit() and int(length) <= self.limits.drain_bytes

    def _close_for_cycle(self) -> None:
        cycle: Any = self.cycle
        if self.conn.their_state is h11.SEND_BODY and cycle is not None and cycle.response_complete:
            self._linger()
        else:
            self.transport.close()

    def _linger(self) -> None:
        """Answered before the request body was read: send the response and FIN, read and drop what the client
        still sends for a moment (closing on unread data resets the connection, and a client still writing may
        then lose the response), then close."""
        if self._lingering:
            return
        self._lingering = True
        self._set_waiting(False)
        self._cancel_deadline()
        self._unset_keepalive_if_required()
        if self.transport.is_closing():
            return
        try:
            self.transport.write_eof()
        except (OSError, RuntimeError):
            self.transport.close()
            return
        self._linger_left = self.limits.linger_bytes
        self.flow.resume_reading()
        self._deadline = self.loop.call_later(self.limits.linger_s, self.transport.close)


def protocol_class(limits: ServerLimits) -> type[GuardedH11Protocol]:
    """A GuardedH11Protocol for one server: its limits, its waiting connections, its event logs."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"limits": limits, "events": _Events(limits), "waiting": {}},
    )


def resource_error_handler(
    events: _Events, previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None
) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """asyncio reports a failed accept() ("socket.accept() out of system resource") with a traceback, each
    time; out-of-resource errors are counted here instead, anything else goes where it went before."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS:
            events.out_of_resources.hit()
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    return handle


class GuardedServer(uvicorn.Server):
    """uvicorn.Server that, while it serves, counts resource errors of its loop and rate-limits the per-event
    warnings of uvicorn and asyncio (e.g. "Invalid HTTP request received." per bad connection)."""

    def __init__(self, config: uvicorn.Config, protocol: type[GuardedH11Protocol]) -> None:
        super().__init__(config)
        self.protocol = protocol

    @property
    def open_connections(self) -> int:
        return len(self.server_state.connections)

    async def serve(self, sockets: list[Any] | None = None) -> None:
        loop = asyncio.get_running_loop()
        previous = loop.get_exception_handler()
        loop.set_exception_handler(resource_error_handler(self.protocol.events, previous))
        repeats = RepeatFilter()
        chatty = [logging.getLogger(name) for name in ("uvicorn.error", "asyncio")]
        for logger in chatty:
            logger.addFilter(repeats)
        try:
            await super().serve(sockets)
        finally:
            loop.set_exception_handler(previous)
            for logger in chatty:
                logger.removeFilter(repeats)
            repeats.close()
            self.protocol.events.close()


def check_settings(plant: Plant) -> None:
    """What can be wrong in the settings of serving the API (keys in the environment, the open-file limit),
    checked before anything starts; SettingsError says what. The plant file itself was checked on loading."""
    ApiConfig.from_env(plant)
    ServerLimits.of(plant.api, raise_open_file_limit())


def build_server(app: Any, api: ApiSettings, *, log_level: str = "warning", **config: Any) -> GuardedServer:
    """The uvicorn server for ``app`` with the plant's [api] limits; raises the open-file limit first.

    ``sockets`` given to ``serve()`` are listened on with the (bounded) backlog; ``config`` goes to
    uvicorn.Config (e.g. host and port when no socket is given). SettingsError if the process's open-file
    limit is too low to serve at all.
    """
    open_files = raise_open_file_limit()
    limits = ServerLimits.of(api, open_files)
    if limits.max_connections < api.max_connections:
        log.warning(
            "[api] max_connections %d lowered to %d to stay within the open-file limit of %d (ulimit -n)",
            api.max_connections,
            limits.max_connections,
            open_files,
        )
    protocol = protocol_class(limits)
    uvicorn_config = uvicorn.Config(
        app,
        http=protocol,
        ws="websockets-sansio",
        lifespan="on",
        log_level=log_level,
        backlog=limits.backlog,
        timeout_keep_alive=limits.idle_timeout_s,  # type: ignore[arg-type]  # used as a float (call_later)
        ws_max_size=api.max_body_bytes,  # clients only listen on the live channel: no large messages
        **config,
    )
    return GuardedServer(uvicorn_config, protocol)
