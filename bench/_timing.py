"""Small timing helpers shared by the benchmarks.

The machines are shared and noisy: report the median of several repeats,
and compare against a baseline measured in the same run rather than against
absolute numbers.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_s(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs, after ``warmup`` untimed runs."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ratio_line(label: str, ratio: float, target: str, met: bool) -> str:
    """One aligned line: label, ratio, target and an honest verdict."""
    verdict = "met" if met else "NOT met"
    return f"{label:<44} {ratio:>10.1f}x   target {target:<8} {verdict}"


def time_line(label: str, seconds: float) -> str:
    unit, value = ("ms", seconds * 1e3) if seconds < 1 else ("s", seconds)
    return f"{label:<44} {value:>10.2f} {unit}"
