"""An asyncio event loop on a thread of its own, so one job's load never delays another's.

``shopfloor run`` and ``shopfloor demo`` put the collectors on one of these
and keep the HTTP server on the main loop: a flood of clients, a slow client
or a long KPI request then keeps the main loop busy, never the loop that
schedules polls (see docs/api.md, "Isolation"). The demo's simulators get one
too, as a real plant's devices would not share the server's fate either.

Threads, not processes: the embedded DuckDB file admits one process, and the
API must read what the collectors write. Python's GIL is handed between
threads every few milliseconds (``sys.getswitchinterval``) and released on
every socket and disk wait, so a busy server thread delays a poll by
milliseconds, not by the length of its backlog.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """A daemon thread running its own event loop until :meth:`close`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            # Whatever is still scheduled is cancelled and given a chance to clean up.
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on this thread's loop; the future is safe to await from another loop (wrap_future)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` running on this thread's loop, from the caller's loop."""
        return await asyncio.wrap_future(self.submit(coro))

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` on this thread's loop (e.g. to set an asyncio.Event that belongs to it)."""
        self.loop.call_soon_threadsafe(callback)

    def close(self, timeout_s: float = 15.0) -> None:
        """Stop the loop (tasks still running are cancelled) and wait for the thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
