"""Time as the whole system counts it: the unit constants and the one clock interface.

Every timestamp in the system is an integer of UTC epoch nanoseconds, so the
conversions to and from seconds live here once rather than in every module
that needs them.

:class:`Clock` is what the collectors, the simulators and the command line
share. ``now_ns`` is the *plant's* time: the wall clock in a real plant, a
simulation's time in the demo and in tests. Scheduling (``monotonic``,
``sleep``) is kept apart from it on purpose: a simulation may run its plant
time many times faster, or only when a test moves it, while the waits between
polls stay real, so a collector keeps its wall-clock cadence on any clock.
:class:`SystemClock`, the interface's default, only reads the machine's clocks
(no I/O), so it lives beside the interface.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

NS_PER_S = 1_000_000_000
S_PER_DAY = 86_400
NS_PER_DAY = S_PER_DAY * NS_PER_S


class Clock(Protocol):
    """The plant's time, and the machine's time to wait on."""

    def now_ns(self) -> int:
        """The plant's time in UTC epoch nanoseconds (timestamps of samples and events, "now")."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (scheduling)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clocks of the machine: plant time is the wall clock."""

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
