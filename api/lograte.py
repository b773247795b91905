"""Logging a flood of like events as one line per stretch with a count, never one line (or traceback) per event.

A client can cause an event per connection or per request (a refused connection,
a timed-out request, an accept() that ran out of file descriptors, an invalid
request): logged one by one, 20,000 connections are 20,000 lines, and with
tracebacks hundreds of megabytes. Here the first event of a stretch is logged at
once; the rest are counted and logged as one line per interval while they go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

SUMMARY_INTERVAL_S = 60.0


class Stretch:
    """The first event logs at once (``first(count)``); then at most one line per ``interval_s`` with the count
    of events since the last line (``more(count, interval_s)``), until an interval passes without one."""

    def __init__(
        self,
        first: Callable[[], None],
        more: Callable[[int, float], None],
        interval_s: float = SUMMARY_INTERVAL_S,
    ) -> None:
        self._first = first
        self._more = more
        self.interval_s = interval_s
        self.total = 0  # every event ever, for tests and metrics
        self._pending = 0
        self._timer: threading.Timer | None = None
        self._window_start = 0.0
        self._lock = threading.Lock()

    def hit(self, n: int = 1) -> bool:
        """Count ``n`` events; True if this call logged (the first of a stretch)."""
        with self._lock:
            self.total += n
            if self._timer is not None:
                self._pending += n
                return False
            self._timer = self._start_timer()
        self._first()
        return True

    def _start_timer(self) -> threading.Timer:
        self._window_start = time.monotonic()
        timer = threading.Timer(self.interval_s, self._tick)
        timer.daemon = True
        timer.start()
        return timer

    def _tick(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, 0
            # Events went on: the stretch goes on, and the next interval is watched too; else it is over.
            self._timer = self._start_timer() if pending else None
        if pending:
            self._more(pending, self.interval_s)

    def close(self) -> None:
        """Log what is pending now and stop watching (at shutdown)."""
        with self._lock:
            timer, self._timer = self._timer, None
            pending, self._pending = self._pending, 0
            elapsed = time.monotonic() - self._window_start
        if timer is not None:
            timer.cancel()
        if pending:
            self._more(pending, elapsed)


def stretch_log(logger: logging.Logger, level: int, message: str, interval_s: float = SUMMARY_INTERVAL_S) -> Stretch:
    """A Stretch that logs ``message`` once, then "``message``: N more in the last 60 s" while it goes on."""
    return Stretch(
        lambda: logger.log(level, "%s (more are counted, not logged one by one)", message),
        lambda n, s: logger.log(level, "%s: %d more in the last %.3g s", message, n, s),
        interval_s,
    )


class RepeatFilter(logging.Filter):
    """On a library's logger (uvicorn's, asyncio's): the first record of each message template passes, the
    repeats are counted and summarised once per interval. A library logs a client's misbehaviour per event."""

    _SUMMARY = "_shopfloor_summary"

    def __init__(self, interval_s: float = SUMMARY_INTERVAL_S) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._stretches: dict[tuple[str, Any], Stretch] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, self._SUMMARY, False):
            return True
        key = (record.name, record.msg if isinstance(record.msg, str) else type(record.msg))
        with self._lock:
            stretch = self._stretches.get(key)
            if stretch is None:
                if len(self._stretches) >= 1000:  # bounded: templates, not values, are the keys
                    self._stretches.clear()
                stretch = self._stretches[key] = Stretch(
                    lambda: None, self._summary(record.name, record.levelno, record.getMessage()), self.interval_s
                )
        return stretch.hit()

    def _summary(self, name: str, level: int, message: str) -> Callable[[int, float], None]:
        logger = logging.getLogger(name)

        def summary(count: int, interval_s: float) -> None:
            logger.log(
                level,
                "%s [%d more like this in the last %.3g s]",
                message,
                count,
                interval_s,
                extra={self._SUMMARY: True},
            )

        return summary

    def close(self) -> None:
        with self._lock:
            stretches = list(self._stretches.values())
            self._stretches.clear()
        for stretch in stretches:
            stretch.close()
