"""The one module that calls the KPI core (``models.kpi.build_report``).

It reads the series the core needs from the store, applies operator
stop-reason overrides (store/annotations.py) to each printer's
``stop_reason`` series, reads connectivity events, and runs the core. Results
are cached for a moment keyed by the range and the annotation version: the
display, the live snapshot and every client of the scoreboard ask for the same
current-shift report, and the core's work should be done once per second,
not once per request. A correction made by an operator bumps the annotation
version, so the next request recomputes at once (it never gets a stale report
from before its own correction).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shopfloor.api.background import BackgroundRefresh
from shopfloor.api.ledger import Ledger, ReportBasis, compose, read_inputs
from shopfloor.api.raw_window import raw_kept, require_raw
from shopfloor.api.timerange import TimeRange
from shopfloor.models.kpi import KpiConfig, KpiReport, Throughput, outage_spans, printer_throughput
from shopfloor.models.kpi.context import OPEN_END_NS
from shopfloor.models.kpi.report import HourlyThroughput, assemble_report
from shopfloor.models.plant import Plant
from shopfloor.models.timebase import NS_PER_DAY
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import SampleStore, StoreError

log = logging.getLogger("shopfloor.api.kpi")

CACHE_ENTRIES = 32
# At most this many KPI computations at once (one per core): a burst of distinct 31-day requests queues
# instead of holding 31 days of arrays each in memory at the same time.
MAX_CONCURRENT_COMPUTATIONS = 2
# Hourly throughput is part of a report up to this long (raw samples); longer ranges are summed per shift.
HOURLY_MAX_NS = 7 * NS_PER_DAY
COMPLETED_RANGE_TTL_FACTOR = 30  # a range that has ended changes only with late data or annotations
STALE_FACTOR = 5  # an expired report this many lifetimes old is still served while it is recomputed


@dataclass(frozen=True, slots=True)
class _Entry:
    made_monotonic: float
    report: KpiReport
    basis: ReportBasis  # what the report rests on: ledger rows, raw samples, rows of another plant file


class KpiService:
    def __init__(
        self,
        plant: Plant,
        store: SampleStore,
        annotations: AnnotationStore,
        *,
        config: KpiConfig = KpiConfig(),
        cache_s: float = 1.0,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.plant = plant
        self.clock_ns = clock_ns
        self.store = store
        self.annotations = annotations
        self.config = config
        self.cache_s = cache_s
        self._cache: OrderedDict[tuple[int, int, int], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[int, int, int], threading.Lock] = {}
        self.computations = 0  # for tests and metrics: how often the core really ran
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_COMPUTATIONS)
        self._refresh = BackgroundRefresh("KPI", (StoreError,), log)
        self._printer_ids = [p.id for p in plant.printers]
        self._robot_ids = [r.id for f in plant.fleets for r in f.robots]
        self._link_ids = self._printer_ids + [f.id for f in plant.fleets]
        self.ledger = Ledger(plant, store, annotations, config=config, clock_ns=clock_ns)
        self.last_basis: ReportBasis | None = None  # what the last computed report rested on (tests, logs)

    def check_store(self) -> None:
        """503 while the store cannot keep what is collected (a full disk), even for a cached report: the
        figures would silently miss what is not being stored, and a person has to act."""
        error = self.store.health().error()
        if error is not None:
            raise error

    def report(self, rng: TimeRange) -> KpiReport:
        """The KPI report of ``rng`` (the running shift is computed up to now)."""
        return self.report_and_basis(rng)[0]

    def report_and_basis(self, rng: TimeRange) -> tuple[KpiReport, ReportBasis]:
        """The KPI report of ``rng`` and what it rests on (shown to readers: a report on stale rows says so)."""
        self.check_store()
        key = (rng.start_ns, rng.nominal_end_ns, self.annotations.version)
        with self._lock:
            entry = self._fresh(key)
            if entry is not None:
                return entry.report, entry.basis
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # concurrent requests for one range wait for one computation
            with self._lock:
                entry = self._fresh(key)
            if entry is not None:
                return entry.report, entry.basis
            report, basis = self.compute_with_basis(rng.start_ns, rng.nominal_end_ns)  # clipped to now inside
            with self._lock:
                self._cache[key] = _Entry(time.monotonic(), report, basis)
                self._cache.move_to_end(key)
                while len(self._cache) > CACHE_ENTRIES:
                    old, _ = self._cache.popitem(last=False)
                    self._key_locks.pop(old, None)
            return report, basis

    def throughput(self, printer_id: str, rng: TimeRange, period_s: float) -> Throughput:
        """Metres per bucket of ``period_s`` over ``rng`` from the stored counter, read in context (uncached: one
        field, one printer, bounded by the caller's bucket limit)."""
        self.check_store()
        printer = self.plant.printer(printer_id)
        now_ns = self.clock_ns()
        end_ns = min(rng.nominal_end_ns, now_ns)
        require_raw(self.plant, self.store, rng.start_ns, now_ns, "a throughput")
        with self._slots:
            inputs = read_inputs(
                self.plant, self.store, self.annotations, rng.start_ns, end_ns, self.config, ("printed_m_total",), ()
            )
            outages = outage_spans(inputs.events, printer_id, rng.start_ns, OPEN_END_NS)
            fields = inputs.series.get(printer_id, {})
            return printer_throughput(printer, fields, rng.start_ns, end_ns, period_s, outages, self.config)

    def computation_slot(self) -> threading.BoundedSemaphore:
        """One of the MAX_CONCURRENT_COMPUTATIONS slots: held by whatever computes KPIs from the store."""
        return self._slots

    def cached(self, rng: TimeRange) -> KpiReport | None:
        """The cached report if fresh, without blocking (lets an async route skip the thread pool)."""
        with self._lock:
            entry = self._fresh((rng.start_ns, rng.nominal_end_ns, self.annotations.version))
        return None if entry is None else entry.report

    async def report_async(self, rng: TimeRange) -> KpiReport:
        """For async routes: see ``report_and_basis_async``."""
        return (await self.report_and_basis_async(rng))[0]

    async def report_and_basis_async(self, rng: TimeRange) -> tuple[KpiReport, ReportBasis]:
        """For async routes: a fresh cached report without touching the thread pool; an expired one (up to
        STALE_FACTOR x its lifetime old) at once while one recomputation runs in the background
        (stale-while-revalidate: no request waits for the core on the hot path); otherwise computed now."""
        key = (rng.start_ns, rng.nominal_end_ns, self.annotations.version)
        with self._lock:
            entry = self._cache.get(key)
            age = None if entry is None else time.monotonic() - entry.made_monotonic
            ttl = None if entry is None else self._ttl(key, entry)
        if entry is not None and age is not None and ttl is not None:
            if age <= ttl:
                return entry.report, entry.basis
            if age <= ttl * STALE_FACTOR:
                self._refresh.start(key, lambda: self.report(rng))
                return entry.report, entry.basis
        return await asyncio.to_thread(self.report_and_basis, rng)

    def _fresh(self, key: tuple[int, int, int]) -> _Entry | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        return None if time.monotonic() - entry.made_monotonic > self._ttl(key, entry) else entry

    def _ttl(self, key: tuple[int, int, int], entry: _Entry) -> float:
        completed = key[1] <= entry.report.end_ns  # computed up to its nominal end: the range is over
        return self.cache_s * (COMPLETED_RANGE_TTL_FACTOR if completed else 1)

    def compute(self, start_ns: int, end_ns: int) -> KpiReport:
        """Uncached: read, apply overrides, run the core."""
        return self.compute_with_basis(start_ns, end_ns)[0]

    def compute_with_basis(self, start_ns: int, end_ns: int) -> tuple[KpiReport, ReportBasis]:
        """Uncached, and what the report rests on."""
        # The running shift: the caller clipped end to "now" when it resolved the range;
        # re-clip here so a cached range computed later still never reaches the future.
        end_ns = min(end_ns, self.clock_ns())
        with self._slots:
            return self._compute(start_ns, end_ns)

    def _compute(self, start_ns: int, end_ns: int) -> tuple[KpiReport, ReportBasis]:
        """Closed shifts from the ledger, the rest from raw samples read in context (api/ledger.py)."""
        now_ns = self.clock_ns()
        totals, basis = compose(self.ledger, start_ns, end_ns, now_ns)
        # Hourly metres are read from raw samples: left out (null), as for long ranges, where they are gone.
        if end_ns - start_ns <= HOURLY_MAX_NS and raw_kept(self.store, start_ns, now_ns):
            hourly: dict[str, HourlyThroughput] = {}
            inputs = read_inputs(
                self.plant, self.store, self.annotations, start_ns, end_ns, self.config, ("printed_m_total",), ()
            )
            for p in self.plant.printers:
                outages = outage_spans(inputs.events, p.id, start_ns, OPEN_END_NS)
                tp = printer_throughput(p, inputs.series.get(p.id, {}), start_ns, end_ns, 3600.0, outages, self.config)
                hourly[p.id] = HourlyThroughput(
                    tuple(int(e) for e in tp.edges_ns),
                    tuple(None if v != v else float(v) for v in tp.amount),
                    tp.across_gap,
                )
            totals = dataclasses.replace(totals, throughput=hourly)
        self.computations += 1
        self.last_basis = basis
        return assemble_report(self.plant, start_ns, end_ns, totals, self.config), basis
