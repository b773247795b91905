"""Simulated time, shared by the printer and robot-fleet simulators.

Simulated time runs ``time_scale`` times faster than the wall clock from a
chosen start: ``now_ns = start_ns + monotonic_elapsed_ns * time_scale``. The
monotonic clock is used (not the wall clock) so an NTP jump on the host never
moves simulated time backwards.

Determinism: a process model must never be advanced by "whatever time has
passed since the last wake-up" — that makes the trajectory depend on
scheduler jitter. :func:`run_fixed_steps` instead advances the model in
FIXED simulated steps (e.g. 1 s) until it has caught up with the clock. The
model therefore sees exactly the same sequence of ``advance(step_s, t_ns)``
calls for a given start and step, whatever the time scale or the load on the
machine: under one seed the trajectory as a function of simulated time is
identical run to run. Only *when* (in wall time) a step becomes visible
varies. :class:`ManualClock` removes even that, for tests.

Both are a :class:`~models.timebase.Clock`: their ``now_ns`` is the plant's
time, while waiting and scheduling stay on the machine's real clocks, so the
collectors and the API can run on the simulation's time directly.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Protocol

from shopfloor.models.timebase import NS_PER_S, Clock, SystemClock


class SimulatedClock(Clock, Protocol):
    """What a simulator needs beyond the plant's clock: where its time began and how fast it runs."""

    @property
    def start_ns(self) -> int: ...

    @property
    def time_scale(self) -> float: ...


def _check_scale(time_scale: float) -> float:
    if not (math.isfinite(time_scale) and time_scale > 0):
        raise ValueError(f"time_scale must be a positive finite number, got {time_scale!r}")
    return float(time_scale)


class SimClock(SystemClock):
    """Simulated time = ``start_ns + (monotonic wall elapsed) * time_scale``; waits on the real clocks."""

    def __init__(self, start_ns: int | None = None, time_scale: float = 1.0) -> None:
        self._time_scale = _check_scale(time_scale)
        self._start_ns = time.time_ns() if start_ns is None else int(start_ns)
        self._mono0_ns = time.monotonic_ns()

    @property
    def start_ns(self) -> int:
        """Simulated UTC epoch ns at construction."""
        return self._start_ns

    @property
    def time_scale(self) -> float:
        """Simulated seconds per wall-clock second."""
        return self._time_scale

    def now_ns(self) -> int:
        return self._start_ns + round((time.monotonic_ns() - self._mono0_ns) * self._time_scale)

    def wall_s_until(self, sim_ns: int) -> float:
        """Wall seconds until simulated time reaches ``sim_ns`` (0 if already past)."""
        return max(0.0, (sim_ns - self.now_ns()) / NS_PER_S / self._time_scale)

    def __repr__(self) -> str:
        return f"SimClock(start_ns={self._start_ns}, time_scale={self._time_scale})"


