"""Refreshes nobody waits for: stale-while-revalidate for the caches of the KPI, breakdown and year-to-date
services. At most one refresh per key runs at a time, in the default executor (the computation itself is
synchronous and holds a computation slot); a reference to each is kept until it is done, since asyncio keeps
only weak ones."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Hashable


class BackgroundRefresh:
    def __init__(self, what: str, expected: tuple[type[Exception], ...], log: logging.Logger) -> None:
        self.what = what  # for the log: "KPI", "breakdown", "year-to-date"
        self.expected = expected  # errors the next request meets itself and answers with: logged at debug
        self.log = log
        self._lock = threading.Lock()
        self._running: set[Hashable] = set()
        self.tasks: set[asyncio.Future[None]] = set()

    def start(self, key: Hashable, refresh: Callable[[], object]) -> None:
        """Run ``refresh`` in the background unless one for ``key`` is running; call from the event loop."""
        with self._lock:
            if key in self._running:
                return
            self._running.add(key)

        def run() -> None:
            try:
                refresh()
            except self.expected as exc:
                # Nobody awaits this refresh: the next request meets the error itself (and answers with it).
                self.log.debug("background %s refresh failed: %s", self.what, exc)
            finally:
                with self._lock:
                    self._running.discard(key)

        task = asyncio.get_running_loop().run_in_executor(None, run)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
