"""A live-channel client that stamps every message the moment it arrives, in a thread of its own.

"A change reaches a client within 1 s" is a wall-clock requirement of the
product, so it is measured on the wall clock, but the measurement must not
include the test's own delays: the test's event loop (which may be running
simulators and collectors besides) can be slow to get round to a message on
a loaded machine. Here a thread that does nothing but receive stamps each
message with ``time.monotonic()`` as it arrives; the test asserts on that
stamp. Waiting for a message only has a generous deadline, against a hang.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.fixtures.waiting import DEADLINE_S


class LiveClient:
    """Connected to ``url`` (``ws://…/api/v1/live``) from ``async with`` until its end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: ClientConnection | None = None
        self._thread: threading.Thread | None = None
        self.received: list[tuple[float, str]] = []  # (arrival monotonic time, raw text), in arrival order
        self._next = 0  # messages before this index were returned or skipped by next_of
        self.closed = False

    async def __aenter__(self) -> LiveClient:
        self._conn = (await asyncio.to_thread(connect, self.url, open_timeout=DEADLINE_S)).__enter__()
        self._thread = threading.Thread(target=self._receive, name="live-client", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None and self._thread is not None
        await asyncio.to_thread(self._conn.__exit__, None, None, None)  # closes the connection
        await asyncio.to_thread(self._thread.join, DEADLINE_S)

    def _receive(self) -> None:
        assert self._conn is not None
        try:
            while True:
                raw = self._conn.recv()
                self.received.append((time.monotonic(), raw if isinstance(raw, str) else raw.decode()))
        except ConnectionClosed:
            pass
        finally:
            self.closed = True

    async def next_of(
        self, kind: str, where: Callable[[dict[str, Any]], bool] = lambda _m: True, timeout_s: float = DEADLINE_S
    ) -> tuple[dict[str, Any], float]:
        """The next message of type ``kind`` matching ``where``, and the monotonic time it arrived.

        Messages before it are skipped (and not offered again).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            while self._next < len(self.received):
                arrived, raw = self.received[self._next]
                self._next += 1
                msg = json.loads(raw)
                if msg["type"] == kind and where(msg):
                    return msg, arrived
            if self.closed and self._next == len(self.received):
                raise AssertionError(f"the live channel closed before a {kind!r} message")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind!r} message within {timeout_s:g} s")
            await asyncio.sleep(0.01)
