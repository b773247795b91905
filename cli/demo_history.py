"""The demo's past: the year before ``shopfloor demo`` started, simulated in the background.

The live display is up within seconds, as without a past. Meanwhile a child
process runs the simulators' process models at full speed
(``simulators/past.py``) over the production days before the demo's start,
and a thread of the serving process writes what it sends to the store (the
embedded DuckDB file admits one process):

* the days within the demo's raw retention (7 days), and today up to the
  start: one continuous simulation at the live simulators' resolution. Its
  samples are written as the collectors would have written them, and the
  ledger rows of its settled shifts are computed from the same samples in
  context, as the ledger keeper computes them from the store; the keeper
  (``api/ledger.keep_ledger``, which looks after the retention window) then
  finds them up to date: same plant version, as many samples as stored. The
  shifts that close less than the settling time before the start, and the
  running one, it computes itself from these samples and the live ones;
* every day before: a simulation of its own (seeded by the seed and the
  date), coarser (``simulators.past.COARSE``, five times faster), kept as
  ledger rows only, as a plant's past is after its raw retention.

Newest first: the recent days, then day by day back to a year ago. The
trends and the tracking page fill from today backwards, and the
year-to-date tiles (which start at the first shift the store holds data of)
reach the year's start before the oldest days are written.

Only what the store does not hold is simulated: the past ends at the demo's
start, or at the first sample, or ledger row holding data, the store already
has before it. A second run over the same data folder keeps the first
run's past and what it collected.

The child runs at a lower priority (``nice``), so the collectors' process and
the API come first on a busy machine. Progress: a log line per tenth, and
``GET /api/v1/backfill`` (the display's "history" indicator).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from shopfloor.api.backfill import BackfillProgress, BackfillState
from shopfloor.api.ledger import PRINTER_KPI_FIELDS, ROBOT_KPI_FIELDS, settle_ns, shift_sample_counts
from shopfloor.api.year_to_date import holds_data
from shopfloor.models.calendar import ShiftInstance, shift_instances
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT, ROBOT_FIELDS
from shopfloor.models.kpi import KpiConfig
from shopfloor.models.kpi.context import report_context
from shopfloor.models.kpi.fleet import FleetTotals
from shopfloor.models.kpi.printer import PrinterTotals
from shopfloor.models.kpi.report import equipment_totals
from shopfloor.models.ledger import LedgerRow, plant_version
from shopfloor.models.periods import Period, PeriodRange, period_of_date, production_date_at
from shopfloor.models.plant import Plant
from shopfloor.models.samples import SampleBatch, Series
from shopfloor.models.timebase import NS_PER_DAY, NS_PER_S, Clock
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import SampleStore, StoreError, StoreUnavailable
from shopfloor.store.duckdb_store import DuckDBStore

if TYPE_CHECKING:  # the serving process only receives recordings: the child simulates
    from shopfloor.simulators.past import Recorded

log = logging.getLogger("shopfloor.demo.history")

DEFAULT_HISTORY_DAYS = 365
WHAT = "simulated history"
# Simulated past a shift's end before its rows are computed: the robots' response horizon plus a margin, so
# every dispatch of the shift has its answer in the samples (the keeper waits as long: api/ledger.settle_ns).
LOOKAHEAD_MARGIN_NS = 600 * NS_PER_S
# Samples handed to the store at once, and between two commits: live batches keep their turn meanwhile.
WRITE_SLICE = 100_000
COMMIT_EVERY = 500_000
NICE = 10  # the child's priority below the collectors and the API
RETRY_S = 5.0  # a store that refuses rows (a full disk) is asked again this often
# Raw samples of the simulated past are written only while their disk keeps this much free after them (about
# 8 bytes a sample is generous for DuckDB's compressed columns).
RAW_DISK_RESERVE_BYTES = 1 << 30
RAW_BYTES_PER_SAMPLE = 8
SPOOLED_BYTES_PER_SAMPLE = 100  # InfluxDB line protocol waiting in the spool, generously


@dataclass(frozen=True, slots=True)
class HistoryPlan:
    """Which production days to simulate, and how."""

    start_ns: int  # the demo's start
    until_ns: int  # the past ends here: the start, or the first data the store already holds
    recent_start_ns: int  # raw samples from here (a production day's start) to until_ns
    recent_dates: tuple[dt.date, ...]  # one continuous simulation, oldest first, with raw samples
    older_dates: tuple[dt.date, ...]  # a simulation each, newest first, ledger rows only

    @property
    def days_total(self) -> int:
        return len(self.recent_dates) + len(self.older_dates)

    @property
    def first_date(self) -> dt.date | None:
        dates = self.older_dates[-1:] or self.recent_dates[:1]
        return dates[0] if dates else None

    @property
    def last_date(self) -> dt.date | None:
        dates = self.recent_dates[-1:] or self.older_dates[:1]
        return dates[0] if dates else None


def plan_history(plant: Plant, start_ns: int, days: int, raw_days: int, until_ns: int | None = None) -> HistoryPlan:
    """The ``days`` production days before the one ``start_ns`` falls in, and that one up to the start; the
    newest ``raw_days`` of them (and today) with raw samples. ``until_ns``: where the store's own data
    begins, if before the start (the past ends there)."""
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    if raw_days < 0:
        raise ValueError(f"raw_days must be >= 0, got {raw_days}")
    cal, tz = plant.shift_calendar, plant.tz
    until = start_ns if until_ns is None else min(until_ns, start_ns)
    first = production_date_at(cal, tz, start_ns) - dt.timedelta(days=days)
    if until <= _day(plant, first).start_ns:
        return HistoryPlan(start_ns, until, until, (), ())
    last = production_date_at(cal, tz, until - 1)
    recent_first = max(first, production_date_at(cal, tz, start_ns - raw_days * NS_PER_DAY))
    if recent_first <= last:
        recent, older_last = _dates(recent_first, last), recent_first - dt.timedelta(days=1)
    else:
        recent, older_last = (), last
    recent_start = _day(plant, recent[0]).start_ns if recent else until
    return HistoryPlan(start_ns, until, recent_start, recent, tuple(reversed(_dates(first, older_last))))


def _dates(first: dt.date, last: dt.date) -> tuple[dt.date, ...]:
    return tuple(first + dt.timedelta(days=k) for k in range((last - first).days + 1))


def _day(plant: Plant, date: dt.date) -> PeriodRange:
    return period_of_date(plant.shift_calendar, plant.tz, Period.DAY, date)


def day_seed(seed: int, date: dt.date, part: str) -> int:
    """A seed per simulated day (or span), the same on every machine and run."""
    digest = hashlib.sha256(f"{seed}/{part}/{date.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


# ------------------------------------------------------------------------------------------- ledger rows


def ledger_rows(
    plant: Plant,
    config: KpiConfig,
    series: dict[str, dict[str, Series]],
    instances: Sequence[ShiftInstance],
    *,
    version: str,
    annotation_version: int,
    watermark_ns: int,
    computed_ns: int,
    stored: bool,
    equipment: Collection[str] | None = None,
) -> list[LedgerRow]:
    """The rows of consecutive closed ``instances`` from samples held in memory, cut in context as a store read
    of their range is (docs/kpi.md, "Context"): the rows the ledger keeper would write from these samples.

    ``stored``: the samples go to the store too. A row says how many samples of its shift the store holds
    (``samples_read``, the keeper's test for late data): these, or none. ``equipment``: only their rows."""
    if not instances:
        return []
    start, end = instances[0].start_ns, instances[-1].end_ns
    context = report_context(plant, series, start, end, config)
    totals = equipment_totals(plant, start, end, context, (), config, throughput_period_s=None)
    wanted = {i.start_ns for i in instances}
    fleet_of = {r.id: f.id for f in plant.fleets for r in f.robots}

    def row(
        instance: ShiftInstance, equipment: str, t: PrinterTotals | FleetTotals, fields: Sequence[str]
    ) -> LedgerRow:
        have = context.get(equipment, {})
        # as the keeper counts: the samples of the fields it reads that its row rests on
        bounds = np.array([instance.start_ns], dtype=np.int64), np.array([instance.end_ns], dtype=np.int64)
        mine = {f: have[f] for f in fields if f in have}
        samples = int(shift_sample_counts(mine, *bounds, robot=equipment in fleet_of)[0])
        samples = samples if stored else 0
        return LedgerRow.for_shift(
            instance,
            equipment,
            t,
            fleet_id=fleet_of.get(equipment),
            plant_version=version,
            annotation_version=annotation_version,
            watermark_ns=watermark_ns,
            samples_read=samples,
            computed_ns=computed_ns,
        )

    rows: list[LedgerRow] = []
    for k, instance in enumerate(totals.instances):
        if instance.start_ns in wanted:
            rows += [
                row(instance, p, t[k], PRINTER_KPI_FIELDS)
                for p, t in totals.printers.items()
                if equipment is None or p in equipment
            ]
            rows += [
                row(instance, r, t[k], ROBOT_KPI_FIELDS)
                for r, t in totals.robots.items()
                if equipment is None or r in equipment
            ]
    return rows


# ------------------------------------------------------------------------------------------- the child's work


@dataclass(frozen=True)
class HistoryWork:
    """What the child simulates (picklable: it crosses to the child process)."""

    plant: Plant
    config: KpiConfig  # the demo's (a time-scaled demo widens the gap rule)
    plan: HistoryPlan
    seed: int
    annotation_version: int  # the operator corrections the rows include (none touch a simulated past)
    clock: Clock  # the plant's "now", for the rows' computed_ns


@dataclass(frozen=True, slots=True)
class DayDone:
    date: dt.date
    rows: list[LedgerRow]
    recorded: Recorded | None  # raw samples to store (the recent days only)


def simulate_history(work: HistoryWork, emit: Callable[[DayDone], None], stopping: Callable[[], bool]) -> None:
    """Simulate the plan, emitting each production day's samples (the recent days') and the ledger rows known
    by then.

    The recent days' rows are the ones the store's samples give, whenever they are computed (the keeper's,
    ``ledger rebuild``'s): an increment of a counter belongs to the shift where it starts and is closed by
    the next sample, which for a robot's report-by-exception counter (a failed session) may come days later.
    So a printer's rows (polled: closed within a poll) are computed as each day is simulated, the robots'
    once the recent days are (their samples are few); past the start, a robot's counters start again from
    its live value, a reset that adds nothing to the shifts before.
    """
    from shopfloor.simulators.past import COARSE, FINE, PastPlant, RecordingWindow, coarse_max_gap_polls

    plant, plan, config = work.plant, work.plan, work.config
    version = plant_version(plant)
    settle = settle_ns(config)
    lookahead = round(config.response_horizon_s * NS_PER_S) + LOOKAHEAD_MARGIN_NS
    printer_ids = frozenset(p.id for p in plant.printers)
    robot_ids = frozenset(r.id for f in plant.fleets for r in f.robots)

    def closed(start_ns: int, end_ns: int) -> list[ShiftInstance]:
        # whole shifts inside [start, end), settled by the end of the past (later ones are the keeper's)
        return [
            i
            for i in shift_instances(plant.shift_calendar, plant.tz, start_ns, end_ns)
            if i.start_ns >= start_ns and i.end_ns <= end_ns and i.end_ns + settle <= plan.until_ns
        ]

    def rows(
        run_config: KpiConfig,
        series: dict[str, dict[str, Series]],
        instances: list[ShiftInstance],
        watermark: int,
        *,
        stored: bool,
        equipment: frozenset[str],
    ) -> list[LedgerRow]:
        if not instances:
            return []
        return ledger_rows(
            plant,
            run_config,
            series,
            instances,
            version=version,
            annotation_version=work.annotation_version,
            watermark_ns=watermark,
            computed_ns=work.clock.now_ns(),
            stored=stored,
            equipment=equipment,
        )

    if plan.recent_dates:
        past = PastPlant(
            plant,
            plan.recent_start_ns,
            seed=day_seed(work.seed, plan.recent_dates[0], "recent"),
            max_gap_polls=config.max_gap_polls,
            resolution=FINE,
        )
        printers, robots = RecordingWindow(), RecordingWindow()  # what the rows read: the KPI fields only
        pending = closed(plan.recent_start_ns, plan.until_ns)
        for date in plan.recent_dates:
            if stopping():
                return
            end = min(_day(plant, date).end_ns, plan.until_ns)
            recorded = past.advance(end)
            printers.add(recorded.only(PRINTER_KPI_FIELDS, printers=True))
            robots.add(recorded.only(ROBOT_KPI_FIELDS, printers=False))
            last = end == plan.until_ns
            ready = [i for i in pending if i.end_ns < end or last]  # a poll at or after the end closes it
            pending = [i for i in pending if i not in ready]
            done = rows(config, printers.series(), ready, end, stored=True, equipment=printer_ids)
            if last:
                every = closed(plan.recent_start_ns, plan.until_ns)
                done += rows(config, robots.series(), every, end, stored=True, equipment=robot_ids)
            emit(DayDone(date, done, recorded))
            printers.forget_before(min([i.start_ns for i in pending], default=end))
    coarse = dataclasses.replace(
        config, max_gap_polls=coarse_max_gap_polls(plant, config.max_gap_polls, COARSE.printer_step_s)
    )
    counters = [f.name for f in ROBOT_FIELDS if f.counter]
    for date in plan.older_dates:
        if stopping():
            return
        day = _day(plant, date)
        past = PastPlant(
            plant,
            day.start_ns,
            seed=day_seed(work.seed, date, "day"),
            max_gap_polls=coarse.max_gap_polls,
            resolution=COARSE,
        )
        recorded = past.advance(day.end_ns + lookahead)  # the robots' answers to the day's last dispatches
        # A day of its own has no next day: its robots' counters are read at its end, as a poll would (their
        # next change, and the increment it would close, belong to no simulated day).
        series = {
            e: read_at(fields, counters, day.end_ns) if e in robot_ids else fields
            for e, fields in recorded.series.items()
        }
        emit(
            DayDone(
                date,
                rows(
                    coarse,
                    series,
                    closed(day.start_ns, day.end_ns),
                    recorded.end_ns,
                    stored=False,
                    equipment=printer_ids | robot_ids,
                ),
                None,
            )
        )


def read_at(fields: dict[str, Series], names: Sequence[str], t_ns: int) -> dict[str, Series]:
    """``fields`` with each of ``names`` ending in a reading at ``t_ns`` of the value it holds then."""
    out = dict(fields)
    for name in names:
        s = fields.get(name)
        if s is None or not len(s.ts_ns):
            continue
        k = int(np.searchsorted(s.ts_ns, t_ns, side="right"))
        if k == 0:
            continue  # nothing read by then
        out[name] = Series(
            np.append(s.ts_ns[:k][s.ts_ns[:k] < t_ns], np.int64(t_ns)),
            np.append(s.value[:k][s.ts_ns[:k] < t_ns], s.value[k - 1]),
        )
    return out


def _child_main(
    work: HistoryWork, data: multiprocessing.connection.Connection, control: multiprocessing.connection.Connection
) -> None:
    # Ctrl-C reaches the whole process group; the serving process decides when the history stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):  # POSIX; elsewhere the child runs at the usual priority
        with contextlib.suppress(OSError):
            os.nice(NICE)
    stop = threading.Event()

    def watch_parent() -> None:
        with contextlib.suppress(EOFError, OSError):
            control.recv()  # "stop", or EOF when the serving process is gone
        stop.set()

    threading.Thread(target=watch_parent, name="history-control", daemon=True).start()
    try:
        simulate_history(work, lambda day: data.send(("day", day)), stop.is_set)
        data.send(("done",))
    except (BrokenPipeError, EOFError):
        pass  # the serving process is gone
    except Exception as exc:  # the reason goes to the serving process, which logs it and shows it
        with contextlib.suppress(OSError):
            data.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        data.close()


# ------------------------------------------------------------------------------------------- the serving side


def first_data_ns(plant: Plant, store: SampleStore, since_ns: int, until_ns: int) -> int | None:
    """The earliest sample, or ledger row holding data, the store has in [since_ns, until_ns)."""
    found: list[int] = []
    equipment = [p.id for p in plant.printers] + [r.id for f in plant.fleets for r in f.robots]
    # rows are written for every equipment of a shift at once: one equipment's tell where they begin
    rows = store.read_ledger(since_ns, until_ns, equipment[:1]) if equipment else []
    first = next((r.shift_start_ns for r in rows if holds_data(r)), None)
    if first is not None:
        found.append(first)
    for measurement, ids in (
        (MEASUREMENT_PRINTER, [p.id for p in plant.printers]),
        (MEASUREMENT_ROBOT, [r.id for f in plant.fleets for r in f.robots]),
    ):
        if ids:
            # read in context, the first sample at or after since_ns comes back as the closing neighbour
            series = store.read_series_in_context(measurement, ids, ["state"], since_ns, since_ns + 1)
            for fields in series.values():
                ts = fields["state"].ts_ns
                inside = ts[(ts >= since_ns) & (ts < until_ns)]
                if len(inside):
                    found.append(int(inside[0]))
    return min(found, default=None)


class DemoHistory:
    """The serving side: plans, starts the child, writes what it sends, keeps ``progress`` and the log."""

    def __init__(self, plant: Plant, config: KpiConfig, *, start_ns: int, days: int, seed: int, clock: Clock) -> None:
        if days < 0:
            raise ValueError(f"history days must be >= 0, got {days}")
        self.plant = plant
        self.config = config
        self.start_ns = start_ns
        self.days = days
        self.seed = seed
        self.clock = clock
        self.progress = BackfillProgress()
        self._stop = threading.Event()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._control: multiprocessing.connection.Connection | None = None
        self._reader: threading.Thread | None = None
        self.finished = threading.Event()  # set when the job has ended, whatever the way (tests wait on it)
        self._raw_skipped = False

    async def start(self, store: SampleStore, annotations: AnnotationStore) -> None:
        """Plan against what the store holds and start the child; returns at once (the work is in the background)."""
        if self.days == 0:
            self.progress.nothing_to_do("no simulated past was asked for (--history-days 0)")
            self.finished.set()
            return
        raw_days = self.plant.storage.raw_retention_days
        earliest = plan_history(self.plant, self.start_ns, self.days, raw_days)
        if earliest.first_date is None:
            self.progress.nothing_to_do("no production day lies before the start")
            self.finished.set()
            return
        since = _day(self.plant, earliest.first_date).start_ns
        try:
            held = await asyncio.to_thread(first_data_ns, self.plant, store, since, self.start_ns)
            annotation_version = await asyncio.to_thread(annotations.last_change_id)
        except StoreError as exc:
            # the live plant goes on without a past; the store says what is wrong with it
            log.warning("history: cannot read what the store holds (%s); no simulated past this run", exc)
            self.progress.end(BackfillState.FAILED, f"cannot read what the store holds: {exc}")
            self.finished.set()
            return
        plan = plan_history(self.plant, self.start_ns, self.days, raw_days, held)
        if plan.first_date is None or plan.last_date is None:
            detail = "the store holds its past already"
            log.info("history: %s (data from %s on); nothing simulated", detail, _local(self.plant, held))
            self.progress.nothing_to_do(detail)
            self.finished.set()
            return
        work = HistoryWork(self.plant, self.config, plan, self.seed, annotation_version, self.clock)
        self.progress.begin(WHAT, plan.first_date, plan.last_date, plan.days_total, plan.until_ns)
        log.info(
            "history: simulating %d production days (%s to %s) in the background, newest first: raw samples and"
            " ledger rows for the last %d, ledger rows before; the live display is up meanwhile",
            plan.days_total,
            plan.first_date,
            plan.last_date,
            len(plan.recent_dates),
        )
        context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        data_in, data_out = context.Pipe(duplex=False)
        control_in, self._control = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child_main, args=(work, data_out, control_in), name="shopfloor-history", daemon=True
        )
        self._process.start()
        data_out.close()
        control_in.close()
        self._reader = threading.Thread(target=self._read, args=(data_in, store), name="history-writer", daemon=True)
        self._reader.start()

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the child (at the end of the day it is simulating) and the writer; the store stays open."""
        self._stop.set()
        if self._control is not None:
            with contextlib.suppress(OSError):
                self._control.send("stop")
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, timeout_s)
        if self._process is not None:
            await asyncio.to_thread(self._process.join, 5)
            if self._process.is_alive():
                self._process.terminate()
                await asyncio.to_thread(self._process.join, 5)
        if self._control is not None:
            self._control.close()

    # ------------------------------------------------------------------ the writer thread

    def _read(self, data: multiprocessing.connection.Connection, store: SampleStore) -> None:
        ending: tuple[BackfillState, str | None] = (BackfillState.STOPPED, "stopped before it was done")
        started = time.monotonic()
        tenth = 0
        try:
            while not self._stop.is_set():
                try:
                    message = data.recv()
                except (EOFError, OSError):
                    if not self._stop.is_set():
                        ending = (BackfillState.FAILED, "the history process ended before it was done")
                    break
                if message[0] == "day":
                    day: DayDone = message[1]
                    samples = self.write_day(store, day)
                    if samples is None:
                        break  # stopping while the store refused
                    state = self.progress.day_done(len(day.rows), samples)
                    if int(10 * state.days_done / state.days_total) > tenth:
                        tenth = int(10 * state.days_done / state.days_total)
                        log.info(
                            "history: %.0f %% (%d/%d days; %s done), %.0f s",
                            state.percent,
                            state.days_done,
                            state.days_total,
                            day.date,
                            time.monotonic() - started,
                        )
                elif message[0] == "done":
                    ending = (BackfillState.DONE, None)
                    break
                elif message[0] == "error":
                    ending = (BackfillState.FAILED, message[1])
                    break
        finally:
            data.close()
            final = self.progress.end(*ending)
            elapsed = time.monotonic() - started
            if final.state is BackfillState.DONE:
                log.info(
                    "history: %d days in %.0f s: %s ledger rows, %s raw samples",
                    final.days_done,
                    elapsed,
                    f"{final.ledger_rows:,}",
                    f"{final.raw_samples:,}",
                )
            elif final.state is BackfillState.FAILED:
                log.error("history: failed after %d of %d days: %s", final.days_done, final.days_total, final.detail)
            else:
                log.info("history: stopped after %d of %d days", final.days_done, final.days_total)
            self.finished.set()

    def write_day(self, store: SampleStore, day: DayDone) -> int | None:
        """Samples first (the rows say how many the store holds), then the rows; returns the samples written, or
        None when stopping before the store took them."""
        samples = 0
        rows = day.rows
        if day.recorded is not None and not self._room_for(store, day.recorded.samples):
            # kept as rows only, which then say the store holds none of their samples (as it does not)
            rows = [dataclasses.replace(r, samples_read=0) for r in rows]
        elif day.recorded is not None:
            since_commit = 0
            for batch in day.recorded.batches():
                for a in range(0, len(batch), WRITE_SLICE):
                    piece = _slice(batch, a, a + WRITE_SLICE)
                    if not self._retrying(functools.partial(store.write, piece)):
                        return None
                    samples += len(piece)
                    since_commit += len(piece)
                    if since_commit >= COMMIT_EVERY:
                        if not self._retrying(store.flush):
                            return None
                        since_commit = 0
            if not self._retrying(store.flush):
                return None
        if rows and not self._retrying(functools.partial(store.write_ledger, rows)):
            return None
        return samples

    def _room_for(self, store: SampleStore, samples: int) -> bool:
        """Whether the disk the samples land on keeps RAW_DISK_RESERVE_BYTES free after them: the embedded
        store's file, or InfluxDB's local spool (line protocol, until it is sent). A demo's simulated past
        never fills a disk: if it would, it is kept as ledger rows only."""
        if isinstance(store, DuckDBStore):
            directory, per_sample = store.path.parent, RAW_BYTES_PER_SAMPLE
        else:
            backlog = store.spool_backlog()
            if backlog is None:
                return True  # nothing kept on this machine
            directory, per_sample = backlog[1], SPOOLED_BYTES_PER_SAMPLE
        try:
            free = shutil.disk_usage(directory).free
        except OSError:
            return True  # the store says so itself if it cannot write
        if free >= RAW_DISK_RESERVE_BYTES + samples * per_sample:
            return True
        if not self._raw_skipped:
            self._raw_skipped = True
            log.info(
                "history: %s MB free in %s: the simulated days are kept as ledger rows, without raw samples",
                f"{free / 1e6:,.0f}",
                directory,
            )
        return False

    def _retrying(self, action: Callable[[], object]) -> bool:
        """Run ``action`` until the store takes it (False: stopping first). A full disk is said by the store."""
        warned = False
        while True:
            try:
                action()
                return True
            except StoreUnavailable:
                pass  # a full disk: the store says so itself, once per stretch
            except StoreError as exc:
                if not warned:
                    log.warning("history: the store refuses writes now (%s); retrying every %.0f s", exc, RETRY_S)
                    warned = True
            if self._stop.wait(RETRY_S):
                return False


def _slice(batch: SampleBatch, a: int, b: int) -> SampleBatch:
    return SampleBatch(
        batch.measurement,
        batch.ts_ns[a:b],
        batch.equipment[a:b],
        batch.field[a:b],
        batch.value[a:b],
        batch.quality[a:b],
        batch.detail[a:b],
        batch.fleet,
    )


def _local(plant: Plant, ns: int | None) -> str:
    if ns is None:
        return "-"
    return dt.datetime.fromtimestamp(ns / NS_PER_S, plant.tz).isoformat(timespec="seconds")
