"""Logging a lasting failure as three kinds of line, never one line (or traceback) per failed attempt.

A full disk makes the flusher fail every second and every request fail with
it; logging each would bury the one line that says what is wrong. An
:class:`OutageLog` says it once when the failure starts, once a period while
it lasts (with how many attempts failed since the last line), and once when
it ends. The period and the clock are injectable so tests need not wait a
minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

DEFAULT_PERIOD_S = 60.0


class OutageLog:
    def __init__(
        self,
        logger: logging.Logger,
        subject: str,
        *,
        period_s: float = DEFAULT_PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.subject = subject
        self.period_s = period_s
        self.failures = 0  # failed attempts since the store was opened
        self.lines = 0  # lines logged (what tests count)
        self._log = logger
        self._clock = clock
        self._lock = threading.Lock()
        self._started: float | None = None
        self._last_line = 0.0
        self._since_line = 0  # failures since the last line
        self._during = 0  # failures during the current outage
        self._ended: float | None = None  # when the last end line was logged
        self._told = False  # a line was logged about the current outage (a relapse may have none yet)
        self.reason: str | None = None

    @property
    def active(self) -> bool:
        return self._started is not None

    def failed(self, reason: str, state: str = "") -> None:
        """One more failed attempt; ``state`` (e.g. what waits in memory) is appended to a logged line."""
        with self._lock:
            now = self._clock()
            self.failures += 1
            self._during += 1
            self._since_line += 1
            self.reason = reason
            tail = f"; {state}" if state else ""
            if self._started is None:
                self._started = self._last_line = now
                self._since_line = 0
                self._told = self._ended is None or now - self._ended >= self.period_s
                if self._told:
                    self._emit(logging.ERROR, "%s: %s%s", self.subject, reason, tail)
            elif now - self._last_line >= self.period_s:
                self._told = True
                self._emit(
                    logging.ERROR,
                    "%s: still failing after %.0f s (%d failed attempts in the last %.0f s): %s%s",
                    self.subject,
                    now - self._started,
                    self._since_line,
                    now - self._last_line,
                    reason,
                    tail,
                )
                self._last_line = now
                self._since_line = 0

    def recovered(self, state: str = "") -> None:
        """An attempt succeeded: the end line, if a failure was going on."""
        with self._lock:
            if self._started is None:
                return
            if self._told:  # a relapse that ended before anything was said about it ends silently too
                now = self._clock()
                self._emit(
                    logging.WARNING,
                    "%s: works again after %.0f s and %d failed attempts%s",
                    self.subject,
                    now - self._started,
                    self._during,
                    f"; {state}" if state else "",
                )
                self._ended = now
            self._started = None
            self._during = self._since_line = 0
            self.reason = None

    def _emit(self, level: int, msg: str, *args: object) -> None:
        self.lines += 1
        self._log.log(level, msg, *args)
