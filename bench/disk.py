"""Disk use of the embedded store for the default plant: raw samples per day, the ledger per year, the steady state.

    python -m bench.disk [--days 6] [--retention 2]

What is written, through ``DuckDBStore.write`` (the collectors' path), a day at a time:

* the printer: the plant file's 16 signals polled every 0.5 s, every signal every poll, as ``shopfloor run``
  stores them (32 samples/s, 2 764 800 a day; measured in a demo run). Values from simulators/history.py at
  the registers' resolutions (float32 speeds, 0.1 °C, 0.1 m, Wh), in poll order;
* the robots: simulators/history.py's report-by-exception history of the 12 robots (state on change,
  telemetry every 10 s; about 830 000 samples a day; a demo run reports about 1.5 samples/s for a robot that
  drives or charges).

Each day the ledger rows of its shifts are written (as the serving process does) and, past ``--retention``
days, the raw samples older than that are dropped (``drop_raw_before``, as the retention pass does): the file
grows for ``--retention`` days, then stays flat, new samples filling the blocks the old ones freed.
Then a year of ledger rows (1 095 shifts x 13 equipment, the computed rows repeated) goes into a file of
its own. Printed: bytes per day of raw samples, the file in the steady state, the ledger per year, and what
that makes for the default plant (``raw_retention_days = 90``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np

from shopfloor.api.ledger import Ledger
from shopfloor.models.calendar import shift_instances, to_ns
from shopfloor.models.contract import MEASUREMENT_PRINTER
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.ledger import LedgerRow
from shopfloor.models.plant import Plant, load_plant
from shopfloor.models.samples import SampleBatch
from shopfloor.models.states import PrinterState
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S
from shopfloor.simulators.history import printer_history, robot_history
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore

POLL_S = 0.5
SHIFTS_PER_YEAR = 365 * 3
DEFAULT_RETENTION_DAYS = 90


def printer_day(plant: Plant, start_ns: int, end_ns: int, seed: int) -> list[SampleBatch]:
    """A day of the printer's 16 signals, every poll, in the order polls arrive (an hour a batch)."""
    whole_s = (end_ns - start_ns) // NS_PER_S
    (day,), _ = printer_history(plant, start_ns, end_ns, seed=seed, step_s=POLL_S, chunk_s=whole_s)
    names = list(dict.fromkeys(day.field.tolist()))
    n = len(day.ts_ns) // len(names)
    ts = day.ts_ns[:n]
    f = {name: day.value[k * n : (k + 1) * n] for k, name in enumerate(names)}
    rng = np.random.default_rng(seed + 1000)
    running = f["state"] == PrinterState.RUNNING
    fields = {
        **f,
        # float32 registers: a double with a float32's precision, as the poller decodes it
        "speed_m_min": f["speed_m_min"].astype(np.float32).astype(np.float64),
        "speed_setpoint_m_min": f["speed_setpoint_m_min"].astype(np.float32).astype(np.float64),
        "dryer_1_temp_c": np.round(f["dryer_1_temp_c"], 1),
        "dryer_2_temp_c": np.round(f["dryer_1_temp_c"] + rng.normal(0, 0.3, n), 1),
        "run_time_s_total": np.floor(np.cumsum(running) * POLL_S),
        "running": running.astype(np.float64),
        "fault_active": (f["state"] == PrinterState.FAULT).astype(np.float64),
        "emergency_stop": np.zeros(n),
    }
    order = sorted(fields)
    matrix = np.stack([fields[name] for name in order], axis=1)  # a row per poll: the poll's samples together
    per_batch = int(3600 / POLL_S)
    batches = []
    for k in range(0, n, per_batch):
        rows = matrix[k : k + per_batch]
        m = rows.size
        batches.append(
            SampleBatch(
                MEASUREMENT_PRINTER,
                np.repeat(ts[k : k + per_batch], len(order)),
                np.full(m, plant.printers[0].id, dtype=object),
                np.tile(np.array(order, dtype=object), len(rows)),
                rows.ravel(),
                np.zeros(m, dtype=np.uint8),
                np.full(m, "", dtype=object),
            )
        )
    return batches


