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
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shopfloor.api.timerange import TimeRange
from shopfloor.models.contract import MEASUREMENT_PRINTER, MEASUREMENT_ROBOT
from shopfloor.models.kpi import KpiConfig, KpiReport, Throughput, build_report, outage_spans, printer_throughput
from shopfloor.models.kpi.overrides import apply_reason_overrides
from shopfloor.models.plant import Plant
from shopfloor.models.samples import Series
from shopfloor.models.timebase import NS_PER_DAY
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.base import SampleStore, StoreError

log = logging.getLogger("shopfloor.api.kpi")

PRINTER_KPI_FIELDS = (
    "state",
    "stop_reason",
    "printed_m_total",
    "defective_m_total",
    "energy_kwh_total",
    "water_l_total",
    "ink_consumed_kg_total",
)
ROBOT_KPI_FIELDS = ("state", "energy_delivered_kwh_total", "sessions_completed_total", "sessions_failed_total")
CACHE_ENTRIES = 32
# At most this many KPI computations at once (one per core): a burst of distinct 31-day requests queues
# instead of holding 31 days of arrays each in memory at the same time.
MAX_CONCURRENT_COMPUTATIONS = 2
CONNECTIVITY_LOOKBACK_NS = 7 * NS_PER_DAY
COMPLETED_RANGE_TTL_FACTOR = 30  # a range that has ended changes only with late data or annotations
STALE_FACTOR = 5  # an expired report this many lifetimes old is still served while it is recomputed


@dataclass(frozen=True, slots=True)
class _Entry:
    made_monotonic: float
    report: KpiReport


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
        self._revalidating: set[tuple[int, int, int]] = set()
        self._background: set[asyncio.Future[None]] = set()
        self._printer_ids = [p.id for p in plant.printers]
        self._robot_ids = [r.id for f in plant.fleets for r in f.robots]
        self._link_ids = self._printer_ids + [f.id for f in plant.fleets]

    def check_store(self) -> None:
        """503 while the store cannot keep what is collected (a full disk), even for a cached report: the
        figures would silently miss what is not being stored, and a person has to act."""
        error = self.store.health().error()
        if error is not None:
            raise error

    def report(self, rng: TimeRange) -> KpiReport:
        """The KPI report of ``rng`` (the running shift is computed up to now)."""
        self.check_store()
        key = (rng.start_ns, rng.nominal_end_ns, self.annotations.version)
        with self._lock:
            entry = self._fresh(key)
            if entry is not None:
                return entry.report
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # concurrent requests for one range wait for one computation
            with self._lock:
                entry = self._fresh(key)
            if entry is not None:
                return entry.report
            report = self.compute(rng.start_ns, rng.nominal_end_ns)  # clipped to now inside
            with self._lock:
                self._cache[key] = _Entry(time.monotonic(), report)
                self._cache.move_to_end(key)
                while len(self._cache) > CACHE_ENTRIES:
                    old, _ = self._cache.popitem(last=False)
                    self._key_locks.pop(old, None)
            return report

    def throughput(self, printer_id: str, rng: TimeRange, period_s: float) -> Throughput:
        """Metres per bucket of ``period_s`` over ``rng`` from the stored counter (uncached: one field, one
        printer, bounded by the caller's bucket limit)."""
        self.check_store()
        printer = self.plant.printer(printer_id)
        end_ns = min(rng.nominal_end_ns, self.clock_ns())
        with self._slots:
            fields = self.store.read_series(
                MEASUREMENT_PRINTER, [printer_id], ["printed_m_total"], rng.start_ns, end_ns
            ).get(printer_id, {})
            events = self.store.read_connectivity([printer_id], rng.start_ns - CONNECTIVITY_LOOKBACK_NS, end_ns)
            outages = outage_spans(events, printer_id, rng.start_ns, end_ns)
            return printer_throughput(printer, fields, rng.start_ns, end_ns, period_s, outages, self.config)

    def cached(self, rng: TimeRange) -> KpiReport | None:
        """The cached report if fresh, without blocking (lets an async route skip the thread pool)."""
        with self._lock:
            entry = self._fresh((rng.start_ns, rng.nominal_end_ns, self.annotations.version))
        return None if entry is None else entry.report

    async def report_async(self, rng: TimeRange) -> KpiReport:
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
                return entry.report
            if age <= ttl * STALE_FACTOR:
                self._revalidate(rng, key)
                return entry.report
        return await asyncio.to_thread(self.report, rng)

    def _revalidate(self, rng: TimeRange, key: tuple[int, int, int]) -> None:
        with self._lock:
            if key in self._revalidating:
                return
            self._revalidating.add(key)

        def run() -> None:
            try:
                self.report(rng)
            except StoreError as exc:
                # Nobody awaits this refresh: the next request meets the error itself (and answers 503).
                log.debug("background KPI refresh failed: %s", exc)
            finally:
                with self._lock:
                    self._revalidating.discard(key)

        task = asyncio.get_running_loop().run_in_executor(None, run)
        self._background.add(task)  # keep a reference until done (asyncio holds only weak ones)
        task.add_done_callback(self._background.discard)

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
        # The running shift: the caller clipped end to "now" when it resolved the range;
        # re-clip here so a cached range computed later still never reaches the future.
        end_ns = min(end_ns, self.clock_ns())
        with self._slots:
            return self._compute(start_ns, end_ns)

    def _compute(self, start_ns: int, end_ns: int) -> KpiReport:
        series: dict[str, dict[str, Series]] = {}
        if self._printer_ids:
            printers = self.store.read_series(
                MEASUREMENT_PRINTER, self._printer_ids, PRINTER_KPI_FIELDS, start_ns, end_ns
            )
            overrides = self.annotations.overrides(self._printer_ids, start_ns, end_ns)
            for pid, fields in printers.items():
                mine = [o for o in overrides if o.equipment == pid]
                if mine:
                    fields = dict(fields)
                    fields["stop_reason"] = apply_reason_overrides(fields["stop_reason"], mine, end_ns)
                series[pid] = fields
        if self._robot_ids:
            series.update(
                self.store.read_series(MEASUREMENT_ROBOT, self._robot_ids, ROBOT_KPI_FIELDS, start_ns, end_ns)
            )
        # Events from before the range too: a link that went down yesterday and is still down makes
        # the start of this range "no data" (the core clips every outage to the range).
        events = self.store.read_connectivity(self._link_ids, start_ns - CONNECTIVITY_LOOKBACK_NS, end_ns)
        self.computations += 1
        return build_report(self.plant, start_ns, end_ns, series, events, self.config)
