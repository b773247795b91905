"""Fallback simulated clock, used only while simulators/clock.py is not there.

simulators/clock.py (SimClock) is the project's clock; this twin keeps the
fleet simulator usable on its own and should be deleted once SimClock lands
everywhere. Simulated time = start + (monotonic elapsed) × time_scale.
"""

from __future__ import annotations

import time


class ScaledClock:
    def __init__(self, start_ns: int | None = None, time_scale: float = 1.0) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {time_scale!r}")
        self.time_scale = time_scale
        self._start_ns = time.time_ns() if start_ns is None else start_ns
        self._mono0_ns = time.monotonic_ns()

    def now_ns(self) -> int:
        return self._start_ns + round((time.monotonic_ns() - self._mono0_ns) * self.time_scale)
