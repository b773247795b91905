"""``shopfloor ledger rebuild``: compute the KPI ledger's rows again from raw samples, with a progress bar.

The serving process keeps the ledger by itself (api/ledger.py): it writes the
rows of closed shifts and rewrites stale ones - another plant file, an
operator's correction, late samples of the last week - within the raw
retention. A rebuild recomputes every closed shift of a range whatever its
rows say: after the ideal speed or a target changed, to see the new figures
at once and with progress; after old samples were loaded late (``shopfloor
inject``), which the serving process only looks for in the last week.

It opens the plant's store like ``shopfloor run``. The embedded DuckDB file
admits one process: stop ``shopfloor run`` for the rebuild (or leave it
running and let it rewrite the rows itself, without a progress bar). With
InfluxDB it runs beside the serving processes; rows are upserts, so two
writers of the same row leave one of two equal rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from shopfloor.api.ledger import Ledger
from shopfloor.api.timerange import iso
from shopfloor.cli.plant import add_plant_argument
from shopfloor.cli.serve import open_annotations, with_data_dir
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.ledger import plant_version
from shopfloor.models.periods import Period, period_of_date, production_date_at
from shopfloor.models.plant import Plant, load_plant
from shopfloor.store import open_store
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import SampleStore, StoreError
from shopfloor.store.diagnose import is_locked
from shopfloor.store.factory import influx_connection

BAR_WIDTH = 30
LINE_EVERY_PCT = 10  # without a terminal: a line per this much of the work, for a log file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ledger", help="the KPI ledger: compute its rows again (rebuild)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    rebuild = actions.add_parser(
        "rebuild",
        help="compute the ledger rows of every closed shift again from raw samples (after the ideal speed or a"
        " target changed)",
        description="Compute the ledger rows of every closed shift in the range again from the raw samples, with"
        " the plant file given. Production dates are plant-local; a date's shifts are those that start on it.",
    )
    add_plant_argument(rebuild)
    rebuild.add_argument(
        "--since",
        type=production_date,
        default=None,
        metavar="DATE",
        help="first production date (YYYY-MM-DD); default: the oldest raw sample kept",
    )
    rebuild.add_argument(
        "--until",
        type=production_date,
        default=None,
        metavar="DATE",
        help="last production date, included (YYYY-MM-DD); default: up to now",
    )
    rebuild.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder of the embedded store and the annotations (default: [storage.embedded] path)",
    )
    rebuild.set_defaults(func=run_rebuild)


def production_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


class Progress:
    """Shifts done of a total on ``stream``: a bar redrawn in place on a terminal, else a line every 10 %."""

    def __init__(self, total: int, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self.tty = stream.isatty()
        self._next_pct = LINE_EVERY_PCT

    def rate(self) -> float:
        elapsed = self.clock() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self, shifts: int) -> None:
        self.done += shifts
        pct = 100 * self.done // self.total
        if self.tty:
            filled = BAR_WIDTH * self.done // self.total
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} shifts, {self.rate():.1f} shifts/s")
            self.stream.flush()
        elif pct >= self._next_pct or self.done == self.total:
            self.stream.write(f"rebuild: {self.done}/{self.total} shifts ({pct} %), {self.rate():.1f} shifts/s\n")
            self.stream.flush()
            self._next_pct = (pct // LINE_EVERY_PCT + 1) * LINE_EVERY_PCT

    def finish(self) -> None:
        if self.tty and self.total:
            self.stream.write("\n")
            self.stream.flush()


def run_rebuild(args: argparse.Namespace) -> int:
    plant = with_data_dir(load_plant(args.plant), args.data_dir)
    if args.since is not None and args.until is not None and args.until < args.since:
        print(f"shopfloor ledger rebuild: --until {args.until} is before --since {args.since}", file=sys.stderr)
        return 2
    embedded = Path(plant.storage.embedded.path)
    if influx_connection(plant) is None and not embedded.exists():
        # opening would make an empty file: say where it looked instead
        raise StoreError(
            f"no DuckDB file {embedded}: nothing to rebuild (point --data-dir or [storage.embedded] path at the"
            " store `shopfloor run` writes)"
        )
    try:
        store = open_store(plant)
    except StoreError as exc:
        if is_locked(exc):
            raise StoreError(
                f"{exc}. A rebuild needs the DuckDB file to itself: stop `shopfloor run` first, or leave it running"
                " and let it rewrite the rows itself (it recomputes the rows of another plant file within"
                " [storage] raw_retention_days when it starts)"
            ) from None
        raise
    try:
        notes = open_annotations(plant)
        try:
            return rebuild(plant, store, notes, since=args.since, until=args.until)
        finally:
            notes.close()
    finally:
        store.close()


def rebuild(
    plant: Plant,
    store: SampleStore,
    annotations: AnnotationStore,
    *,
    since: dt.date | None,
    until: dt.date | None,
    stderr: TextIO | None = None,
) -> int:
    """Recompute the closed shifts of the production dates ``since``..``until`` (None: the oldest raw sample
    kept, now); progress on ``stderr``, the summary on stdout. The exit code: 0, 1 (rows still spooled), 2."""
    err = stderr or sys.stderr
    now = time.time_ns()
    ledger = Ledger(plant, store, annotations, config=KpiConfig.of(plant), clock_ns=time.time_ns)
    kept = store.raw_kept_since_ns(now)
    day = Period.DAY
    if since is not None:
        start = period_of_date(plant.shift_calendar, plant.tz, day, since).start_ns
        if kept is not None and start < kept:
            print(
                f"shopfloor ledger rebuild: raw samples before {iso(plant, kept)} are no longer kept ([storage]"
                f" raw_retention_days = {plant.storage.raw_retention_days}), so the shifts before it cannot be"
                f" computed again (their rows stay as they are): use --since {first_whole_date(plant, kept)} or"
                " later",
                file=err,
            )
            return 2
    else:
        oldest = store.oldest_raw_ns()
        found = [t for t in (oldest, kept) if t is not None]
        if not found:
            print("shopfloor ledger rebuild: the store holds no raw samples: nothing to rebuild", file=err)
            return 0
        start = max(found)
    end = now if until is None else period_of_date(plant.shift_calendar, plant.tz, day, until).end_ns
    instances = ledger.closed_instances(start, min(end, now), now)
    if not instances:
        print(
            f"no closed shift between {iso(plant, start)} and {iso(plant, min(end, now))}: nothing to rebuild",
            flush=True,
        )
        return 0
    progress = Progress(len(instances), err)
    started = time.monotonic()
    try:
        ledger.refresh(instances, progress.advance)
    finally:
        progress.finish()
    delivered = store.flush()
    seconds = time.monotonic() - started
    rows = len(instances) * len(ledger.equipment_ids)
    print(
        f"rebuilt {len(instances)} shifts ({rows:,} ledger rows), {instances[0].key} to {instances[-1].key},"
        f" in {seconds:.1f} s ({len(instances) / seconds if seconds > 0 else 0:.1f} shifts/s);"
        f" plant version {plant_version(plant)[:19]}…",
        flush=True,
    )
    if not delivered:
        spool = store.spool_backlog()
        where = f" in {spool[1]}" if spool else ""
        print(
            f"shopfloor ledger rebuild: the server has not acknowledged every row yet; they are spooled{where}"
            " and sent when it answers (the next start of any command on this spool)",
            file=err,
        )
        return 1
    return 0


def first_whole_date(plant: Plant, ns: int) -> dt.date:
    """The first production date that starts at or after ``ns``."""
    date = production_date_at(plant.shift_calendar, plant.tz, ns)
    if period_of_date(plant.shift_calendar, plant.tz, Period.DAY, date).start_ns < ns:
        date += dt.timedelta(days=1)
    return date