def file_bytes(store: DuckDBStore) -> tuple[int, int]:
    """(bytes of the file, of which free) after a checkpoint."""
    return store.space(checkpoint=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=6, help="days of history to write")
    parser.add_argument("--retention", type=int, default=2, help="days of raw samples kept in the run")
    args = parser.parse_args(argv)
    if not 1 <= args.retention < args.days:
        parser.error("--retention must be at least 1 and less than --days")
    plant = load_plant()
    tz = plant.tz
    first_day = dt.datetime(2026, 1, 5, tzinfo=tz)
    day_start = [to_ns(first_day + dt.timedelta(days=k)) for k in range(args.days + 1)]
    with tempfile.TemporaryDirectory(prefix="bench-disk-") as folder:
        path = Path(folder) / "shopfloor.duckdb"
        store = DuckDBStore(path, plant.plant.id)
        notes = AnnotationStore(Path(folder) / "annotations.sqlite3")
        ledger = Ledger(plant, store, notes, config=KpiConfig.of(plant), clock_ns=lambda: day_start[-1] + NS_PER_DAY)
        empty, _ = file_bytes(store)
        rows: list[LedgerRow] = []
        samples_per_day = []
        print(f"{'day':>4} {'samples':>12} {'file MB':>9} {'free MB':>9}  (raw kept: {args.retention} days)")
        for k in range(args.days):
            a, b = day_start[k], day_start[k + 1]
            batches = printer_day(plant, a, b, seed=k) + robot_history(plant, a, b, seed=k + 100)
            for batch in batches:
                store.write(batch)
            store.flush()
            samples_per_day.append(sum(len(batch) for batch in batches))
            instances = [
                i for i in shift_instances(plant.shift_calendar, tz, a, b) if a <= i.start_ns and i.end_ns <= b
            ]
            ledger.refresh(instances)
            rows += store.read_ledger(a, b)
            if k + 1 > args.retention:
                store.drop_raw_before(day_start[k + 1 - args.retention])
            size, free = file_bytes(store)
            print(f"{k + 1:>4} {samples_per_day[-1]:>12,} {size / 1e6:>9.1f} {free / 1e6:>9.1f}", flush=True)
            if k + 1 == args.retention:
                filled = size
        steady, steady_free = file_bytes(store)
        store.close()
        notes.close()

        # A year of ledger rows in a file of its own: the computed rows repeated, a day's shifts at a time.
        year = DuckDBStore(Path(folder) / "ledger-year.duckdb", plant.plant.id)
        try:
            base, _ = file_bytes(year)
            started = time.monotonic()
            span = day_start[args.days] - day_start[0]
            pending: list[LedgerRow] = []
            for n in range(SHIFTS_PER_YEAR * 13):
                lap, index = divmod(n, len(rows))
                row = rows[index]
                pending.append(
                    dataclasses.replace(
                        row,
                        shift_start_ns=row.shift_start_ns + lap * span,
                        shift_end_ns=row.shift_end_ns + lap * span,
                        production_date=row.production_date + dt.timedelta(days=lap * args.days),
                    )
                )
                if len(pending) == 3 * 13 or n == SHIFTS_PER_YEAR * 13 - 1:
                    year.write_ledger(pending)
                    pending = []
            ledger_year = file_bytes(year)[0] - base
            seconds = time.monotonic() - started
        finally:
            year.close()

    per_day = (filled - empty) / args.retention
    samples = sum(samples_per_day) / len(samples_per_day)
    # The steady file holds the days kept, plus the day being dropped and free blocks not refilled yet: as measured.
    slack_days = steady / per_day - args.retention
    print()
    print(f"raw samples: {samples:,.0f} a day, {per_day / 1e6:.1f} MB a day ({per_day / samples:.2f} bytes a sample)")
    print(
        f"with {args.retention} days kept: the file grew to {filled / 1e6:.1f} MB in {args.retention} days and is"
        f" {steady / 1e6:.1f} MB ({steady_free / 1e6:.1f} MB of it free) after {args.days} days: {args.retention}"
        f" days of samples and {slack_days:.1f} days' worth more"
    )
    print(f"ledger: {ledger_year / 1e6:.1f} MB a year ({SHIFTS_PER_YEAR * 13:,} rows, written in {seconds:.1f} s)")
    raw_90 = per_day * (DEFAULT_RETENTION_DAYS + slack_days)
    print(
        f"default plant, raw_retention_days = {DEFAULT_RETENTION_DAYS}: raw samples {raw_90 / 1e9:.2f} GB (flat from"
        f" day {DEFAULT_RETENTION_DAYS} on) + ledger {ledger_year / 1e6:.1f} MB a year: after one year"
        f" {(raw_90 + ledger_year) / 1e9:.2f} GB, after ten {(raw_90 + 10 * ledger_year) / 1e9:.2f} GB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
