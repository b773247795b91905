"""How far the filling of the plant's past has come: what ``GET /api/v1/backfill`` and the display show.

A back-fill writes ledger rows (and, for the newest days, raw samples) of a
past the collectors did not see: ``shopfloor demo`` simulates the year before
it started (``cli/demo_history.py``). The serving process holds one
``BackfillProgress``; the job moves it on from its own thread, the API reads
snapshots. Where nothing is being filled (``shopfloor run``) it says "none".
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum


class BackfillState(StrEnum):
    NONE = "none"  # nothing to fill: no job, or a store that holds its past already
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"  # the process stopped before the job was done (the next start goes on)
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class BackfillSnapshot:
    state: BackfillState
    what: str  # what is being filled, for a person: "simulated history"
    days_done: int  # production days written so far
    days_total: int
    first_date: dt.date | None  # the production days filled: first_date .. last_date
    last_date: dt.date | None
    until_ns: int | None  # the past ends here (the demo's start)
    ledger_rows: int
    raw_samples: int
    elapsed_s: float | None  # since the job started (wall time), up to its end
    detail: str | None  # why it failed, or why there is nothing to fill

    @property
    def percent(self) -> float:
        return 100.0 * self.days_done / self.days_total if self.days_total else 0.0


_NOTHING = BackfillSnapshot(BackfillState.NONE, "", 0, 0, None, None, None, 0, 0, None, None)


class BackfillProgress:
    """Thread-safe: the job's thread writes, request handlers read."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._now = monotonic
        self._snapshot = _NOTHING
        self._started: float | None = None

    def snapshot(self) -> BackfillSnapshot:
        with self._lock:
            if self._snapshot.state is BackfillState.RUNNING and self._started is not None:
                return replace(self._snapshot, elapsed_s=self._now() - self._started)
            return self._snapshot

    def nothing_to_do(self, detail: str) -> None:
        with self._lock:
            self._snapshot = replace(_NOTHING, detail=detail)

    def begin(self, what: str, first_date: dt.date, last_date: dt.date, days_total: int, until_ns: int) -> None:
        if days_total <= 0:
            raise ValueError(f"days_total must be > 0, got {days_total}")
        if last_date < first_date:
            raise ValueError(f"last_date {last_date} is before first_date {first_date}")
        with self._lock:
            self._started = self._now()
            self._snapshot = BackfillSnapshot(
                BackfillState.RUNNING, what, 0, days_total, first_date, last_date, until_ns, 0, 0, 0.0, None
            )

    def day_done(self, ledger_rows: int, raw_samples: int) -> BackfillSnapshot:
        """One more production day written, with its rows and samples; returns the new state."""
        with self._lock:
            s = self._snapshot
            if s.state is not BackfillState.RUNNING:
                raise RuntimeError(f"a day was done while the back-fill is {s.state.value}, not running")
            self._snapshot = replace(
                s,
                days_done=min(s.days_done + 1, s.days_total),
                ledger_rows=s.ledger_rows + ledger_rows,
                raw_samples=s.raw_samples + raw_samples,
            )
            return self._snapshot

    def end(self, state: BackfillState, detail: str | None = None) -> BackfillSnapshot:
        """Done, stopped or failed (with why); the elapsed time stands still from here."""
        if state in (BackfillState.NONE, BackfillState.RUNNING):
            raise ValueError(f"a back-fill ends done, stopped or failed, not {state.value}")
        with self._lock:
            elapsed = None if self._started is None else self._now() - self._started
            self._snapshot = replace(self._snapshot, state=state, detail=detail, elapsed_s=elapsed)
            return self._snapshot
