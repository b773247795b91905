"""Building printer series from a minute-by-minute schedule (test helper)."""

from __future__ import annotations

import numpy as np

from shopfloor.models.samples import Series
from shopfloor.models.states import PrinterState

NS = 1_000_000_000


def printer_fields(
    start_ns: int,
    schedule: list[tuple[float, PrinterState, int]],
    produced_m: float,
    defective_m: float,
    step_s: int = 1,
    end_pad_s: int = 1,
) -> dict[str, Series]:
    """Samples every ``step_s`` over a schedule of (minutes, state, reason) blocks.

    Metres grow linearly with running time so the shift ends with exactly
    ``produced_m`` printed, ``defective_m`` of them defective; ``end_pad_s``
    extra samples repeat the last block (one reading exactly at the end).
    """
    minutes = sum(m for m, _, _ in schedule)
    n = round(minutes * 60 / step_s) + end_pad_s
    t_s = np.arange(n, dtype=np.int64) * step_s
    state = np.empty(n)
    reason = np.zeros(n)
    edges = np.cumsum([0.0] + [m * 60 for m, _, _ in schedule])
    block = np.clip(np.searchsorted(edges, t_s, side="right") - 1, 0, len(schedule) - 1)
    state[:] = [schedule[b][1] for b in block]
    reason[:] = [schedule[b][2] for b in block]
    running_s = np.cumsum(np.r_[0, (state[:-1] == PrinterState.RUNNING) * np.diff(t_s)])
    run_total = sum(m * 60 for m, s, _ in schedule if s == PrinterState.RUNNING)
    printed = running_s * (produced_m / run_total)
    ts = start_ns + t_s * NS
    return {
        "state": Series(ts, state),
        "stop_reason": Series(ts, reason),
        "printed_m_total": Series(ts, 1000.0 + printed),
        "defective_m_total": Series(ts, 50.0 + printed * (defective_m / produced_m)),
        "energy_kwh_total": Series(ts, printed * 0.07),
        "water_l_total": Series(ts, printed * 0.15),
        "ink_consumed_kg_total": Series(ts, printed * 0.008),
    }
