"""What every collector shares: a cadence, backoff and link state.

Kept free of any protocol so the Modbus poller and the OPC UA collector use
the same pieces. Where samples go (:class:`~models.samples.SampleSink`) and
the clock a collector runs on (:class:`~models.timebase.Clock`) belong to the
models, so the sinks and the clocks' other users need not import collectors.

* :func:`next_tick` — fixed-cadence scheduling on absolute deadlines
  ``t0 + k * interval`` (no drift; an overrun skips ticks instead of bursting).
* :class:`Backoff` — capped exponential delay between reconnect attempts.
* :class:`ConnectivityTracker` — turns "this attempt worked / failed" into
  :class:`~models.samples.ConnectivityEvent` on *changes only*, logging one
  line per change (connected / lost / recovered), never one per sample.
* :class:`GuardedSink` — a sink that never raises into a collector.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shopfloor.models.samples import ConnectivityEvent, SampleBatch, SampleSink
from shopfloor.models.timebase import NS_PER_S


class CollectorStatus(Protocol):
    """What a collector tells about itself while it runs (for /metrics)."""

    @property
    def source(self) -> str:
        """e.g. "modbus:mso-cpp-1", "opcua:fleet-a"."""
        ...

    @property
    def is_connected(self) -> bool: ...

    def counts(self) -> dict[str, int]:
        """Monotonic counters by name (polls, skipped ticks, reconnects, …), for /metrics."""
        ...


class Collector(CollectorStatus, Protocol):
    """One device link's job: ``run`` until ``stop``."""

    async def run(self, stop: asyncio.Event) -> None: ...


# --------------------------------------------------------------------------- cadence


@dataclass(frozen=True, slots=True)
class Tick:
    """The next tick to run: its index, its deadline and how many ticks were missed to get there."""

    index: int
    deadline: float
    skipped: int


def next_tick(t0: float, interval_s: float, last_index: int, now: float) -> Tick:
    """The tick after ``last_index`` on the grid ``t0 + k * interval_s``, skipping ticks already past.

    Deadlines are computed from ``t0`` rather than from "now + interval" so
    that the time a poll takes never accumulates as drift. A poll that
    overruns one or more deadlines does not trigger a burst of catch-up
    polls: the missed ticks are skipped and counted, and the next poll runs on
    the first deadline still in the future (a tick whose deadline is exactly
    now counts as still due).
    """
    if interval_s <= 0 or not math.isfinite(interval_s):
        raise ValueError(f"interval_s must be a positive number, got {interval_s}")
    candidate = last_index + 1
    # Index of the latest deadline at or before now; a few ulps of rounding
    # must not turn a due tick into a skipped one, hence the ceil on (now - t0).
    due = math.ceil((now - t0) / interval_s - 1e-9)
    index = max(candidate, due)
    return Tick(index=index, deadline=t0 + index * interval_s, skipped=index - candidate)


# --------------------------------------------------------------------------- backoff


class Backoff:
    """Capped exponential backoff: ``initial_s, initial_s*factor, …`` up to ``max_s``.

    Optional jitter (a fraction of the delay, drawn from a seeded RNG) spreads
    reconnects of many collectors after a shared outage; it is off by default
    because one collector per device gains nothing from it and tests gain
    determinism without it.
    """

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        *,
        factor: float = 2.0,
        jitter_ratio: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        if not (initial_s > 0 and math.isfinite(initial_s)):
            raise ValueError(f"initial_s must be positive, got {initial_s}")
        if not (max_s >= initial_s and math.isfinite(max_s)):
            raise ValueError(f"max_s ({max_s}) must be finite and at least initial_s ({initial_s})")
        if not factor >= 1:
            raise ValueError(f"factor must be at least 1, got {factor}")
        if not 0 <= jitter_ratio < 1:
            raise ValueError(f"jitter_ratio must be in [0, 1), got {jitter_ratio}")
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self.jitter_ratio = jitter_ratio
        self._rng = rng or random.Random()
        self.attempts = 0  # failures since the last reset
        self._current = initial_s

    def next_delay(self) -> float:
        """Delay before the next attempt, after one more failure."""
        # Grown step by step rather than as initial * factor**attempts, which
        # overflows after a long outage (a device down for a weekend).
        base = self._current
        self._current = min(self.max_s, self._current * self.factor)
        self.attempts += 1
        if self.jitter_ratio:
            base *= 1 - self.jitter_ratio * self._rng.random()
        return base

    def reset(self) -> None:
        self.attempts = 0
        self._current = self.initial_s


