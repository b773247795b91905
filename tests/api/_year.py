"""A year of ledger rows over a real DuckDB store, for the year-to-date tests: 9 March 2026's rows, re-stamped.

The world: 10 March 2026 09:00 (Asia/Shanghai), fixed. Raw samples from 9 March 05:50 on; the ledger
computes 9 March's three shifts from them (api/ledger.py), and ``restamp`` stamps those rows onto any
production dates (the tests write what they need), while the running shift comes from raw samples.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from functools import reduce
from pathlib import Path

from fastapi.testclient import TestClient

from shopfloor.api.app import create_app
from shopfloor.api.ledger import Ledger
from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.ledger import LedgerRow
from shopfloor.models.plant import Plant
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.simulators.history import plant_history
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.api.conftest import config

PRINTER = "mso-cpp-1"


@dataclasses.dataclass
class Year:
    plant: Plant
    store: DuckDBStore
    notes: AnnotationStore
    now_ns: int
    day_rows: list[LedgerRow]  # 9 March's rows, as the ledger computed them
    running_m: float  # metres of the running shift, from raw samples

    def local(self, *args: int) -> int:
        return to_ns(dt.datetime(*args, tzinfo=self.plant.tz))

    def restamp(self, first: dt.date, last: dt.date) -> list[LedgerRow]:
        """9 March's rows, stamped onto every production date first..last (the same shifts, the same totals)."""
        out = []
        day = first
        while day <= last:
            start = self.local(day.year, day.month, day.day, 6)
            for instance in shift_instances(self.plant.shift_calendar, self.plant.tz, start, start + NS_PER_DAY):
                for row in self.day_rows:
                    if row.shift_id == instance.shift_id:
                        out.append(
                            dataclasses.replace(
                                row,
                                production_date=instance.production_date,
                                crew=instance.crew,
                                shift_start_ns=instance.start_ns,
                                shift_end_ns=instance.end_ns,
                            )
                        )
            day += dt.timedelta(days=1)
        return out

    def client(self) -> TestClient:
        app = create_app(self.plant, self.store, annotations=self.notes, config=config(), clock_ns=lambda: self.now_ns)
        return TestClient(app)

    def printed(self, rows: list[LedgerRow]) -> float:
        printer_rows = sorted((r for r in rows if r.equipment_id == PRINTER), key=lambda r: r.shift_start_ns)
        return reduce(lambda a, b: a + b, (r.totals for r in printer_rows), PrinterTotals()).printed_m  # type: ignore[arg-type,return-value]  # printer rows carry PrinterTotals


@contextmanager
def year_world(plant: Plant, tmp_path: Path) -> Iterator[Year]:
    """The world above; the store and annotations close at the end."""
    tz = plant.tz
    now = to_ns(dt.datetime(2026, 3, 10, 9, tzinfo=tz))
    day_start = to_ns(dt.datetime(2026, 3, 9, 6, tzinfo=tz))
    store = DuckDBStore(tmp_path / "shopfloor.duckdb", plant.plant.id)
    notes = AnnotationStore(tmp_path / "annotations.sqlite3")
    for batch in plant_history(plant, day_start - 600 * NS_PER_S, now).batches:
        store.write(batch)
    store.flush()
    ledger = Ledger(plant, store, notes, config=KpiConfig.of(plant), clock_ns=lambda: now)
    assert len(ledger.closed_instances(day_start, now, now)) == 3, "9 March's three shifts are closed and settled"
    totals, counts = ledger.compute(day_start, day_start + NS_PER_DAY)  # as the keeper does; written by the tests
    rows = ledger.rows_of(totals, counts, notes.last_change_id(), day_start + NS_PER_DAY)
    running, _ = ledger.compute(to_ns(dt.datetime(2026, 3, 10, 6, tzinfo=tz)), now)
    running_m = sum(t.printed_m for t in running.printers[PRINTER])
    try:
        yield Year(plant, store, notes, now, rows, running_m)
    finally:
        notes.close()
        store.close()
