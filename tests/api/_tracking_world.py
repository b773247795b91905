"""A plant with a month of KPI ledger: one real day of history, its ledger rows re-stamped onto the month's other days.

A month of raw history takes minutes to simulate and store. The ledger holds per-shift totals, so a month of
ledger is what months and years of reporting rest on: the rows of one real production day (2026-10-14,
simulated, written through the real DuckDB store and computed by the real ``Ledger``) are copied onto every
other production date of October 2026, each copy re-stamped with the identity of the shift instance it stands
for (date, crew on shift, start and end). Crews rotate weekly, so each crew works different shifts over the
month, as on the floor. "Now" is fixed at 2026-11-20 10:00 plant time: October is closed and settled,
November runs, the months before October hold nothing (the plant was not monitored yet).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from shopfloor.api.ledger import Ledger
from shopfloor.models.calendar import ShiftInstance, shift_instances, to_ns
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.ledger import LedgerRow
from shopfloor.models.plant import Plant
from shopfloor.models.timebase import NS_PER_S
from shopfloor.simulators.history import plant_history
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore

REAL_DAY = dt.date(2026, 10, 14)
MONTH_DAYS = [dt.date(2026, 10, d) for d in range(1, 32)]
NOW_LOCAL = dt.datetime(2026, 11, 20, 10, 0)


@dataclasses.dataclass
class TrackingWorld:
    plant: Plant
    store: DuckDBStore
    annotations: AnnotationStore
    now_ns: int
    month: list[ShiftInstance]  # every shift instance of October 2026
    rows: list[LedgerRow]  # every ledger row of October 2026

    def clock_ns(self) -> int:
        return self.now_ns

    def close(self) -> None:
        self.annotations.close()
        self.store.close()


def day_instances(plant: Plant, day: dt.date) -> list[ShiftInstance]:
    start = to_ns(dt.datetime.combine(day, dt.time(0), plant.tz))
    found = shift_instances(plant.shift_calendar, plant.tz, start, start + 48 * 3600 * NS_PER_S)
    return [i for i in found if i.production_date == day]


def build(plant: Plant, path: Path) -> TrackingWorld:
    store = DuckDBStore(path / "shopfloor.duckdb", plant.plant.id)
    annotations = AnnotationStore(path / "annotations.sqlite3")
    now_ns = to_ns(NOW_LOCAL.replace(tzinfo=plant.tz))
    real = day_instances(plant, REAL_DAY)
    # from before the first shift to past the last one's closing readings and robots' response horizon
    history = plant_history(plant, real[0].start_ns - 600 * NS_PER_S, real[-1].end_ns + 3700 * NS_PER_S)
    for batch in history.batches:
        store.write(batch)
    store.flush()
    ledger = Ledger(plant, store, annotations, config=KpiConfig.of(plant), clock_ns=lambda: now_ns)
    ledger.refresh(real)
    by_shift: dict[str, list[LedgerRow]] = {}
    for row in store.read_ledger(real[0].start_ns, real[-1].end_ns):
        by_shift.setdefault(row.shift_id, []).append(row)
    month = [i for day in MONTH_DAYS for i in day_instances(plant, day)]
    copies = [
        dataclasses.replace(
            row,
            production_date=i.production_date,
            crew=i.crew,
            shift_start_ns=i.start_ns,
            shift_end_ns=i.end_ns,
        )
        for i in month
        if i.production_date != REAL_DAY
        for row in by_shift[i.shift_id]
    ]
    store.write_ledger(copies)
    rows = store.read_ledger(month[0].start_ns, month[-1].end_ns)
    assert len(rows) == len(month) * len(ledger.equipment_ids), "a row per shift and equipment of the month"
    return TrackingWorld(plant, store, annotations, now_ns, month, rows)