# --------------------------------------------------------------------------- connectivity


class GuardedSink:
    """A sink that never raises into a collector: a failure is counted, and logged once per distinct error.

    The device is fine, so collection goes on: a store refusing a batch (it
    sets the batch aside and says why) or briefly failing must not stop the
    next polls or kill a protocol library's callback loop. A sink failing on
    every batch would log every batch, so each distinct error is logged once,
    until the sink works again.
    """

    def __init__(
        self, sink: SampleSink, source: str, logger: logging.Logger, on_failure: Callable[[], None] = lambda: None
    ) -> None:
        self.inner = sink
        self.source = source
        self.failures = 0
        self._log = logger
        self._on_failure = on_failure
        self._logged: set[str] = set()  # distinct errors logged since the sink last worked

    def write(self, batch: SampleBatch) -> None:
        self._call(self.inner.write, batch, f"a batch of {len(batch)} samples")

    def write_connectivity(self, events: Sequence[ConnectivityEvent]) -> None:
        self._call(self.inner.write_connectivity, events, "a link event")

    def _call(self, call: Callable[[Any], None], item: object, what: str) -> None:
        try:
            call(item)
        except Exception as exc:  # whatever the sink raises, collection goes on
            self.failures += 1
            self._on_failure()
            error = f"{type(exc).__name__}: {exc}"
            if error not in self._logged:
                self._logged.add(error)
                self._log.error(
                    "%s: the sink refused %s (%s); collection goes on, further failures with this"
                    " error are counted, not logged",
                    self.source,
                    what,
                    error,
                )
            return
        if self._logged:
            self._log.info("%s: the sink accepts writes again (%d failed so far)", self.source, self.failures)
            self._logged.clear()


class ConnectivityTracker:
    """Link state of one collector to one device, reported on changes only.

    States: unknown (just started), connected, lost. ``connected()`` and
    ``lost()`` return an event when the state changes and ``None`` when it
    does not, so a device that stays down for an hour produces one event and
    one log line, not one per poll.
    """

    def __init__(self, equipment: str, source: str, logger: logging.Logger | None = None) -> None:
        self.equipment = equipment
        self.source = source
        self.log = logger or logging.getLogger(f"shopfloor.collectors.{source}")
        self.state: bool | None = None
        self._lost_since_ns: int | None = None
        self.changes = 0

    @property
    def is_connected(self) -> bool:
        return self.state is True

    def connected(self, ts_ns: int, detail: str = "") -> ConnectivityEvent | None:
        if self.state is True:
            return None
        if self.state is None:
            self.log.info("%s: connected to %s%s", self.source, self.equipment, f" ({detail})" if detail else "")
            detail = detail or "connected"
        else:
            down_s = (ts_ns - self._lost_since_ns) / NS_PER_S if self._lost_since_ns is not None else float("nan")
            self.log.warning("%s: recovered link to %s after %.1f s", self.source, self.equipment, down_s)
            detail = detail or f"recovered after {down_s:.1f} s"
        return self._change(ts_ns, True, detail)

    def lost(self, ts_ns: int, detail: str) -> ConnectivityEvent | None:
        if self.state is False:
            return None
        if self.state is None:
            self.log.warning("%s: cannot reach %s: %s", self.source, self.equipment, detail)
        else:
            self.log.warning("%s: lost link to %s: %s", self.source, self.equipment, detail)
        self._lost_since_ns = ts_ns
        return self._change(ts_ns, False, detail)

    def _change(self, ts_ns: int, connected: bool, detail: str) -> ConnectivityEvent:
        self.state = connected
        self.changes += 1
        return ConnectivityEvent(
            ts_ns=ts_ns, equipment=self.equipment, source=self.source, connected=connected, detail=detail
        )
