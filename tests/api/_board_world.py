"""A known early shift of mso-cpp-1 written through the real DuckDB store: the board's answers worked out by hand.

2026-11-24/early runs 06:00-14:00 plant time (Asia/Shanghai) with a planned break 10:00-10:30; the line's ideal
speed is 100 m/min, so each hour's target is 6000 m (the break hour's 3000 m), 45 000 m in all. "Now" is fixed at
11:30. One reading a second (the gap rule allows 1.5 s), each second's metres booked at its first reading
(docs/kpi.md, "Counters"):

=====  ===========  =============================================  ==========
hour   local        what the line did                              metres
=====  ===========  =============================================  ==========
0      06-07        ran at 90 m/min                                5400
1      07-08        ran at 100, stopped 07:20-07:35 with no reason 4500
2      08-09        no readings (08:00:00 to 09:00:00): 6000 m     no data
                    printed across the gap
3      09-10        ran at 110                                     6600
4      10-11        planned break to 10:30, then ran at 90         2700
5      11-11:30     ran at 80 (the running hour)                   2400
=====  ===========  =============================================  ==========
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from shopfloor.models.calendar import to_ns
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.plant import Plant
from shopfloor.models.samples import SampleBatch
from shopfloor.models.states import PrinterState, Quality
from shopfloor.models.timebase import NS_PER_S
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore

SHIFT = "2026-11-24/early"
PRINTER = "mso-cpp-1"
NO_REASON_STOP = ((7, 20), (7, 35))
ACROSS_GAP_M = 6000.0
EXPECTED_ACTUAL = [5400.0, 4500.0, None, 6600.0, 2700.0, 2400.0, None, None]
EXPECTED_TARGET = [6000.0, 6000.0, 6000.0, 6000.0, 3000.0, 6000.0, 6000.0, 6000.0]
EXPECTED_BAND = ["amber", "red", None, "green", "amber", "red", None, None]
# 21 600 m in hours with data over their 240 planned minutes: 90 m/min; 150 planned minutes left
EXPECTED_RATE = 90.0
EXPECTED_PROJECTED = 21600.0 + ACROSS_GAP_M + 90.0 * 150


@dataclasses.dataclass
class BoardWorld:
    plant: Plant
    store: DuckDBStore
    annotations: AnnotationStore
    now_ns: int
    next_ns: int = 0  # the next reading to write
    metres: float = 1_000_000.0  # the counter's value at next_ns

    def clock_ns(self) -> int:
        return self.now_ns

    def at(self, hh: int, mm: int = 0, ss: int = 0) -> int:
        return to_ns(dt.datetime(2026, 11, 24, hh, mm, ss, tzinfo=self.plant.tz))

    def close(self) -> None:
        self.annotations.close()
        self.store.close()


def _second(w: BoardWorld, t: int) -> tuple[PrinterState, int, float]:
    """State, stop reason and speed (m/min) of the second starting at ``t``."""
    (s0h, s0m), (s1h, s1m) = NO_REASON_STOP
    if t < w.at(7):
        return PrinterState.RUNNING, 0, 90.0
    if w.at(s0h, s0m) <= t < w.at(s1h, s1m):
        return PrinterState.STOPPED, 0, 0.0
    if t < w.at(9):
        return PrinterState.RUNNING, 0, 100.0
    if t < w.at(10):
        return PrinterState.RUNNING, 0, 110.0
    if t < w.at(10, 30):
        return PrinterState.STOPPED, 2, 0.0  # planned break
    if t < w.at(11):
        return PrinterState.RUNNING, 0, 90.0
    return PrinterState.RUNNING, 0, 80.0


def build(plant: Plant, path: Path) -> BoardWorld:
    store = DuckDBStore(path / "shopfloor.duckdb", plant.plant.id)
    annotations = AnnotationStore(path / "annotations.sqlite3")
    w = BoardWorld(plant, store, annotations, 0)
    w.next_ns = w.at(5, 59)  # a minute of context before the shift
    run_until(w, w.at(11, 30))
    return w


def run_until(w: BoardWorld, end_ns: int) -> None:
    """Write the line's readings from where the last call stopped up to ``end_ns`` (inclusive); now = ``end_ns``."""
    rows = []
    t = w.next_ns
    while t <= end_ns:
        if w.at(8) < t < w.at(9):
            t = w.at(9)
            w.metres += ACROSS_GAP_M - 100.0 / 60  # the reading at 08:00:00 already booked its second
            continue
        state, reason, speed = _second(w, t)
        for field, value in (
            ("state", float(state)),
            ("stop_reason", float(reason)),
            ("speed_m_min", speed),
            ("printed_m_total", w.metres),
        ):
            rows.append((t, PRINTER, field, value, Quality.GOOD, ""))
        w.metres += speed / 60
        t += NS_PER_S
    w.store.write(SampleBatch.from_rows(MEASUREMENT_PRINTER, rows))
    w.store.flush()
    w.next_ns = t
    w.now_ns = end_ns