class ManualClock(SystemClock):
    """A clock that moves only when told to: deterministic tests. Waits stay on the real clocks."""

    def __init__(self, start_ns: int | None = None, time_scale: float = 1.0) -> None:
        self._time_scale = _check_scale(time_scale)
        self._start_ns = time.time_ns() if start_ns is None else int(start_ns)
        self._now_ns = self._start_ns
        # One event per stepping loop, all set on every advance, so several simulators
        # sharing this clock each catch up at once (none can clear another's wake-up).
        self._subscribers: list[asyncio.Event] = []

    @property
    def start_ns(self) -> int:
        return self._start_ns

    @property
    def time_scale(self) -> float:
        return self._time_scale

    def now_ns(self) -> int:
        return self._now_ns

    def advance(self, seconds: float) -> int:
        """Move simulated time forward; returns the new ``now_ns``."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"a clock only moves forward by a finite amount, got {seconds!r}")
        self._now_ns += round(seconds * NS_PER_S)
        for event in self._subscribers:
            event.set()
        return self._now_ns

    def wall_s_until(self, sim_ns: int) -> float:
        # Manual time never arrives by itself: wait to be woken by advance().
        return math.inf

    def subscribe(self) -> asyncio.Event:
        """An event set whenever the clock moves (for run_fixed_steps)."""
        event = asyncio.Event()
        self._subscribers.append(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        if event in self._subscribers:
            self._subscribers.remove(event)

    def __repr__(self) -> str:
        return f"ManualClock(now_ns={self._now_ns})"


def steps_due(model_ns: int, now_ns: int, step_ns: int) -> int:
    """Whole fixed steps from ``model_ns`` up to ``now_ns`` (pure)."""
    if now_ns <= model_ns:
        return 0
    return (now_ns - model_ns) // step_ns


async def run_fixed_steps(
    clock: SimulatedClock,
    step_s: float,
    advance: Callable[[float, int], None],
    stop: asyncio.Event,
    *,
    model_start_ns: int | None = None,
    max_catchup_steps: int = 10_000,
    max_wait_s: float = 0.25,
    min_wait_s: float = 0.02,
    on_caught_up: Callable[[int], None] | None = None,
) -> int:
    """Advance a model in fixed simulated steps, keeping up with ``clock``.

    ``advance(step_s, t_ns)`` is called once per step, where ``t_ns`` is the
    simulated time at the END of that step; steps are at
    ``model_start_ns + k * step_s`` exactly (integer ns, no float drift).
    After each catch-up ``on_caught_up(model_ns)`` runs (e.g. to refresh a
    Modbus datastore once, not once per step). At most ``max_catchup_steps``
    run before yielding to the event loop, so a very fast clock cannot starve
    the servers that share the loop; the backlog is worked off next round.
    Between catch-ups it sleeps at least ``min_wait_s`` wall seconds (a fast
    clock then runs several steps per wake-up instead of waking hundreds of
    times a second; the trajectory is the same either way).
    Returns the model time reached when ``stop`` is set.
    """
    step_ns = round(step_s * NS_PER_S)
    if step_ns <= 0:
        raise ValueError(f"step_s must be positive, got {step_s!r}")
    if max_catchup_steps < 1:
        raise ValueError("max_catchup_steps must be at least 1")
    model_ns = clock.start_ns if model_start_ns is None else model_start_ns
    subscribe = getattr(clock, "subscribe", None)
    moved: asyncio.Event | None = subscribe() if subscribe is not None else None
    try:
        return await _step_loop(
            clock,
            step_ns,
            step_s,
            advance,
            stop,
            model_ns,
            moved,
            max_catchup_steps,
            max_wait_s,
            min_wait_s,
            on_caught_up,
        )
    finally:
        if moved is not None:
            clock.unsubscribe(moved)  # type: ignore[attr-defined]  # a clock with subscribe() has unsubscribe() too


async def _step_loop(
    clock: SimulatedClock,
    step_ns: int,
    step_s: float,
    advance: Callable[[float, int], None],
    stop: asyncio.Event,
    model_ns: int,
    moved: asyncio.Event | None,
    max_catchup_steps: int,
    max_wait_s: float,
    min_wait_s: float,
    on_caught_up: Callable[[int], None] | None,
) -> int:
    while not stop.is_set():
        due = min(steps_due(model_ns, clock.now_ns(), step_ns), max_catchup_steps)
        for _ in range(due):
            model_ns += step_ns
            advance(step_s, model_ns)
        if due:
            if on_caught_up is not None:
                on_caught_up(model_ns)
            if due == max_catchup_steps:
                await asyncio.sleep(0)  # backlog left: let the servers breathe, then go on
                continue
        wait_s = clock.wall_s_until(model_ns + step_ns) if hasattr(clock, "wall_s_until") else step_s
        wait_s = min(max(wait_s, min_wait_s), max_wait_s)
        waiters = [asyncio.ensure_future(stop.wait())]
        if moved is not None:
            moved.clear()
            if clock.now_ns() >= model_ns + step_ns:  # advanced between the check and clear()
                waiters[0].cancel()
                continue
            waiters.append(asyncio.ensure_future(moved.wait()))
        try:
            await asyncio.wait(waiters, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
    return model_ns
